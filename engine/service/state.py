"""What one service process holds: settings, database, token verifier, rule base, cards.

Built once at start-up (FastAPI lifespan), shared by every request of the process. The
evaluator is per thread (a durable_rules runtime serves only the thread that built it),
over one compiled rule base: the core packs, every installed plugin's packs and the
service's order-sign pack.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from jdm_cds.evaluate import Evaluator, Guidance
from jdm_cds.language.compiler import RuleBase
from jdm_cds.language.rulebase import load_rulebase
from jdm_cds.plugins.manager import Plugins
from jdm_cds.service.auth import Verifier
from jdm_cds.service.cards import CardMaker
from jdm_cds.service.database import Store
from jdm_cds.service.settings import Settings

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

    @classmethod
    def build(cls, settings: Settings) -> State:
        plugins = Plugins.load()
        rulebase = load_rulebase([*plugins.sources(),
                                  *((path, None) for path in service_pack_paths())])
        versions = {info.name: info.version for info in plugins.info() if info.version}
        store = Store(settings.database_url)
        return cls(settings, store, Verifier(settings, store), rulebase, plugins.guidance,
                   CardMaker(rulebase, versions))

    def evaluator(self) -> Evaluator:
        evaluator: Evaluator | None = getattr(self._local, "evaluator", None)
        if evaluator is None:
            evaluator = self._local.evaluator = Evaluator(self.rulebase, self.guidance)
        return evaluator

    def close(self) -> None:
        self.store.close()
