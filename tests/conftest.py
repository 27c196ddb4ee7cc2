"""Puts tests/ on the import path (pytest inserts the folder of a conftest.py), so that the
helpers here (campaign.py, longitudinal.py, ...) import from tests in sub-folders too, also
when a sub-folder is run alone (``pytest tests/hostile``)."""
