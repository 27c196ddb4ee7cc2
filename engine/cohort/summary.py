"""Summarise a cohort: evaluate every patient and count what the engine judged.

Nothing clinical is decided here. Whether a patient reached CID within six months, could
withdraw plasma exchange or immunoadsorption, and what their steroid dose was in
mg/kg/day all come from the engine's judgements; this module evaluates each patient on
the dates it needs and counts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from os import PathLike
from typing import Any

from rich.console import Console
from rich.table import Table

from jdm_cds.evaluate import Evaluator
from jdm_cds.facts.builder import Timeline, timeline
from jdm_cds.model.assessment import Assessment
from jdm_cds.model.patient import Patient

CID_WITHIN_6_MONTHS = "cid.within_6_months"
WITHDRAWALS = {"plasma_exchange": "withdrawal.plasma_exchange",
               "immunoadsorption": "withdrawal.immunoadsorption",
               "immunosuppressants": "withdrawal.immunosuppressants"}
STEROID_RULE = "withdrawal.steroid_taper"
STEROID_DOSE = "steroid_dose_now"
IFN_ABOVE_NORMAL = "safety.ifn_alpha_above_normal"
NO_ANTIBODY = "not tested"


@dataclass(frozen=True, slots=True)
class PatientSummary:
    """What the cohort counts of one patient."""

    id: str
    antibodies: tuple[str, ...]
    drug: str | None  # the first JAK inhibitor given
    cid_within_6_months: str  # the judgement's status at the last visit
    steroid_baseline: float | None  # mg/kg/day at the baseline visit
    steroid_last: float | None  # mg/kg/day at the last visit
    on_at_baseline: frozenset[str]  # plasma exchange / immunoadsorption at baseline
    eligible: frozenset[str]  # ... judged eligible for withdrawal at some visit
    adverse_events: frozenset[str]
    ifn_alpha: tuple[float | None, float | None]  # fg/mL at the baseline and last visits
    # IFN-alpha above the normal limit (the judgement's status) at the baseline and last visit
    ifn_above_normal: tuple[str | None, str]
    disease_course: str | None
    indications: tuple[str, ...]
    findings: tuple[str, ...]  # the kind of each finding

    @property
    def cid(self) -> bool:
        return self.cid_within_6_months == "met"


@dataclass(frozen=True)
class InvalidFile:
    file: str
    errors: list[str]


@dataclass
class Cohort:
    patients: list[PatientSummary] = field(default_factory=list)
    invalid: list[InvalidFile] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        cid = [p for p in self.patients if p.cid]
        before = [p.steroid_baseline for p in cid if p.steroid_baseline is not None]
        after = [p.steroid_last for p in cid if p.steroid_last is not None]
        return {
            "patients": len(self.patients),
            "cid_within_6_months": {
                "n": len(cid),
                "undecided": sum(p.cid_within_6_months == "indeterminate" for p in self.patients),
                "not_applicable": sum(p.cid_within_6_months == "not_applicable"
                                      for p in self.patients),
                "by_antibody": _with_and_total(self.patients, lambda p: p.antibodies
                                               or (NO_ANTIBODY,)),
                "by_drug": _with_and_total(self.patients,
                                           lambda p: (p.drug,) if p.drug else ()),
            },
            "steroid_mg_per_kg_day_in_cid": {
                "patients": len(cid),
                "before_mean": _mean(before),
                "before_range": _range(before),
                "after_mean": _mean(after),
                "after_range": _range(after),
                "stopped": sum(1 for dose in after if dose == 0),
                "unknown": len(cid) - min(len(before), len(after)),
            },
            "withdrawal_eligible": {treatment: sum(treatment in p.eligible
                                                   for p in self.patients)
                                    for treatment in WITHDRAWALS},
            "withdrawal_on_at_baseline_in_cid": {treatment: sum(treatment in p.on_at_baseline
                                                                for p in cid)
                                                 for treatment in WITHDRAWALS},
            "withdrawal_eligible_in_cid": {treatment: sum(treatment in p.eligible for p in cid)
                                           for treatment in WITHDRAWALS},
            # Every CID patient on it at baseline was judged eligible to withdraw it.
            "every_responder_could_withdraw": {
                treatment: all(treatment in p.eligible for p in cid
                               if treatment in p.on_at_baseline)
                for treatment in WITHDRAWALS},
            "jak_inhibitor": dict(sorted(Counter(p.drug for p in self.patients
                                                 if p.drug).items())),
            "disease_course": dict(sorted(Counter(p.disease_course or "not recorded"
                                                  for p in self.patients).items())),
            "indications": dict(sorted(Counter(indication for p in self.patients
                                               for indication in p.indications).items())),
            "findings": dict(sorted(Counter(kind for p in self.patients
                                            for kind in p.findings).items())),
            "ifn_alpha_above_normal": {
                # [above the limit, measured] at the baseline visit
                "at_jak_start": _counted(self.patients, lambda p: p.ifn_above_normal[0],
                                         "met"),
                # [within the limit, measured] at the last visit
                "within_normal_at_last_visit": {
                    "responders": _counted(cid, lambda p: p.ifn_above_normal[1], "not_met"),
                    "non_responders": _counted(
                        [p for p in self.patients if p.cid_within_6_months == "not_met"],
                        lambda p: p.ifn_above_normal[1], "not_met"),
                },
            },
            "ifn_alpha_fg_ml": {
                "baseline_range": _range([p.ifn_alpha[0] for p in self.patients
                                          if p.ifn_alpha[0] is not None]),
                "last_visit_range": _range([p.ifn_alpha[1] for p in self.patients
                                            if p.ifn_alpha[1] is not None]),
            },
            "adverse_events": dict(sorted(Counter(
                event for p in self.patients for event in p.adverse_events).items())),
            "invalid": [{"file": f.file, "errors": f.errors} for f in self.invalid],
        }


def summarise(paths: Iterable[str | PathLike[str]],
              evaluator: Evaluator | None = None) -> Cohort:
    """Evaluate every patient file under ``paths`` in this process; invalid files are
    listed, not fatal (``jdm-cds cohort`` runs the same on every core)."""
    from jdm_cds.cohort.local import in_process, unique_patients
    from jdm_cds.cohort.work import Task
    from jdm_cds.inputs import Inputs

    if evaluator is None:
        from jdm_cds.defaults import default_evaluator

        evaluator = default_evaluator()
    cohort = Cohort()
    for result in unique_patients(in_process(Inputs(paths), Task("cohort", explain=False),
                                                  [evaluator])):
        if result.error is not None:
            cohort.invalid.append(InvalidFile(result.label, result.error))
        else:
            cohort.patients.append(result.value)
    return cohort


def summarise_patient(patient: Patient, evaluator: Evaluator,
                      last: Assessment | None = None) -> PatientSummary:
    """What the cohort counts of ``patient``; ``last``: its assessment at the last visit,
    when already made."""
    if last is None:
        last = evaluator.evaluate(patient)
    # The engine's own reading of the patient: JAK-inhibitor start and baseline visit.
    tl = timeline(patient)
    start = tl.baseline_start
    index = tl.role("baseline")
    baseline_visit = None if index is None else tl.visits[index]
    # Only statuses and values are read from these: the working is not built.
    baseline = None if baseline_visit is None else evaluator.evaluate(
        patient, baseline_visit.date, explain=False)
    followed = [evaluator.evaluate(patient, visit.date, explain=False)
                for visit in patient.visits if start is not None and visit.date >= start]
    return PatientSummary(
        id=patient.id,
        antibodies=patient.antibodies,
        drug=_first_baseline_drug(tl),
        cid_within_6_months=last.judgements[CID_WITHIN_6_MONTHS].status,
        steroid_baseline=None if baseline is None else _steroid_dose(baseline),
        steroid_last=_steroid_dose(last),
        on_at_baseline=frozenset() if baseline is None else frozenset(
            treatment for treatment, rule in WITHDRAWALS.items()
            if baseline.judgements[rule].status != "not_applicable"),
        eligible=frozenset(treatment for treatment, rule in WITHDRAWALS.items()
                           if any(a.judgements[rule].status == "met" for a in followed)),
        adverse_events=frozenset(event for visit in patient.visits
                                 for event in visit.adverse_events),
        ifn_alpha=(None if baseline_visit is None else baseline_visit.ifn_alpha_fg_ml,
                   patient.visits[-1].ifn_alpha_fg_ml),
        ifn_above_normal=(None if baseline is None
                          else baseline.judgements[IFN_ABOVE_NORMAL].status,
                          last.judgements[IFN_ABOVE_NORMAL].status),
        disease_course=patient.disease_course,
        indications=patient.indications,
        findings=tuple(finding.kind for finding in patient.findings),
    )


def _first_baseline_drug(tl: Timeline) -> str | None:
    """The drug of the first course of the baseline treatment (the first JAK inhibitor)."""
    courses = sorted(tl.treatments(tl.classes.baseline), key=lambda t: t.start)
    return courses[0].drug if courses else None


def _steroid_dose(assessment: Assessment) -> float | None:
    """The dose in mg/kg/day the steroid judgement reports (mg/day already divided by the
    visit's weight by the engine)."""
    value = assessment.judgements[STEROID_RULE].values.get(STEROID_DOSE)
    return None if value is None else float(value)


def _with_and_total(patients: Sequence[PatientSummary],
                    groups: Any) -> dict[str, list[int]]:
    """[with CID, total] per group, over the patients whose answer is known: a patient
    still undecided, or never on a JAK inhibitor, is no evidence either way."""
    counts: dict[str, list[int]] = {}
    for patient in patients:
        if patient.cid_within_6_months not in ("met", "not_met"):
            continue
        for group in groups(patient):
            entry = counts.setdefault(group, [0, 0])
            entry[0] += patient.cid
            entry[1] += 1
    return dict(sorted(counts.items()))


def _counted(patients: Sequence[PatientSummary], status: Any, wanted: str) -> list[int]:
    """[judged ``wanted``, judged at all] over ``patients``: an indeterminate status (not
    measured) or no visit is no evidence either way."""
    found = [status(p) for p in patients]
    decided = [s for s in found if s in ("met", "not_met")]
    return [decided.count(wanted), len(decided)]


def _mean(values: Sequence[float]) -> float | None:
    # Decimal on each value's text: the mean of 0.35, 1, 1, 1.15 and 2 is 1.1, not 1.0999...
    if not values:
        return None
    total = sum((Decimal(str(v)) for v in values), Decimal(0))
    return float(round(total / len(values), 3))


def _range(values: Sequence[float]) -> list[float] | None:
    return [min(values), max(values)] if values else None


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{name.replace('_', ' ')} {n}" for name, n in counts.items()) or "none"


def _ratio(pair: Sequence[int]) -> str:
    return f"{pair[0]}/{pair[1]}"


def _dose(mean: float | None, span: list[float] | None) -> str:
    if mean is None or span is None:
        return "unknown"
    return f"{mean:g} (range {span[0]:g}-{span[1]:g})"


def render_cohort(cohort: Cohort, console: Console) -> None:
    """The summary as a table that reads like the study's results paragraph."""
    data = cohort.to_dict()
    cid, steroid = data["cid_within_6_months"], data["steroid_mg_per_kg_day_in_cid"]
    table = Table(title=f"Cohort of {data['patients']} patients", show_lines=True)
    table.add_column("measure")
    table.add_column("result", overflow="fold")
    table.add_row("Disease course", _counts(data["disease_course"]))
    table.add_row("Indication for the JAK inhibitor", _counts(data["indications"]))
    table.add_row("JAK inhibitor", _counts(dict(sorted(data["jak_inhibitor"].items(),
                                                       key=lambda item: -item[1]))))
    undecided = f" ({cid['undecided']} still undecided)" if cid["undecided"] else ""
    table.add_row("CID within 6 months of the JAK-inhibitor start",
                  f"{cid['n']}/{data['patients']}{undecided}")
    table.add_row("  by antibody", ", ".join(
        f"{name} {_ratio(pair)}" for name, pair in cid["by_antibody"].items()) or "-")
    table.add_row("  by JAK inhibitor", ", ".join(
        f"{name} {_ratio(pair)}" for name, pair in cid["by_drug"].items()) or "-")
    table.add_row(f"Prednisone in the {steroid['patients']} CID patients, mg/kg/day",
                  f"{_dose(steroid['before_mean'], steroid['before_range'])} at baseline; "
                  f"{_dose(steroid['after_mean'], steroid['after_range'])} at the last visit; "
                  f"stopped in {steroid['stopped']}")
    on, eligible = data["withdrawal_on_at_baseline_in_cid"], data["withdrawal_eligible_in_cid"]
    every = data["every_responder_could_withdraw"]
    table.add_row("CID patients eligible to withdraw (of those on it at baseline)", ", ".join(
        f"{name.replace('_', ' ')} {eligible[name]} ({on[name]})"
        + ("" if every[name] else ": not every one") for name in WITHDRAWALS))
    above = data["ifn_alpha_above_normal"]
    within = above["within_normal_at_last_visit"]
    table.add_row("Serum IFN-alpha above the normal limit at the JAK-inhibitor start",
                  f"{_ratio(above['at_jak_start'])} measured; within it at the last visit: "
                  f"responders {_ratio(within['responders'])}, non-responders "
                  f"{_ratio(within['non_responders'])}")
    ifn = data["ifn_alpha_fg_ml"]
    if ifn["baseline_range"] and ifn["last_visit_range"]:
        low, high = ifn["baseline_range"]
        after_low, after_high = ifn["last_visit_range"]
        table.add_row("Serum IFN-alpha, fg/mL", f"{low:g}-{high:g} at baseline; "
                      f"{after_low:g}-{after_high:g} at the last visit")
    table.add_row("Adverse events (patients)", _counts(data["adverse_events"]))
    if data["findings"]:
        table.add_row("Findings recorded", _counts(data["findings"]))
    console.print(table)
    for invalid in data["invalid"]:
        console.print(f"not included: {invalid['file']} (invalid; see the errors above)",
                      style="red", markup=False)
    console.print("CID: the study's definition (PRINTO and skin DAS = 0) at a visit within 183 "
                  "days of the JAK-inhibitor start, judged at each patient's last visit.",
                  style="dim", markup=False)
