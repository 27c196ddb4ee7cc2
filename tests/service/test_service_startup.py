"""What a worker does once at start-up (in-process: the app's ASGI lifespan)."""

from __future__ import annotations

import asyncio
import gc
from pathlib import Path
from typing import Any

from jdm_cds.service.app import create_app
from jdm_cds.service.settings import Settings


async def _after_start_up(app: Any) -> tuple[int, Any]:
    """The freeze count and the service state once start-up is complete; then shut down."""
    messages: asyncio.Queue[dict[str, str]] = asyncio.Queue()
    started = asyncio.Event()

    async def send(message: dict[str, Any]) -> None:
        assert not message["type"].endswith(".failed"), message
        if message["type"] == "lifespan.startup.complete":
            started.set()

    await messages.put({"type": "lifespan.startup"})
    running = asyncio.create_task(app({"type": "lifespan", "asgi": {"version": "3.0"}},
                                      messages.get, send))
    await started.wait()
    result = gc.get_freeze_count(), app.state.service
    await messages.put({"type": "lifespan.shutdown"})
    await running
    return result


def test_start_up_objects_are_kept_out_of_full_collections(tmp_path: Path) -> None:
    """The rule base and everything else start-up built live as long as the worker: they are
    frozen (gc.freeze), so that no full collection walks them again during requests."""
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'service.sqlite3'}")
    gc.unfreeze()
    try:
        frozen, state = asyncio.run(_after_start_up(create_app(settings)))
        assert frozen > 10_000
        assert all(tracked is not state for tracked in gc.get_objects())
    finally:
        gc.unfreeze()
