"""response.acr_eular_2016: the 2016 ACR/EULAR Total Improvement Score, band edge by band edge.

Every follow-up value below is written so that its percent change is an exact decimal:
exactly on an edge scores the band below (upper edges are inclusive), 0.1 point above
scores the band above.
"""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from longitudinal import JAK, START, assess, day, judge, patient, visit

from jdm_cds.facts.improvement import Change, choose_measure, percent_change

RULE = "response.acr_eular_2016"

# Baseline of every domain; a follow-up equal to it changes nothing and scores 0.
BASELINE: dict[str, float] = {
    "physician_global_vas": 10.0, "parent_global_vas": 10.0, "mmt8": 40.0, "cmas": 20.0,
    "chaq": 3.0, "ck_u_l": 1000.0, "extramuscular_vas": 10.0, "das_total": 20.0,
}


def scored(follow_up: dict[str, Any], baseline: dict[str, Any] | None = None,
           drop: tuple[str, ...] = ()) -> dict[str, Any]:
    """Evaluate baseline (day 0) against a follow-up at day 90; return the TIS working."""
    base = {**BASELINE, **(baseline or {})}
    after = {**BASELINE, **follow_up}
    for name in drop:
        after.pop(name, None)
    found = judge(patient(visit(0, **base), visit(90, **after)), RULE)
    return {"judgement": found, "working": found.because["score"]}


# (domain, field, follow-up on the edge, follow-up 0.1% past it, points on, points past)
EDGES = [
    # physician global, 10-cm VAS, fall = improvement
    ("physician_global", "physician_global_vas", 9.5, 9.49, 0, 7.5),
    ("physician_global", "physician_global_vas", 8.5, 8.49, 7.5, 15),
    ("physician_global", "physician_global_vas", 7.5, 7.49, 15, 17.5),
    ("physician_global", "physician_global_vas", 6.0, 5.99, 17.5, 20),
    # parent global, 10-cm VAS
    ("parent_global", "parent_global_vas", 9.5, 9.49, 0, 2.5),
    ("parent_global", "parent_global_vas", 8.5, 8.49, 2.5, 5),
    ("parent_global", "parent_global_vas", 7.5, 7.49, 5, 7.5),
    ("parent_global", "parent_global_vas", 6.0, 5.99, 7.5, 10),
    # MMT8, 0-80, rise = improvement; edges 2 / 10 / 20 / 30 %
    ("muscle_strength", "mmt8", 41.6, 41.68, 0, 10),
    ("muscle_strength", "mmt8", 48.0, 48.08, 10, 20),
    ("muscle_strength", "mmt8", 56.0, 56.08, 20, 27.5),
    ("muscle_strength", "mmt8", 64.0, 64.08, 27.5, 32.5),
    # CHAQ, 0-3
    ("chaq", "chaq", 2.85, 2.847, 0, 5),
    ("chaq", "chaq", 2.55, 2.547, 5, 7.5),
    ("chaq", "chaq", 2.25, 2.247, 7.5, 7.5),
    ("chaq", "chaq", 1.8, 1.797, 7.5, 10),
    # CK, relative change from a baseline of 1000 U/L
    ("muscle_enzyme", "ck_u_l", 950.0, 949.0, 0, 2.5),
    ("muscle_enzyme", "ck_u_l", 850.0, 849.0, 2.5, 5),
    ("muscle_enzyme", "ck_u_l", 750.0, 749.0, 5, 7.5),
    ("muscle_enzyme", "ck_u_l", 600.0, 599.0, 7.5, 7.5),
    # extramuscular activity, 10-cm VAS
    ("extramuscular", "extramuscular_vas", 9.5, 9.49, 0, 7.5),
    ("extramuscular", "extramuscular_vas", 8.5, 8.49, 7.5, 12.5),
    ("extramuscular", "extramuscular_vas", 7.5, 7.49, 12.5, 15),
    ("extramuscular", "extramuscular_vas", 6.0, 5.99, 15, 20),
]


def _edge_id(row: tuple[Any, ...]) -> str:
    return f"{row[0]}:{row[2]:g}"


@pytest.mark.parametrize(("domain", "field", "on_edge", "past_edge", "points_on", "points_past"),
                         EDGES, ids=[_edge_id(row) for row in EDGES])
def test_band_edge(domain: str, field: str, on_edge: float, past_edge: float,
                   points_on: float, points_past: float) -> None:
    on = scored({field: on_edge})["working"]["domains"][domain]
    past = scored({field: past_edge})["working"]["domains"][domain]
    assert (on["measure"], on["points"]) == (field, points_on)
    assert (past["measure"], past["points"]) == (field, points_past)
    assert past["percent_change"] == pytest.approx(on["percent_change"] + 0.1)


# Fallback measures: (domain, field, baseline, on the edge, past it, points on, past).
FALLBACK_EDGES = [
    # CMAS, 0-52, when MMT8 is missing at a visit
    ("muscle_strength", "cmas", 20.0, 21.04, 21.092, 0, 10),
    ("muscle_strength", "cmas", 20.0, 25.2, 25.252, 10, 20),
    ("muscle_strength", "cmas", 20.0, 30.4, 30.452, 20, 27.5),
    ("muscle_strength", "cmas", 20.0, 35.6, 35.652, 27.5, 32.5),
    # DAS total, 0-20, when the extramuscular VAS is missing at a visit
    ("extramuscular", "das_total", 20.0, 19.0, 18.98, 0, 7.5),
    ("extramuscular", "das_total", 20.0, 17.0, 16.98, 7.5, 12.5),
    ("extramuscular", "das_total", 20.0, 15.0, 14.98, 12.5, 15),
    ("extramuscular", "das_total", 20.0, 12.0, 11.98, 15, 20),
]
PREFERRED = {"muscle_strength": "mmt8", "extramuscular": "extramuscular_vas"}


@pytest.mark.parametrize(("domain", "field", "base", "on_edge", "past_edge", "points_on",
                          "points_past"), FALLBACK_EDGES,
                         ids=[_edge_id(row) for row in FALLBACK_EDGES])
def test_fallback_band_edge(domain: str, field: str, base: float, on_edge: float,
                            past_edge: float, points_on: float, points_past: float) -> None:
    missing = (PREFERRED[domain],)
    on = scored({field: on_edge}, {field: base}, drop=missing)["working"]["domains"][domain]
    past = scored({field: past_edge}, {field: base}, drop=missing)["working"]["domains"][domain]
    assert (on["measure"], on["points"]) == (field, points_on)
    assert (past["measure"], past["points"]) == (field, points_past)


@pytest.mark.parametrize(("missing_at", "preferred", "fallback"), [
    ("baseline", "mmt8", "cmas"),
    ("follow_up", "mmt8", "cmas"),
    ("baseline", "extramuscular_vas", "das_total"),
    ("follow_up", "extramuscular_vas", "das_total"),
], ids=lambda value: str(value))
def test_fallback_needs_the_preferred_measure_at_both_visits(
        missing_at: str, preferred: str, fallback: str) -> None:
    base = dict(BASELINE)
    after = dict(BASELINE)
    (base if missing_at == "baseline" else after).pop(preferred)
    found = judge(patient(visit(0, **base), visit(90, **after)), RULE)
    measures = {d["measure"] for d in found.because["score"]["domains"].values()}
    assert fallback in measures
    assert preferred not in measures


@pytest.mark.parametrize("field", ["physician_global_vas", "mmt8", "chaq", "ck_u_l"])
def test_worsening_scores_zero(field: str) -> None:
    worse = {"physician_global_vas": 10.0, "mmt8": 20.0, "chaq": 3.0, "ck_u_l": 5000.0}
    base = {"physician_global_vas": 5.0, "mmt8": 40.0, "chaq": 1.0, "ck_u_l": 1000.0}
    working = scored({field: worse[field]}, {field: base[field]})["working"]
    domain = next(d for d in working["domains"].values() if d["measure"] == field)
    assert domain["percent_change"] < 0
    assert domain["points"] == 0


@pytest.mark.parametrize(("enzymes", "chosen"), [
    ({"ck_u_l": (1000.0, 500.0)}, "ck_u_l"),
    # CK 2x its upper limit, LDH 4x: LDH is the most abnormal at baseline.
    ({"ck_u_l": (300.0, 150.0), "ldh_u_l": (1200.0, 1100.0)}, "ldh_u_l"),
    # Aldolase 3x, AST 1.5x, CK 1.2x: aldolase.
    ({"ck_u_l": (180.0, 100.0), "aldolase_u_l": (22.8, 10.0), "ast_u_l": (60.0, 30.0)},
     "aldolase_u_l"),
    # An enzyme recorded at one visit only does not take part.
    ({"ck_u_l": (300.0, 150.0), "alt_u_l": (400.0, None)}, "ck_u_l"),
], ids=["ck-only", "ldh-most-abnormal", "aldolase-most-abnormal", "alt-one-visit-only"])
def test_enzyme_most_abnormal_at_baseline(enzymes: dict[str, tuple[float, float | None]],
                                         chosen: str) -> None:
    base = {name: values[0] for name, values in enzymes.items()}
    after = {name: values[1] for name, values in enzymes.items() if values[1] is not None}
    working = scored(after, base)["working"]
    assert working["domains"]["muscle_enzyme"]["measure"] == chosen


def _total(points: dict[str, float]) -> dict[str, Any]:
    """A follow-up whose domains score the given points (all others 0)."""
    follow_up = {
        ("physician_global", 20): {"physician_global_vas": 5.0},
        ("physician_global", 7.5): {"physician_global_vas": 9.0},
        ("parent_global", 10): {"parent_global_vas": 5.0},
        ("muscle_strength", 32.5): {"mmt8": 70.0},
        ("muscle_strength", 27.5): {"mmt8": 60.0},
        ("muscle_strength", 10): {"mmt8": 45.0},
        ("extramuscular", 12.5): {"extramuscular_vas": 8.0},
        ("extramuscular", 7.5): {"extramuscular_vas": 9.0},
    }
    after: dict[str, Any] = {}
    for key in points.items():
        after.update(follow_up[key])
    return scored(after)


@pytest.mark.parametrize(("points", "score", "category", "status"), [
    ({}, 0, "none", "not_met"),
    ({"muscle_strength": 27.5}, 27.5, "none", "not_met"),
    ({"physician_global": 20, "muscle_strength": 10}, 30, "minimal", "met"),
    ({"muscle_strength": 32.5, "extramuscular": 7.5}, 40, "minimal", "met"),
    ({"muscle_strength": 32.5, "extramuscular": 12.5}, 45, "moderate", "met"),
    ({"physician_global": 20, "muscle_strength": 27.5, "extramuscular": 12.5,
      "parent_global": 10}, 70, "major", "met"),
    ({"physician_global": 20, "muscle_strength": 27.5, "extramuscular": 7.5,
      "parent_global": 10}, 65, "moderate", "met"),
], ids=["0-none", "27.5-none", "30-minimal", "40-minimal", "45-moderate", "70-major",
        "65-moderate"])
def test_category_thresholds(points: dict[str, float], score: float, category: str,
                             status: str) -> None:
    found = _total(points)["judgement"]
    assert found.values == {"score": score, "score_min": score, "score_max": score,
                            "missing_domains": [], "category": category,
                            "categories": [category]}
    assert found.status == status
    assert sum(d["points"] for d in found.because["score"]["domains"].values()) == score


# The follow-up's physician global fell by 50% (20 points); every other measured domain
# scores 0. A missing domain could add at most its top band.
@pytest.mark.parametrize(("dropped", "missing", "top", "status", "categories"), [
    (("chaq",), ["chaq"], 30, "indeterminate", ["none", "minimal"]),
    (("ck_u_l",), ["muscle_enzyme"], 27.5, "not_met", ["none"]),
    (("mmt8", "cmas"), ["muscle_strength"], 52.5, "indeterminate",
     ["none", "minimal", "moderate"]),
    (("extramuscular_vas", "das_total", "parent_global_vas"), ["parent_global", "extramuscular"],
     50, "indeterminate", ["none", "minimal", "moderate"]),
], ids=["chaq", "enzyme", "muscle-both-scales", "two-domains"])
def test_missing_domain_gives_bounds(dropped: tuple[str, ...], missing: list[str], top: float,
                                     status: str, categories: list[str]) -> None:
    result = scored({"physician_global_vas": 5.0}, drop=dropped)
    found, working = result["judgement"], result["working"]
    assert found.status == status
    assert found.values == {"score": None, "score_min": 20, "score_max": top,
                            "missing_domains": missing, "category": "none" if
                            len(categories) == 1 else None, "categories": categories}
    assert working["missing_domains"] == missing
    assert working["partial_score"] == 20  # physician global fell by 50%
    if status == "indeterminate":
        assert any(all(name in reason for name in missing) for reason in found.reasons)
        assert set(found.missing) >= {"score"}
    else:
        assert found.reasons == [] and found.missing == []


def test_a_partial_score_that_passes_30_is_a_response() -> None:
    """Three domains measured, 47.5 points: the score is at least 47.5, whatever the rest."""
    after = {"physician_global_vas": 5.0, "mmt8": 60.0}  # 20 + 27.5
    result = scored(after, drop=("chaq", "ck_u_l", "extramuscular_vas", "das_total"))
    found = result["judgement"]
    assert found.status == "met"
    assert found.values["score"] is None
    assert (found.values["score_min"], found.values["score_max"]) == (47.5, 47.5 + 10 + 7.5
                                                                      + 20)
    assert found.values["category"] is None
    assert found.values["categories"] == ["moderate", "major"]
    assert found.reasons == [] and found.missing == []


def test_a_bound_on_the_threshold_decides() -> None:
    """score_min exactly 30 is met; score_max exactly 30 leaves it open (30 is reachable)."""
    met = scored({"physician_global_vas": 5.0, "mmt8": 45.0}, drop=("chaq",))["judgement"]
    assert (met.values["score_min"], met.status) == (30, "met")
    open_ = scored({"physician_global_vas": 5.0}, drop=("chaq",))["judgement"]
    assert (open_.values["score_max"], open_.status) == (30, "indeterminate")


def test_no_baseline_visit_is_indeterminate() -> None:
    found = judge(patient(visit(30, **BASELINE), visit(90, **BASELINE)), RULE)
    assert found.status == "indeterminate"
    assert any("baseline" in reason for reason in found.reasons)


def test_no_visit_after_the_start_is_not_applicable() -> None:
    """No follow-up visit yet: no response to judge (no later data of this date could
    make one), and the explanation shows the failed condition."""
    found = judge(patient(visit(-10, **BASELINE), visit(0, **BASELINE)), RULE)
    assert found.status == "not_applicable"
    assert any(c["test"] == "days_on_jak_now > 0" and c["status"] == "not_met"
               for c in found.because["criteria"])


def test_baseline_is_the_last_visit_on_or_before_the_start() -> None:
    early = {**BASELINE, "physician_global_vas": 2.0}  # would make day 90 a worsening
    found = judge(patient(visit(-60, **early), visit(-5, **BASELINE),
                          visit(90, **{**BASELINE, "physician_global_vas": 5.0})), RULE)
    assert found.because["score"]["domains"]["physician_global"]["baseline"] == 10.0
    assert found.because["score"]["domains"]["physician_global"]["points"] == 20


@pytest.mark.parametrize("treatments", [[], [{"drug": "methotrexate",
                                              "start": START.isoformat()}]],
                         ids=["no-treatment", "no-jak-inhibitor"])
def test_without_jak_inhibitor_not_applicable(treatments: list[dict[str, str]]) -> None:
    p = patient(visit(0, **BASELINE), visit(90, **BASELINE), treatments=treatments)
    assert judge(p, RULE).status == "not_applicable"


def test_before_the_jak_inhibitor_start_not_applicable() -> None:
    p = patient(visit(-90, **BASELINE), visit(90, **BASELINE))
    assert judge(p, RULE, at=day(-1)).status == "not_applicable"


def test_assumptions_and_citations_are_reported() -> None:
    found = judge(patient(visit(0, **BASELINE), visit(90, **BASELINE)), RULE)
    keys = {a.key for a in found.assumptions}
    assert {"percent_of_range", "enzyme_relative_change", "enzyme_upper_limits"} <= keys
    assert any("Rider LG" in c.label for c in found.citations)


def test_evaluation_visit_is_the_follow_up() -> None:
    p = patient(visit(0, **BASELINE), visit(90, **{**BASELINE, "physician_global_vas": 5.0}),
                visit(180, **BASELINE))
    assert assess(p, at=day(100)).judgements[RULE].values["score"] == 20
    assert assess(p).judgements[RULE].values["score"] == 0


def test_jak_inhibitor_class_covers_every_drug() -> None:
    p = patient(visit(0, **BASELINE), visit(90, **{**BASELINE, "physician_global_vas": 5.0}),
                treatments=[{**JAK, "drug": "baricitinib"}])
    assert judge(p, RULE).values["score"] == 20


# --- the arithmetic against exact fractions ----------------------------------------------

_decimals = st.decimals(min_value=0, max_value=5000, places=3, allow_nan=False,
                        allow_infinity=False)


@settings(max_examples=400, deadline=None)
@given(baseline=_decimals, follow_up=_decimals,
       scale=st.sampled_from([(0, 10), (0, 3), (0, 80), (0, 52), (0, 20), None]),
       edge=st.sampled_from([2, 5, 10, 15, 20, 25, 30, 40]), tie=st.booleans())
def test_band_comparison_agrees_with_fractions(baseline: Decimal, follow_up: Decimal,
                                               scale: tuple[int, int] | None, edge: int,
                                               tie: bool) -> None:
    """Every edge comparison is the exact one, ties (gain exactly on the edge) included."""
    measure: dict[str, Any] = ({"relative": True} if scale is None
                               else {"range": list(scale)})
    span = Fraction(baseline) if scale is None else Fraction(scale[1] - scale[0])
    if tie:  # put the follow-up exactly on the edge, when it is a short decimal
        on_edge = Fraction(baseline) - Fraction(edge, 100) * span
        if on_edge.denominator in (1, 2, 4, 5, 8, 10, 20, 25, 40, 50, 100, 1000):
            follow_up = Decimal(on_edge.numerator) / Decimal(on_edge.denominator)
    if span == 0:
        return
    change = percent_change(float(baseline), float(follow_up), measure)
    exact_percent = (Fraction(baseline) - Fraction(follow_up)) / span * 100
    assert change.exceeds(edge) == (exact_percent > edge)


@settings(max_examples=300, deadline=None)
@given(a=_decimals, b=_decimals)
def test_most_abnormal_enzyme_agrees_with_fractions(a: Decimal, b: Decimal) -> None:
    measures = [{"field": "ck_u_l", "relative": True, "upper_normal": 150},
                {"field": "ldh_u_l", "relative": True, "upper_normal": 300}]
    baseline = {"ck_u_l": float(a), "ldh_u_l": float(b)}
    if a == 0 or b == 0:
        return
    chosen = choose_measure(baseline, baseline, {"choose": "most_abnormal",
                                                 "measures": measures})
    assert chosen is not None
    expected = "ldh_u_l" if Fraction(b) / 300 > Fraction(a) / 150 else "ck_u_l"
    assert chosen["field"] == expected


@pytest.mark.parametrize(("baseline", "follow_up", "edge", "passed"), [
    (8.4e-323, 8e-323, 5, False),  # subnormal: 4.76%, not past 5%
    (1e-320, 9.4e-321, 5, True),  # 6%
    (1e300, 9.5e299, 5, False),  # exactly 5%
])
def test_extreme_values_are_compared_exactly(baseline: float, follow_up: float, edge: int,
                                             passed: bool) -> None:
    change = percent_change(baseline, follow_up, {"relative": True})
    exact_percent = (Fraction(str(baseline)) - Fraction(str(follow_up))) / Fraction(
        str(baseline)) * 100
    assert (exact_percent > edge) is passed
    assert change.exceeds(edge) is passed


def test_percent_change_is_shown_from_the_values_as_written() -> None:
    """MMT8 60 -> 71.3 of 80 is exactly 14.125%: shown as 14.13 (half away from zero)."""
    working = scored({"mmt8": 71.3}, baseline={"mmt8": 60.0})["working"]
    assert working["domains"]["muscle_strength"]["percent_change"] == 14.13
    worse = scored({"mmt8": 48.7}, baseline={"mmt8": 60.0})["working"]
    assert worse["domains"]["muscle_strength"]["percent_change"] == -14.13


@settings(max_examples=400, deadline=None)
@given(baseline=_decimals, follow_up=_decimals,
       scale=st.sampled_from([(0, 10), (0, 3), (0, 80), (0, 52), (0, 20), None]))
def test_percent_change_shown_agrees_with_fractions(baseline: Decimal, follow_up: Decimal,
                                                    scale: tuple[int, int] | None) -> None:
    span = Fraction(baseline) if scale is None else Fraction(scale[1] - scale[0])
    if span == 0:
        return
    measure: dict[str, Any] = ({"relative": True} if scale is None
                               else {"range": list(scale)})
    exact_hundredths = (Fraction(baseline) - Fraction(follow_up)) / span * 10000
    rounded = math.floor(abs(exact_hundredths) + Fraction(1, 2))
    expected = float(rounded if exact_hundredths >= 0 else -rounded) / 100
    assert percent_change(float(baseline), float(follow_up), measure).shown() == expected


@pytest.mark.parametrize(("change", "shown"), [
    # the scale's own rounding matters when its ends are large and close together
    (Change(0.020675, 0, 123456.1, 123456.0), 20.68),
    (Change(0, 0.020675, 123456.1, 123456.0), -20.68),
    # a relative change from a baseline next to zero is beyond any float
    (Change(5e-324, 1000.0, 5e-324, 0), -math.inf),
])
def test_percent_change_shown_at_the_limits(change: Change, shown: float) -> None:
    assert change.shown() == shown


def test_the_score_is_computed_once_per_evaluation_for_its_four_derived_values(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # The score, its bounds and its missing domains name one domain list; the rule base
    # holds a copy of it for each (plain data, as the compiled cache stores it), and the
    # score is still computed once, not once per derived value.
    from jdm_cds.defaults import default_evaluator
    from jdm_cds.facts import builder
    from jdm_cds.model.reading import load_patient

    calls: list[int] = []
    real = builder.improvement_score

    def counted(*args: Any) -> Any:
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(builder, "improvement_score", counted)
    example = Path(__file__).parent.parent / "examples" / "patient-mda5.yaml"
    default_evaluator().evaluate(load_patient(example))
    assert len(calls) == 1
