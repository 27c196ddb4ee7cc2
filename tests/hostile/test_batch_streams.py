"""A batch streams: each patient is written before the next is judged, and no assessment
is kept once written, so memory does not grow with the number of files.

Before, ``evaluate`` held every assessment until the end (10,000 files: 2.5 GB) and wrote
nothing until the last was judged.
"""

from __future__ import annotations

import gc
import weakref
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from jdm_cds.cli import app
from jdm_cds.evaluate import Evaluator

ROOT = Path(__file__).resolve().parent.parent.parent
EXAMPLE = ROOT / "examples" / "patient-mda5.yaml"


@pytest.mark.parametrize("output", ["text", "json", "jsonl"])
def test_each_patient_is_written_before_the_next_is_judged_and_then_let_go(
        output: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = []
    for number in range(6):
        path = tmp_path / f"p{number}.yaml"
        path.write_text(EXAMPLE.read_text(encoding="utf-8").replace("EX-MDA5", f"PATIENT-{number}"),
                        encoding="utf-8")
        files.append(path)
    out = tmp_path / f"out.{output}"
    seen: list[tuple[str, str]] = []  # (patient judged now, output written so far)
    alive: list[weakref.ref[Any]] = []  # every assessment made
    living: list[int] = []  # how many of them were alive when the next was judged
    evaluate = Evaluator.evaluate

    def watching(self: Evaluator, patient: Any, at: Any = None, **options: Any) -> Any:
        gc.collect()
        living.append(sum(ref() is not None for ref in alive))
        seen.append((patient.id, out.read_text(encoding="utf-8") if out.exists() else ""))
        assessment = evaluate(self, patient, at, **options)
        alive.append(weakref.ref(assessment))
        return assessment

    monkeypatch.setattr(Evaluator, "evaluate", watching)
    result = CliRunner().invoke(app, ["evaluate", "--jobs", "1", "--format", output,
                                      "-o", str(out), *map(str, files)])

    assert result.exit_code == 0, result.output
    assert [patient for patient, _ in seen] == [f"PATIENT-{n}" for n in range(6)]
    for number, (_, written) in enumerate(seen):
        assert all(f"PATIENT-{earlier}" in written for earlier in range(number)), number
    assert max(living) <= 2  # the one being written, at most: not every one so far
