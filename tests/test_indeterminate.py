"""``indeterminate`` exactly when data could still change the answer (property test).

For generated patients with missing values, every judgement of the core packs is checked
against the definition, with completions of the missing data as the oracle:

- a ``met`` or ``not_met`` judgement stays put for every completion tried: each missing
  measurement (and each unknown prednisone dose inside an active course, each missing
  weight beside a dose in mg/day) filled in at every visit up to the evaluation date;
- an ``indeterminate`` judgement reaches two different decided statuses among the
  completions (met for some and not_met for another, or, where whether it applies is
  itself open, met or not_met for one and not_applicable for another). Completions then
  also include the missing structure the answer may wait for: a later visit inside an
  open window (the patient evaluated at that visit), a visit inside a closed window that
  holds none, or a baseline visit when there is none.

The completions fill each missing value with the most or the least favourable value of
its scale, per visit and field, in several patterns (all favourable, all unfavourable,
before/after the JAK-inhibitor start, and seeded mixtures): the bounds of every rule are
reached at the ends of the scales.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import pytest
from campaign import FUZZ, campaign
from hypothesis import given, settings
from hypothesis import strategies as st
from longitudinal import START, evaluator

from jdm_cds.model.patient import Patient

DECIDED = ("met", "not_met", "not_applicable")
# Field -> (favourable, unfavourable) ends of its scale, and values written in generated
# visits (threshold edges included).
SCALES: dict[str, tuple[float, float, list[float]]] = {
    "ck_u_l": (20.0, 20000.0, [90.0, 150.0, 151.0, 900.0]),
    "cmas": (52.0, 0.0, [30.0, 47.0, 48.0, 52.0]),
    "mmt8": (80.0, 0.0, [60.0, 77.0, 78.0, 80.0]),
    "physician_global_vas": (0.0, 10.0, [0.0, 0.2, 0.3, 6.0]),
    "das_skin": (0.0, 9.0, [0.0, 3.0]),
    "parent_global_vas": (0.0, 10.0, [0.0, 5.0, 10.0]),
    "extramuscular_vas": (0.0, 10.0, [0.0, 5.0, 10.0]),
    "chaq": (0.0, 3.0, [0.0, 1.5, 3.0]),
    "das_total": (0.0, 20.0, [0.0, 10.0, 20.0]),
    "ifn_alpha_fg_ml": (5.0, 5000.0, [5.0, 50.0, 900.0]),
}
# The score's fallback measures (CMAS for MMT8, DAS total for the extramuscular VAS) are
# the pack's choice of instrument, not missing data: a completion that recorded only the
# preferred one where the fallback decided would change which instrument is scored. The
# generator records each pair together (both or neither), so that no completion does.
PARTNERS = {"mmt8": "cmas", "extramuscular_vas": "das_total"}
DAYS = [-30, -2, 0, 30, 90, 150, 183, 184, 250, 400]
WINDOW = 183  # cid.within_6_months: day 0 to day 183 of the JAK inhibitor
FAVOURABLE_DOSE, UNFAVOURABLE_DOSE = 0.1, 1.0  # mg/kg/day
FAVOURABLE_WEIGHT, UNFAVOURABLE_WEIGHT = 100.0, 10.0  # kg beside a dose in mg/day


def day(n: int) -> str:
    return (START + dt.timedelta(days=n)).isoformat()


def generate(rng: random.Random) -> tuple[dict[str, Any], dt.date]:
    """A patient file (as data) with gaps, and an evaluation date on or after its first visit."""
    treatments: list[dict[str, Any]] = []
    if rng.random() < 0.85:
        jak: dict[str, Any] = {"drug": rng.choice(["ruxolitinib", "baricitinib"]),
                               "start": day(0)}
        if rng.random() < 0.2:
            jak["stop"] = day(rng.choice([100, 200, 300]))
        treatments.append(jak)
    for drug, start in (("prednisone", -200), ("plasma_exchange", -90),
                        ("methotrexate", -300), ("immunoadsorption", -60)):
        if rng.random() < 0.5:
            course: dict[str, Any] = {"drug": drug, "start": day(start)}
            if rng.random() < 0.25:
                course["stop"] = day(rng.choice([30, 120, 300]))
            if drug == "prednisone" and rng.random() < 0.3:
                course["dose_mg_per_day"] = rng.choice([5.0, 20.0])
            treatments.append(course)
    visits = []
    for n in sorted(rng.sample(DAYS, rng.randint(1, 5))):
        visit: dict[str, Any] = {"date": day(n)}
        for name, (_, _, values) in SCALES.items():
            if name not in PARTNERS.values() and rng.random() < 0.6:
                visit[name] = rng.choice(values)
                if name in PARTNERS:  # a fallback pair is recorded together (see above)
                    visit[PARTNERS[name]] = rng.choice(SCALES[PARTNERS[name]][2])
        dose = rng.random()
        if dose < 0.3:
            visit["prednisone_mg_per_kg_day"] = rng.choice([0.0, 0.1, 0.2, 0.5, 1.0])
        elif dose < 0.5:
            visit["prednisone_mg_per_day"] = rng.choice([0.0, 5.0, 20.0])
        if rng.random() < 0.5:
            visit["weight_kg"] = rng.choice([20.0, 40.0])
        visits.append(visit)
    first = dt.date.fromisoformat(visits[0]["date"])
    last = dt.date.fromisoformat(visits[-1]["date"])
    at = rng.choice([dt.date.fromisoformat(v["date"]) for v in visits]) + dt.timedelta(
        days=rng.choice([0, 0, 0, 10, 60]))
    return {"id": "gen", "antibodies": [rng.choice(["anti-MDA5", "anti-NXP2", "anti-TIF1g"])],
            "treatments": treatments, "visits": visits}, max(first, min(at, last
                                                                      + dt.timedelta(60)))


def _dose_unknown(data: dict[str, Any], on: dt.date, at: dt.date) -> bool:
    """A visit on ``on`` that records no prednisone dose has an unknown one: a prednisone
    course without a dose of its own is active on ``on``, or no prednisone course is listed
    while a visit up to ``at`` records a dose."""
    courses = [t for t in data["treatments"] if t["drug"] == "prednisone"]
    if not courses:
        return any(("prednisone_mg_per_kg_day" in v or "prednisone_mg_per_day" in v)
                   and dt.date.fromisoformat(v["date"]) <= at for v in data["visits"])
    return any("dose_mg_per_day" not in t
               and dt.date.fromisoformat(t["start"]) <= on
               and ("stop" not in t or dt.date.fromisoformat(t["stop"]) > on)
               for t in courses)


def complete(data: dict[str, Any], at: dt.date, choose: Any) -> dict[str, Any]:
    """Every missing value of the visits up to ``at`` filled; ``choose(visit day, field)``
    says True for the favourable end of the scale, False for the unfavourable one (None:
    a dose of 0; "skip": left missing)."""
    visits = []
    for visit in data["visits"]:
        on = dt.date.fromisoformat(visit["date"])
        filled = dict(visit)
        if on <= at:
            n = (on - START).days
            for name, (good, bad, _) in SCALES.items():
                side = choose(n, name)
                if name not in filled and side != "skip":
                    filled[name] = good if side else bad
            dosed = "prednisone_mg_per_kg_day" in filled or "prednisone_mg_per_day" in filled
            if not dosed and _dose_unknown(data, on, at):
                dose = choose(n, "dose")
                filled["prednisone_mg_per_kg_day"] = (
                    0.0 if dose is None else FAVOURABLE_DOSE if dose else UNFAVOURABLE_DOSE)
            if "weight_kg" not in filled:  # for a dose in mg/day, at the visit or on a course
                filled["weight_kg"] = (FAVOURABLE_WEIGHT if choose(n, "weight")
                                       else UNFAVOURABLE_WEIGHT)
        visits.append(filled)
    return {**data, "visits": visits}


def value_completions(data: dict[str, Any], at: dt.date, rng: random.Random
                      ) -> list[dict[str, Any]]:
    patterns = [lambda n, f: True, lambda n, f: False,
                lambda n, f: n > 0, lambda n, f: n <= 0,
                lambda n, f: None if f == "dose" else True,  # a course tapered to 0
                # Only the fallback of a pair recorded (CMAS, DAS total): it is then scored.
                lambda n, f: "skip" if f in PARTNERS else n > 0,
                lambda n, f: "skip" if f in PARTNERS else n <= 0,
                lambda n, f: "skip" if f == "mmt8" else n > 0,
                lambda n, f: "skip" if f == "extramuscular_vas" else n > 0]
    for _ in range(4):
        seed = rng.random()
        patterns.append(lambda n, f, seed=seed: random.Random(f"{seed}{n}{f}").random() < 0.5)
    return [complete(data, at, pattern) for pattern in patterns]


def _visit(n: int, favourable: bool) -> dict[str, Any]:
    values = {name: (good if favourable else bad) for name, (good, bad, _) in SCALES.items()}
    return {"date": day(n), **values, "weight_kg": 40.0,
            "prednisone_mg_per_kg_day": FAVOURABLE_DOSE if favourable else UNFAVOURABLE_DOSE}


def structural_completions(data: dict[str, Any], at: dt.date
                           ) -> list[tuple[dict[str, Any], dt.date]]:
    """The visits an open answer may wait for, each with the date to evaluate at."""
    jak = any(t["drug"] in ("ruxolitinib", "baricitinib") for t in data["treatments"])
    if not jak:
        return []
    n_at = (at - START).days
    known = [v for v in data["visits"] if dt.date.fromisoformat(v["date"]) <= at]
    dates = {v["date"] for v in known}
    out: list[tuple[dict[str, Any], dt.date]] = []

    def added(visit: dict[str, Any], when: dt.date, base: list[dict[str, Any]]
              ) -> tuple[dict[str, Any], dt.date]:
        kept = [v for v in base if v["date"] != visit["date"]]
        return {**data, "visits": sorted([*kept, visit], key=lambda v: v["date"])}, when

    for favourable in (True, False):
        base = complete({**data, "visits": known}, at, lambda n, f, x=favourable: x)["visits"]
        if 0 <= n_at < WINDOW:  # a later visit inside the open window
            later = n_at + 1
            out.append(added(_visit(later, favourable), START + dt.timedelta(later), base))
            out.append(added(_visit(WINDOW, favourable), START + dt.timedelta(WINDOW + 1),
                             base))
        in_window = [d for d in dates if 0 <= (dt.date.fromisoformat(d) - START).days <= WINDOW]
        if n_at >= WINDOW and not in_window:  # a closed window that holds no visit
            out.append(added(_visit(90, favourable), at, base))
        if not any((dt.date.fromisoformat(d) - START).days <= 0 for d in dates) and n_at >= 0:
            for first in (True, False):  # a baseline visit
                out.append(added(_visit(0, first), at, base))
    return out


def statuses(data: dict[str, Any], at: dt.date) -> dict[str, str]:
    assessment = evaluator().evaluate(Patient.model_validate(data), at)
    return {key: j.status for key, j in assessment.judgements.items()}


@pytest.mark.fuzz
@settings(campaign(2000, 20000), derandomize=not FUZZ)
@given(seed=st.integers(0, 2**32 - 1))
def test_indeterminate_exactly_when_data_could_change_the_answer(seed: int) -> None:
    rng = random.Random(seed)
    data, at = generate(rng)
    found = statuses(data, at)
    by_values = [statuses(c, at) for c in value_completions(data, at, rng)]
    for key, status in found.items():
        if status in ("met", "not_met"):
            moved = {s[key] for s in by_values} - {status}
            assert not moved, (f"{key} is {status} but a completion of the missing values "
                               f"makes it {moved}: {data} at {at}")
    open_keys = [key for key, status in found.items() if status == "indeterminate"]
    if not open_keys:
        return
    reached = [*by_values, *(statuses(c, when) for c, when in structural_completions(data, at))]
    for key in open_keys:
        decided = {s[key] for s in reached} & set(DECIDED)
        assert len(decided) >= 2 and decided & {"met", "not_met"}, (
            f"{key} is indeterminate but every completion tried gives {decided or 'no answer'}:"
            f" {data} at {at}")
