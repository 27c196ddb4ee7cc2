"""The ``jdm-cds`` command line (``app`` is its entry point)."""

from jdm_cds.collector import lasting

with lasting():  # typer, rich and every command: objects that live as long as the process
    from jdm_cds.cli.app import app

__all__ = ["app"]
