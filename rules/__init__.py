"""The core rule packs, shipped as package data (``jdm_cds.rules``): YAML only, no code."""
