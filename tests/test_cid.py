"""The CID pack (rules/cid.yaml) against an independent oracle.

Every criterion is set met, failed or missing (81 combinations of the four PRINTO
criteria, times skin DAS 0 / 1 / missing for the study's variant); met and failed use
the boundary values themselves, so the combinations also prove that the boundaries are
inclusive. The oracle is a few lines of Kleene logic written here, not the engine's.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Sequence
from typing import Any

import pytest

import jdm_cds
from jdm_cds.evaluate import Evaluator
from jdm_cds.language.rulebase import RULES_DIR, load_rulebase
from jdm_cds.model.assessment import Judgement
from jdm_cds.model.patient import Patient, Visit

Tri = bool | None  # Kleene truth value: None is unknown
MET, FAILED, MISSING = "met", "failed", "missing"
LEVELS = (MET, FAILED, MISSING)
DAY = dt.date(2021, 3, 1)

# Criterion name in the pack -> (field, value that meets it, value that fails it).
PRINTO = {
    "ck_normal": ("ck_u_l", 150.0, 151.0),
    "cmas_normal": ("cmas", 48.0, 47.0),
    "mmt8_normal": ("mmt8", 78.0, 77.0),
    "physician_global_inactive": ("physician_global_vas", 0.2, 0.3),
}
SKIN = {"skin_inactive": ("das_skin", 0.0, 1.0)}
CITATIONS = {
    "cid.printo": ["Lazarevic D"],
    "cid.p_cid": ["Almeida B"],
    "cid.printo_skin": ["Le Voyer T", "Lazarevic D"],
}


# --- oracle ---------------------------------------------------------------------------


def truth(level: str) -> Tri:
    return {MET: True, FAILED: False, MISSING: None}[level]


def at_least(n: int, values: Sequence[Tri]) -> Tri:
    if sum(v is True for v in values) >= n:
        return True
    if sum(v is False for v in values) > len(values) - n:
        return False
    return None


def all_of(*values: Tri) -> Tri:
    if any(v is False for v in values):
        return False
    if all(v is True for v in values):
        return True
    return None


def printo(ck: Tri, cmas: Tri, mmt8: Tri, pg: Tri, skin: Tri = None) -> Tri:
    return at_least(3, [ck, cmas, mmt8, pg])


def p_cid(ck: Tri, cmas: Tri, mmt8: Tri, pg: Tri, skin: Tri = None) -> Tri:
    return all_of(pg, at_least(2, [ck, cmas, mmt8]))


def printo_skin(ck: Tri, cmas: Tri, mmt8: Tri, pg: Tri, skin: Tri = None) -> Tri:
    return all_of(printo(ck, cmas, mmt8, pg), skin)


Oracle = Callable[..., Tri]
STATUS = {True: "met", False: "not_met", None: "indeterminate"}


def could_change(oracle: Oracle, values: Sequence[Tri], index: int) -> bool:
    """Whether some completion of the unknown values makes ``values[index]`` decide."""
    unknown = [i for i, v in enumerate(values) if v is None and i != index]
    for completion in itertools.product((True, False), repeat=len(unknown)):
        filled = list(values)
        for i, value in zip(unknown, completion, strict=True):
            filled[i] = value
        outcomes = {oracle(*filled[:index], choice, *filled[index + 1:])
                    for choice in (True, False)}
        if len(outcomes) > 1:
            return True
    return False


# --- engine ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def evaluator() -> Evaluator:
    return Evaluator(load_rulebase([(RULES_DIR / "cid.yaml", None)]))


def visit_values(criteria: dict[str, tuple[str, float, float]],
                 levels: Sequence[str]) -> dict[str, float]:
    values = {}
    for (field, good, bad), level in zip(criteria.values(), levels, strict=True):
        if level != MISSING:
            values[field] = good if level == MET else bad
    return values


def judge(evaluator: Evaluator, values: dict[str, Any]) -> dict[str, Judgement]:
    patient = Patient(id="p", visits=(Visit(date=DAY, **values),))
    return evaluator.evaluate(patient).judgements


def check(judgement: Judgement, oracle: Oracle, criteria: dict[str, tuple[str, float, float]],
          levels: Sequence[str], values: dict[str, float]) -> None:
    tri = [truth(level) for level in levels]
    expected = oracle(*tri)
    assert judgement.status == STATUS[expected]
    absent = {field for (field, _, _), level in zip(criteria.values(), levels, strict=True)
              if level == MISSING}
    if expected is None:
        # Only absent fields, each once, in the order the rule reads its criteria.
        tested = [c["test"].split()[0] for c in judgement.because["criteria"]]
        assert judgement.missing == [field for field in tested if field in judgement.missing]
        assert set(judgement.missing) <= absent
        relevant = {field for i, (field, _, _) in enumerate(criteria.values())
                    if tri[i] is None and could_change(oracle, tri, i)}
        assert relevant, "indeterminate only when a missing value could change the answer"
        assert relevant <= set(judgement.missing)
    else:
        assert judgement.missing == []
    by_name = {c["criterion"]: c for c in judgement.because["criteria"]}
    assert set(by_name) == set(criteria)
    decisive = []
    for (name, (field, _, _)), level in zip(criteria.items(), levels, strict=True):
        result = by_name[name]
        true_status = {MET: "met", FAILED: "not_met", MISSING: "indeterminate"}[level]
        # A criterion is reported with its true outcome, or as not needed by the decision.
        assert result["status"] in (true_status, "not_needed")
        decisive.append(result["status"] != "not_needed")
        assert result["value"] == values.get(field)
    # The criteria reported as deciding do decide: forget the others, same answer.
    assert oracle(*[t if d else None for t, d in zip(tri, decisive, strict=True)]) == expected
    assert judgement.because["facts"] == values
    assert judgement.visit_date == DAY


COMBINATIONS = list(itertools.product(LEVELS, repeat=4))


def test_combinations_cover_every_case() -> None:
    assert len(COMBINATIONS) == 81
    assert len(set(COMBINATIONS)) == 81


@pytest.mark.parametrize("levels", COMBINATIONS, ids="-".join)
def test_printo_and_p_cid_match_the_oracle(evaluator: Evaluator, levels: tuple[str, ...]) -> None:
    values = visit_values(PRINTO, levels)
    judgements = judge(evaluator, values)

    check(judgements["cid.printo"], printo, PRINTO, levels, values)
    check(judgements["cid.p_cid"], p_cid, PRINTO, levels, values)


@pytest.mark.parametrize("skin", LEVELS)
def test_printo_skin_matches_the_oracle(evaluator: Evaluator, skin: str) -> None:
    criteria = {**PRINTO, **SKIN}
    for levels in COMBINATIONS:
        values = visit_values(criteria, (*levels, skin))
        judgement = judge(evaluator, values)["cid.printo_skin"]
        check(judgement, printo_skin, criteria, (*levels, skin), values)


# --- named cases of the issue, readable on their own --------------------------------------


@pytest.mark.parametrize(
    ("values", "printo_status", "missing"),
    [
        ({"ck_u_l": 100, "cmas": 50, "mmt8": 79}, "met", []),
        ({"ck_u_l": 400, "cmas": 30}, "not_met", []),
        ({"ck_u_l": 100, "cmas": 50, "mmt8": 60}, "indeterminate", ["physician_global_vas"]),
        ({}, "indeterminate", ["ck_u_l", "cmas", "mmt8", "physician_global_vas"]),
    ],
    ids=["3-met-1-missing", "2-failed-rest-missing", "2-met-1-failed-1-missing", "all-missing"],
)
def test_issue_examples(evaluator: Evaluator, values: dict[str, float], printo_status: str,
                        missing: list[str]) -> None:
    judgement = judge(evaluator, values)["cid.printo"]

    assert judgement.status == printo_status
    assert judgement.missing == missing


@pytest.mark.parametrize(
    ("field", "value", "status"),
    [
        ("ck_u_l", 150, "met"), ("ck_u_l", 150.5, "not_met"), ("ck_u_l", 151, "not_met"),
        ("ck_u_l", 0, "met"),
        ("cmas", 48, "met"), ("cmas", 47.5, "not_met"), ("cmas", 47, "not_met"),
        ("cmas", 52, "met"),
        ("mmt8", 78, "met"), ("mmt8", 77.5, "not_met"), ("mmt8", 77, "not_met"),
        ("mmt8", 80, "met"),
        ("physician_global_vas", 0.2, "met"), ("physician_global_vas", 0.21, "not_met"),
        ("physician_global_vas", 0.3, "not_met"), ("physician_global_vas", 0, "met"),
        ("das_skin", 0, "met"), ("das_skin", 0.5, "not_met"), ("das_skin", 1, "not_met"),
    ],
)
def test_each_boundary_decides(evaluator: Evaluator, field: str, value: float, status: str) -> None:
    """The other criteria are set so that this one decides: its boundary gives the verdict."""
    criteria = {**PRINTO, **SKIN}
    others = [name for name, (f, _, _) in PRINTO.items() if f != field]
    # Two others met and one failed (PRINTO hangs on this one); skin inactive; or, for the
    # skin boundary, all four PRINTO criteria met.
    if field == "das_skin":
        values = {f: good for f, good, _ in PRINTO.values()}
    else:
        values = {criteria[name][0]: criteria[name][1] for name in [*others[:2], "skin_inactive"]}
        values[criteria[others[2]][0]] = criteria[others[2]][2]
    values[field] = value
    judgement = judge(evaluator, values)["cid.printo_skin"]

    assert judgement.status == status
    [result] = [c for c in judgement.because["criteria"] if c["test"].startswith(f"{field} ")]
    assert result["status"] == status
    assert result["value"] == value


@pytest.mark.parametrize("failing", list(PRINTO))
def test_one_failed_criterion_still_gives_printo(evaluator: Evaluator, failing: str) -> None:
    values = {field: bad if name == failing else good
              for name, (field, good, bad) in PRINTO.items()}
    judgements = judge(evaluator, values)

    assert judgements["cid.printo"].status == "met"
    # P-CID makes the physician global mandatory.
    expected = "not_met" if failing == "physician_global_inactive" else "met"
    assert judgements["cid.p_cid"].status == expected


# --- metadata ---------------------------------------------------------------------------


def test_judgements_carry_rule_version_and_citations(evaluator: Evaluator) -> None:
    judgements = judge(evaluator, {"ck_u_l": 90})

    assert list(judgements) == ["cid.printo", "cid.p_cid", "cid.printo_skin"]
    for key, judgement in judgements.items():
        assert judgement.rule == key
        assert judgement.pack == "cid"
        assert judgement.version == "1.0.0"
        labels = [c.label for c in judgement.citations]
        assert len(labels) == len(CITATIONS[key])
        for label, author in zip(labels, CITATIONS[key], strict=True):
            assert label.startswith(author)
        assert all(c.url and c.url.startswith("https://doi.org/") for c in judgement.citations)


def test_only_the_skin_variant_carries_its_assumption(evaluator: Evaluator) -> None:
    judgements = judge(evaluator, {"das_skin": 0})

    [assumption] = judgements["cid.printo_skin"].assumptions
    assert assumption.key == "skin_das_zero"
    assert "skin DAS = 0" in assumption.text
    assert judgements["cid.printo"].assumptions == []
    assert judgements["cid.p_cid"].assumptions == []


def test_judged_at_the_last_visit_on_or_before_the_date(evaluator: Evaluator) -> None:
    active = Visit(date=dt.date(2021, 1, 1), ck_u_l=900, cmas=30, mmt8=60,
                   physician_global_vas=5)
    inactive = Visit(date=dt.date(2021, 6, 1), ck_u_l=90, cmas=50, mmt8=79,
                     physician_global_vas=0.1)
    patient = Patient(id="p", visits=(inactive, active))

    latest = evaluator.evaluate(patient).judgements["cid.printo"]
    earlier = evaluator.evaluate(patient, dt.date(2021, 5, 31)).judgements["cid.printo"]

    assert (latest.status, latest.visit_date) == ("met", dt.date(2021, 6, 1))
    assert (earlier.status, earlier.visit_date) == ("not_met", dt.date(2021, 1, 1))


def test_public_api_gives_the_same_cid_judgements(evaluator: Evaluator) -> None:
    values = {"ck_u_l": 150.0, "cmas": 47.0, "physician_global_vas": 0.2}
    patient = Patient(id="p", visits=(Visit(date=DAY, **values),))

    # Twice: the first call imports jdm_cds.evaluate (the module), which must not take the
    # function's name.
    jdm_cds.evaluate(patient)
    through_api = jdm_cds.evaluate(patient).judgements
    for key, judgement in judge(evaluator, values).items():
        assert through_api[key].status == judgement.status
        assert through_api[key].missing == judgement.missing
