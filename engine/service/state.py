"""What one service process holds: settings, database, token verifier, rule base, cards.

Built once at start-up (FastAPI lifespan), shared by every request of the process. The CPU
part of a hook call (FHIR reading, evaluation, cards, the response's JSON) runs on a small
pool of threads of their own (``State.run``), each with its evaluator (a durable_rules
runtime serves only the thread that built it), over one compiled rule base: the core
packs, every installed plugin's packs and the service's order-sign pack. The pool is small
on purpose: this work holds the GIL, so more threads would not be faster, and each
evaluator holds its own engine state (memory stays flat whatever the load)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from jdm_cds.evaluate import Evaluator, Guidance
from jdm_cds.language.compiler import RuleBase
from jdm_cds.language.rulebase import load_rulebase
from jdm_cds.model.assessment import Assessment
from jdm_cds.model.patient import Patient
from jdm_cds.plugins.manager import Plugins
from jdm_cds.service.auth import Verifier
from jdm_cds.service.cards import CardMaker
from jdm_cds.service.database import Store
from jdm_cds.service.patients import read_mapping
from jdm_cds.service.settings import Settings

EVALUATION_THREADS = 2
_POOL_PREFIX = "evaluate"
T = TypeVar("T")
SERVICE_PACKS = Path(str(resources.files("jdm_cds.service.packs")))


def service_pack_paths() -> list[Path]:
    return sorted(SERVICE_PACKS.glob("*.yaml"))


@dataclass
class State:
    settings: Settings
    store: Store
    verifier: Verifier
    rulebase: RuleBase
    guidance: Guidance
    cards: CardMaker
    _local: threading.local = field(default_factory=threading.local)
    _pool: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(max_workers=EVALUATION_THREADS,
                                                   thread_name_prefix=_POOL_PREFIX))

    @classmethod
    def build(cls, settings: Settings) -> State:
        plugins = Plugins.load()
        rulebase = load_rulebase([*plugins.sources(),
                                  *((path, None) for path in service_pack_paths())])
        versions = {info.name: info.version for info in plugins.info() if info.version}
        store = Store(settings.database_url)
        read_mapping()
        return cls(settings, store, Verifier(settings, store), rulebase, plugins.guidance,
                   CardMaker(rulebase, versions))

    async def run(self, work: Callable[..., T], *args: Any) -> T:
        """``work(*args)`` on the evaluation pool: the whole CPU part of a request is one
        hop off the event loop, and requests are served in the order they came (the pool
        queue), rather than interleaved on many threads that share one GIL."""
        return await asyncio.get_running_loop().run_in_executor(self._pool, work, *args)

    def evaluate(self, patient: Patient, at: date,
                 draft_orders: Iterable[str] = ()) -> Assessment:
        """Judge ``patient`` with this pool thread's evaluator (call it inside ``run``)."""
        evaluator: Evaluator | None = getattr(self._local, "evaluator", None)
        if evaluator is None:
            if not threading.current_thread().name.startswith(_POOL_PREFIX):
                raise RuntimeError("State.evaluate runs on the evaluation pool (State.run)")
            evaluator = self._local.evaluator = Evaluator(self.rulebase, self.guidance)
        return evaluator.evaluate(patient, at, draft_orders=tuple(draft_orders))

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self.store.close()
