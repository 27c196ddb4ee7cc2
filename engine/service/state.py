"""What one service process holds: settings, database, token verifier, rule base, cards.

Built once at start-up (FastAPI lifespan), shared by every request of the process, with one
evaluator over one compiled rule base (the core packs, every installed plugin's packs and the
service's order-sign pack): its engine state is the process's only one, so memory stays flat
whatever the load.

The CPU part of a hook call (token check, FHIR reading, evaluation, cards, the response's
JSON) runs on the event loop's thread, one call at a time in the order the calls arrived, with
a poll of the sockets between two (``turns.py``, whose ``Turns`` this holds): this work holds
the GIL, so no thread would run it faster, and a thread of its own competed with the event
loop for the GIL. The loop then waited up to the interpreter's switch interval (5 ms) for each
answer to send and each request to read, and answers left in batches: under 50 busy clients
a worker's 90th percentile of latency was 1.4 times its median, against 1.14 times on the
loop (one 20 s run each). A FHIR server's answer is awaited off the loop (on a thread). The
loop does wait for a write to the database while the other worker holds its lock, and for a
third-party plugin's hook, which runs on a thread within its budget (2 s): a plugin slow at
every call slows its whole worker, where with the pool it held one of two threads; such a
plugin is for the operator to disable."""

from __future__ import annotations

from collections.abc import Iterable
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
from jdm_cds.service.patients import read_mapping
from jdm_cds.service.settings import Settings
from jdm_cds.service.turns import Turns

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
    evaluator: Evaluator
    turns: Turns = field(default_factory=Turns)

    @classmethod
    def build(cls, settings: Settings) -> State:
        plugins = Plugins.load()
        rulebase = load_rulebase([*plugins.sources(),
                                  *((path, None) for path in service_pack_paths())])
        versions = {info.name: info.version for info in plugins.info() if info.version}
        store = Store(settings.database_url)
        read_mapping()
        # Built here, not by the first call: a worker that says it serves has its engine.
        return cls(settings, store, Verifier(settings, store), rulebase, plugins.guidance,
                   CardMaker(rulebase, versions), Evaluator(rulebase, plugins.guidance))

    def evaluate(self, patient: Patient, at: date,
                 draft_orders: Iterable[str] = ()) -> Assessment:
        """Judge ``patient``."""
        return self.evaluator.evaluate(patient, at, draft_orders=tuple(draft_orders))

    def close(self) -> None:
        self.store.close()
