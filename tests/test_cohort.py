"""`jdm-cds cohort`: the study's ten reconstructed cases reproduce its published results."""

from __future__ import annotations

import json
import re
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from jdm_cds.cli import app
from jdm_cds.model.assessment import Assessment
from jdm_cds.model.patient import Patient

ROOT = Path(__file__).resolve().parent.parent
CASES = ROOT / "features" / "study_cases"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["cohort", *args])
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def study() -> dict[str, Any]:
    code, out, err = run(str(CASES), "--format", "json")
    assert (code, err) == (0, "")
    summary: dict[str, Any] = json.loads(out)
    return summary


def test_patients_and_drugs(study: dict[str, Any]) -> None:
    assert study["patients"] == 10
    totals = {drug: pair[1] for drug, pair in study["cid_within_6_months"]["by_drug"].items()}
    assert totals == {"ruxolitinib": 7, "baricitinib": 3}
    assert study["invalid"] == []


def test_cid_within_6_months_by_antibody(study: dict[str, Any]) -> None:
    cid = study["cid_within_6_months"]
    assert cid["n"] == 5
    assert cid["undecided"] == 0
    by_antibody = dict(cid["by_antibody"])
    assert by_antibody.pop("anti-MDA5") == [2, 2]
    assert by_antibody.pop("anti-NXP2") == [3, 4]
    assert by_antibody.pop("anti-TIF1g") == [0, 3]
    # The tenth patient's antibody is not published: one patient, without CID, whatever
    # group the reconstruction chose.
    assert list(by_antibody.values()) == [[0, 1]]


def test_steroid_dose_in_the_cid_patients(study: dict[str, Any]) -> None:
    steroid = study["steroid_mg_per_kg_day_in_cid"]
    assert steroid["patients"] == 5
    assert steroid["before_mean"] == pytest.approx(1.1)
    assert steroid["before_range"] == [0.35, 2]
    assert steroid["after_mean"] == pytest.approx(0.1)
    assert steroid["after_range"] == [0, 0.3]
    assert steroid["stopped"] == 2
    assert steroid["unknown"] == 0


def test_every_cid_patient_could_withdraw_plasma_exchange_immunoadsorption_and_others(
        study: dict[str, Any]) -> None:
    on_at_baseline = study["withdrawal_on_at_baseline_in_cid"]
    assert on_at_baseline == {"plasma_exchange": 3, "immunoadsorption": 1,
                              "immunosuppressants": 4}
    assert study["withdrawal_eligible_in_cid"] == on_at_baseline
    assert all(study["every_responder_could_withdraw"].values())
    # P09 reaches CID after the window, on methotrexate: eligible, but not a responder.
    assert study["withdrawal_eligible"] == {**on_at_baseline, "immunosuppressants": 5}


def test_the_study_population_is_in_the_data(study: dict[str, Any]) -> None:
    assert study["disease_course"] == {"new_onset": 1, "refractory": 9}
    assert study["indications"] == {"muscle": 8, "skin_ulceration": 2}
    assert study["jak_inhibitor"] == {"baricitinib": 3, "ruxolitinib": 7}
    assert study["findings"] == {"muscle_biopsy": 1}
    above = study["ifn_alpha_above_normal"]
    assert above["at_jak_start"] == [10, 10]
    assert above["within_normal_at_last_visit"] == {"responders": [5, 5],
                                                    "non_responders": [5, 5]}


def test_adverse_events_and_ifn_alpha(study: dict[str, Any]) -> None:
    events = study["adverse_events"]
    assert (events["herpes_zoster"], events["skin_abscess"]) == (3, 2)
    ifn = study["ifn_alpha_fg_ml"]
    # High at baseline in all, normal later in all: every last value is below every
    # baseline value.
    assert ifn["last_visit_range"][1] < ifn["baseline_range"][0]


def test_case_files_record_what_the_patient_model_cannot() -> None:
    texts = [path.read_text(encoding="utf-8") for path in sorted(CASES.glob("P*.yaml"))]
    assert [path.stem for path in sorted(CASES.glob("P*.yaml"))] == [
        f"P{n:02d}" for n in range(1, 11)]
    assert all("RECONSTRUCTION from the published aggregate results" in t and
               "NOT the real patient" in t for t in texts)
    courses = [re.search(r"Disease course: ([\w-]+)", t) for t in texts]
    assert sorted(m.group(1) for m in courses if m) == ["new-onset"] + ["refractory"] * 9
    indications = [re.search(r"Indication for the JAK inhibitor: ([\w ]+)\.", t) for t in texts]
    assert sorted(m.group(1) for m in indications if m) == (
        ["refractory muscle involvement"] * 8 + ["ulcerative skin disease"] * 2)


def test_text_reads_like_the_results_paragraph() -> None:
    code, out, _ = run(str(CASES))
    assert code == 0
    assert "ruxolitinib 7, baricitinib 3" in out
    assert "anti-MDA5 2/2, anti-NXP2 3/4, anti-TIF1g 0/3" in out
    assert "1.1 (range 0.35-2) at baseline; 0.1 (range 0-0.3) at the last visit" in out


def test_invalid_files_are_listed_and_the_rest_summarised(tmp_path: Path) -> None:
    for name in ("P01.yaml", "P07.yaml"):
        shutil.copy(CASES / name, tmp_path / name)
    (tmp_path / "bad.yaml").write_text("id: X\nvisits:\n  - {date: 2020-01-01, ck_u_l: -1}\n",
                                       encoding="utf-8")
    code, out, err = run(str(tmp_path), "--format", "json")
    summary = json.loads(out)
    assert code == 1
    assert summary["patients"] == 2
    assert summary["cid_within_6_months"]["n"] == 1
    assert [f["file"] for f in summary["invalid"]] == [str(tmp_path / "bad.yaml")]
    assert "visits[0].ck_u_l: must be >= 0" in summary["invalid"][0]["errors"][0]
    assert "bad.yaml: visits[0].ck_u_l" in err
    assert "Traceback" not in out + err


def test_an_open_window_is_counted_as_undecided_not_as_no_cid(tmp_path: Path) -> None:
    text = (CASES / "P01.yaml").read_text(encoding="utf-8")
    # Keep the baseline and day-45 visits only: the 6-month window is still open.
    (tmp_path / "early.yaml").write_text(text.split("  - date: 2018-06-03")[0], encoding="utf-8")
    code, out, _ = run(str(tmp_path), "--format", "json")
    cid = json.loads(out)["cid_within_6_months"]
    assert code == 0
    # Undecided is no evidence either way: it counts in no group's total.
    assert (cid["n"], cid["undecided"], cid["by_antibody"]) == (0, 1, {})


def count_evaluations(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """How many times each patient (by id) is judged from now on, in this process."""
    from jdm_cds.evaluate import Evaluator

    calls: Counter[str] = Counter()
    original = Evaluator.evaluate

    def counted(self: Evaluator, patient: Patient, *args: Any, **kwargs: Any) -> Assessment:
        calls[patient.id] += 1
        return original(self, patient, *args, **kwargs)

    monkeypatch.setattr(Evaluator, "evaluate", counted)
    return calls


def test_json_lines_judge_each_patient_once_and_write_the_same_bytes(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from jdm_cds.cohort.local import in_process
    from jdm_cds.cohort.work import Task
    from jdm_cds.defaults import default_evaluator
    from jdm_cds.inputs import Inputs

    calls = count_evaluations(monkeypatch)
    code, out, err = run(str(CASES), "--format", "jsonl", "--jobs", "1")
    assert (code, err) == (0, "")
    ids = [json.loads(line)["patient_id"] for line in out.splitlines()]
    assert len(ids) == 10
    assert calls == Counter(ids)  # each patient once, at its last visit

    # What the run wrote before it skipped the summary: the same lines, byte for byte,
    # from a run that judges each patient at its baseline and every visit since as well.
    calls.clear()
    summarised = list(in_process(Inputs([CASES]), Task("cohort", json="line", explain=False),
                                 [default_evaluator()]))
    assert all(result.value is not None for result in summarised)
    assert min(calls.values()) > 2
    assert b"".join(result.json + b"\n" for result in summarised
                    if result.json is not None) == out.encode()


def test_json_lines_leave_out_the_working_unless_asked() -> None:
    """Without --explain a line is the assessment evaluate gives less each judgement's
    tests and would_decide; with it, exactly evaluate's."""
    code, lean, _ = run(str(CASES), "--format", "jsonl", "--jobs", "1")
    assert code == 0
    code, full, _ = run(str(CASES), "--format", "jsonl", "--jobs", "1", "--explain")
    assert code == 0
    shown = CliRunner().invoke(app, ["evaluate", "--format", "jsonl", "--jobs", "1",
                                     str(CASES)])
    assert full == shown.stdout
    assert len(lean) < len(full)
    for lean_line, full_line in zip(lean.splitlines(), full.splitlines(), strict=True):
        expected = json.loads(full_line)
        for judgement in expected["judgements"].values():
            judgement["because"].pop("criteria", None)
            judgement["would_decide"] = None
        assert json.loads(lean_line) == expected
