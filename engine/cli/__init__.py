"""The ``jdm-cds`` command line (``app`` is its entry point)."""

import gc

# As for the package (jdm_cds/__init__.py): the command line's imports (typer, rich, every
# command) build objects that live as long as the process; the collector is paused meanwhile
# and they are frozen.
_collecting = gc.isenabled()
gc.disable()
try:
    from jdm_cds.cli.app import app
finally:
    gc.freeze()
    if _collecting:
        gc.enable()

__all__ = ["app"]
