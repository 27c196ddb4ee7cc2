"""Imports whose objects live as long as the process, kept out of the cyclic collector."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def lasting() -> Iterator[None]:
    """Run the block (imports; a command's engine) with the cyclic collector paused, then
    freeze what it built.

    Importing the package or the command line builds tens of thousands of objects that live
    as long as the process (pydantic's validators and models, the rule types, typer and rich;
    a command's rule base, engine and plugins) and next to no garbage: the collector, run
    every few hundred allocations, would walk them again and again (about a tenth of the
    start-up of a command). Frozen (``gc.freeze``), they are kept out of every later
    collection, as the service does after its start-up;
    re-enabled without it, the next collection would walk them all at once.
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if collecting:
            gc.enable()
