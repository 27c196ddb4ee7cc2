"""The ``jdm-cds`` command line: ``app``, the typer application (``commands.py``), and the
program the ``jdm-cds`` script runs (``program.main``), which runs ``evaluate FILE...``
without typer and everything else through ``app``.

``app`` is imported when first asked for, so that the program's own path imports no typer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jdm_cds.cli.commands import app


def __getattr__(name: str) -> Any:
    if name != "app":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from jdm_cds.collector import lasting

    with lasting():  # typer, rich and every command: objects that live as long as the process
        from jdm_cds.cli.commands import app
    globals()["app"] = app
    return app


__all__ = ["app"]
