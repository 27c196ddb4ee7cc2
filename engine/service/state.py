"""What one service process holds: settings, database, token verifier, rule base, cards.

Built once at start-up (FastAPI lifespan), shared by every request of the process. Evaluations
run on a small pool of threads of their own, each with its evaluator (a durable_rules
runtime serves only the thread that built it), over one compiled rule base: the core
packs, every installed plugin's packs and the service's order-sign pack. The pool is small
on purpose: evaluation holds the GIL, so more threads would not be faster, and each
evaluator holds its own engine state (memory stays flat whatever the request threads).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from pathlib import Path

from jdm_cds.evaluate import Evaluator, Guidance
from jdm_cds.language.compiler import RuleBase
from jdm_cds.language.rulebase import load_rulebase
from jdm_cds.model.assessment import Assessment
from jdm_cds.model.patient import Patient
from jdm_cds.plugins.manager import Plugins
from jdm_cds.service.auth import Verifier
from jdm_cds.service.cards import CardMaker
from jdm_cds.service.database import Store
from jdm_cds.service.settings import Settings

EVALUATION_THREADS = 2
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
                                                   thread_name_prefix="evaluate"))

    @classmethod
    def build(cls, settings: Settings) -> State:
        plugins = Plugins.load()
        rulebase = load_rulebase([*plugins.sources(),
                                  *((path, None) for path in service_pack_paths())])
        versions = {info.name: info.version for info in plugins.info() if info.version}
        store = Store(settings.database_url)
        return cls(settings, store, Verifier(settings, store), rulebase, plugins.guidance,
                   CardMaker(rulebase, versions))

    def evaluate(self, patient: Patient, at: date,
                 draft_orders: Iterable[str] = ()) -> Assessment:
        """Judge ``patient`` on the evaluation pool (blocks the calling request thread)."""
        orders = tuple(draft_orders)
        return self._pool.submit(self._evaluate, patient, at, orders).result()

    def _evaluate(self, patient: Patient, at: date, orders: tuple[str, ...]) -> Assessment:
        evaluator: Evaluator | None = getattr(self._local, "evaluator", None)
        if evaluator is None:
            evaluator = self._local.evaluator = Evaluator(self.rulebase, self.guidance)
        return evaluator.evaluate(patient, at, draft_orders=orders)

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self.store.close()
