"""Build the evaluator of a run: core rule packs plus those of installed plugins."""

from __future__ import annotations

import functools

from engine.evaluate import Evaluator
from engine.rulebase import core_pack_paths, load_rulebase


@functools.cache
def default_evaluator() -> Evaluator:
    """The evaluator with every installed pack, built once per process."""
    return Evaluator(load_rulebase((path, None) for path in core_pack_paths()))
