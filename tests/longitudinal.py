"""Builders shared by the tests of the longitudinal packs (window, response, withdrawal,
safety, timeline): patients written in a few lines, judged by the core packs only."""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

from jdm_cds.evaluate import Evaluator
from jdm_cds.language.rulebase import core_pack_paths, load_rulebase
from jdm_cds.model.assessment import Assessment, Judgement
from jdm_cds.model.patient import Patient

START = dt.date(2021, 1, 1)  # JAK-inhibitor start in every built patient

# A visit in CID as the study defines it (PRINTO 4/4 and skin DAS 0).
CID = {"ck_u_l": 90.0, "cmas": 50.0, "mmt8": 79.0, "physician_global_vas": 0.1,
       "das_skin": 0.0}
# A visit clearly not in CID (PRINTO 0/4, active skin).
ACTIVE = {"ck_u_l": 900.0, "cmas": 30.0, "mmt8": 60.0, "physician_global_vas": 6.0,
          "das_skin": 5.0}
# CID cannot be decided: two PRINTO criteria met, the other two not measured.
UNCLEAR = {"ck_u_l": 90.0, "physician_global_vas": 0.1, "das_skin": 0.0}
JAK = {"drug": "ruxolitinib", "start": START.isoformat()}


def day(n: int) -> dt.date:
    """The date ``n`` days after the JAK-inhibitor start."""
    return START + dt.timedelta(days=n)


def visit(n: int, **fields: Any) -> dict[str, Any]:
    return {"date": day(n).isoformat(), **fields}


def patient(*visits: dict[str, Any], treatments: list[dict[str, Any]] | None = None,
            **extra: Any) -> Patient:
    return Patient.model_validate({
        "id": extra.pop("id", "p1"),
        "treatments": [JAK] if treatments is None else treatments,
        "visits": list(visits), **extra,
    })


@functools.cache
def evaluator() -> Evaluator:
    """The core packs only: plugins must not change what these tests check."""
    return Evaluator(load_rulebase((path, None) for path in core_pack_paths()))


def assess(p: Patient, at: dt.date | None = None) -> Assessment:
    return evaluator().evaluate(p, at)


def judge(p: Patient, rule: str, at: dt.date | None = None) -> Judgement:
    return assess(p, at).judgements[rule]
