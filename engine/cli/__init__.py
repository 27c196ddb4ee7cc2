"""The ``jdm-cds`` command line (``app`` is its entry point)."""

from jdm_cds.cli.app import app

__all__ = ["app"]
