"""Running on every core: the same results in the same order as one process, and a worker
killed by a signal costs only the patients it held."""

from __future__ import annotations

import dataclasses
import io
import os
import pickle
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest
from typer.testing import CliRunner

from jdm_cds.cli import app
from jdm_cds.cohort.parallel import ProcessPool
from jdm_cds.cohort.work import Result, Task, run_chunk
from jdm_cds.inputs import Inputs, WorkItem
from jdm_cds.model.reading import Problem

ROOT = Path(__file__).resolve().parent.parent
CASES = ROOT / "features" / "study_cases"
EXAMPLE = ROOT / "examples" / "patient-mda5.yaml"
BAD = Path(__file__).parent / "data" / "bad_patients"


def run(*args: str | Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        result.exception)
    return result.exit_code, result.stdout, result.stderr


def test_jobs_2_gives_byte_identical_json_lines_to_jobs_1() -> None:
    inputs = [CASES, BAD / "empty.yaml", EXAMPLE]
    one = run("evaluate", "--format", "jsonl", "--jobs", "1", *inputs)
    two = run("evaluate", "--format", "jsonl", "--jobs", "2", *inputs)

    assert one[0] == two[0] == 1
    assert one[1] == two[1]
    assert len(one[1].splitlines()) == 12
    assert one[2] == two[2]


def test_cohort_on_two_processes_gives_the_same_summary() -> None:
    one = run("cohort", "--format", "json", "--jobs", "1", CASES)
    two = run("cohort", "--format", "json", "--jobs", "2", CASES)

    assert one == two
    assert one[0] == 0


def kill_on_marked(items: Sequence[WorkItem], task: Task) -> list[Result]:
    """A worker's chunk runner that dies by SIGKILL on a patient file named kill-*."""
    if any(Path(item.label).name.startswith("kill-") for item in items):
        os.kill(os.getpid(), signal.SIGKILL)
    return run_chunk(items, task)


@pytest.mark.parametrize("chunk", [1, 3])
def test_a_killed_worker_costs_only_the_patients_it_held(tmp_path: Path, chunk: int) -> None:
    names = [f"p{i:02d}.yaml" for i in range(12)]
    names[4] = "kill-p04.yaml"
    for index, name in enumerate(names):
        (tmp_path / name).write_text(EXAMPLE.read_text().replace("EX-MDA5", f"P-{index}"))
    files = [tmp_path / name for name in names]

    results = list(ProcessPool(Task("assess"), jobs=2, chunk=chunk,
                               run=kill_on_marked).map(Inputs(files)))

    assert [r.index for r in results] == list(range(12))
    lost = [r for r in results if r.error is not None]
    held = {i for i in range(12) if i // chunk == 4 // chunk}  # the chunk that held kill-*
    assert {r.index for r in lost} == held
    for result in lost:
        assert "was killed by signal SIGKILL" in result.error[0]
    assert [r.patient_id for r in results if r.error is None] == [
        f"P-{i}" for i in range(12) if i not in held]


def test_json_lines_input_one_patient_a_line_on_one_or_two_processes(tmp_path: Path) -> None:
    import random

    import orjson

    from jdm_cds.bench import make_patient

    rng = random.Random(7)
    source = tmp_path / "cohort.jsonl"
    lines = [orjson.dumps(make_patient(rng, i, 4).model_dump(mode="json", exclude_none=True))
             for i in range(40)]
    lines.insert(5, b'{"id": "NO-VISITS"}')
    source.write_bytes(b"\n".join(lines) + b"\n")

    one = run("evaluate", "--format", "jsonl", "--jobs", "1", source)
    two = run("evaluate", "--format", "jsonl", "--jobs", "2", source)

    assert one == two
    assert one[0] == 1
    entries = [orjson.loads(line) for line in one[1].splitlines()]
    assert len(entries) == 41
    assert entries[5] == {"file": f"{source}:6", "error": "visits: required field is missing"}
    assert [e["patient_id"] for e in entries[6:8]] == ["BENCH-000005", "BENCH-000006"]
    assert one[2] == f"{source}:6: visits: required field is missing\n"


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_on_a_terminal_only_and_never_with_quiet(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from jdm_cds.cli import batch

    monkeypatch.setattr(batch, "PROGRESS_AFTER", 0.0)
    done = [Result(i, f"p{i}.yaml", error=["bad"] if i == 2 else None) for i in range(5)]
    shown = {}
    for case, stream, quiet in (("terminal", _Terminal(), False),
                                ("quiet", _Terminal(), True), ("pipe", io.StringIO(), False)):
        monkeypatch.setattr(sys, "stderr", stream)
        assert list(batch._with_progress(iter(done), 5, quiet)) == done
        shown[case] = stream.getvalue()

    assert "patients/s" in shown["terminal"]
    assert "5/5" in shown["terminal"]
    assert "1 errors" in shown["terminal"]
    assert shown["quiet"] == shown["pipe"] == ""


def big_first_chunk(items: Sequence[WorkItem], task: Task) -> list[Result]:
    """A chunk runner whose first chunk's answer is large: the parent is still reading it
    when the next chunk's answer arrives, so both are taken in one round."""
    results = run_chunk(items, task)
    if items[0].index == 0:
        results[0].json = b" " * 8_000_000
    return results


def test_a_window_emptied_in_one_round_is_fed_again(tmp_path: Path) -> None:
    # One worker, two chunks in flight (the whole window): both answers are taken in one
    # round, and the run must feed the next chunks rather than wait for nothing.
    files = []
    for index in range(5):
        files.append(tmp_path / f"p{index}.yaml")
        files[-1].write_text(EXAMPLE.read_text().replace("EX-MDA5", f"P-{index}"))
    pool = ProcessPool(Task("assess"), jobs=1, chunk=1, run=big_first_chunk)
    results: list[Result] = []
    runner = threading.Thread(target=lambda: results.extend(pool.map(Inputs(files))),
                              daemon=True)
    runner.start()
    runner.join(timeout=120)

    assert not runner.is_alive(), "the pool waited with nothing in flight"
    assert [r.patient_id for r in results] == [f"P-{i}" for i in range(5)]


@pytest.mark.parametrize("explain", [False, True])
def test_the_json_written_is_orjson_of_the_models_json_dump(explain: bool) -> None:
    # The entries are written by the model's own JSON writer: the bytes orjson writes of
    # model_dump(mode="json"), as they always were, one line or indented.
    import random

    import orjson

    from jdm_cds.bench import make_patient
    from jdm_cds.cohort.work import evaluator_of, run_item
    from jdm_cds.model.reading import load_patient

    evaluator = evaluator_of(Task("assess").engines[0])
    rng = random.Random(3)
    patients = [load_patient(path) for path in [EXAMPLE, *sorted(CASES.glob("*.yaml"))]]
    patients += [make_patient(rng, index, 6) for index in range(30)]
    for how, option in (("line", 0), ("indent", orjson.OPT_INDENT_2)):
        task = Task("assess", json=how, explain=explain)  # type: ignore[arg-type]
        for index, patient in enumerate(patients):
            item = WorkItem(index, patient.id, line=patient.model_dump_json().encode())
            written = run_item(item, task, [evaluator]).json
            expected = evaluator.evaluate(patient, explain=explain).model_dump(mode="json")
            assert written == orjson.dumps(expected, option=option)


def test_results_carry_the_labels_of_this_process(tmp_path: Path) -> None:
    # The first label of each patient is kept to the end of a run (to report a patient id
    # read twice): a result brings back the item's own label, not a copy made by a worker.
    files = []
    for index in range(3):
        files.append(tmp_path / f"p{index}.yaml")
        files[-1].write_text(EXAMPLE.read_text().replace("EX-MDA5", f"P-{index}"))
    items = list(Inputs(files))

    results = list(ProcessPool(Task("assess"), jobs=1).map(items))

    assert [r.patient_id for r in results] == ["P-0", "P-1", "P-2"]
    assert all(r.label is item.label for r, item in zip(results, items, strict=True))


def test_a_work_item_is_sent_to_a_worker_whole() -> None:
    # Every field, each its own value, comes back from pickling in its place.
    values = {"index": 7, "label": "a.yaml", "path": "a.yaml", "text": "id: a", "line": b"{}",
              "failure": (Problem("-", "unreadable"),), "resources": ({"id": "r"},),
              "fhir_mapping": "mapping.yaml"}
    assert [field.name for field in dataclasses.fields(WorkItem)] == list(values)
    item = WorkItem(**values)  # type: ignore[arg-type]
    for protocol in range(2, pickle.HIGHEST_PROTOCOL + 1):
        copy = pickle.loads(pickle.dumps(item, protocol=protocol))
        assert copy == item and type(copy) is WorkItem
    default = WorkItem(3, "b.yaml")
    assert pickle.loads(pickle.dumps(default)) == default


def test_the_process_server_imports_the_workers_modules_first(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Imported once by the server that forks the workers, not again by each worker; the
    # command line only when this process has it (a worker runs the main module again).
    import multiprocessing.forkserver

    import jdm_cds.cli.program
    from jdm_cds.cohort import parallel

    engine = {"jdm_cds.cohort.parallel", "jdm_cds.defaults"}
    assert set(parallel.worker_modules()) == engine | {"jdm_cds.cli.program"}
    monkeypatch.delitem(sys.modules, "jdm_cds.cli.program")  # a process that is not the program
    assert set(parallel.worker_modules()) == engine
    monkeypatch.setitem(sys.modules, "jdm_cds.cli.program", jdm_cds.cli.program)

    context = parallel._context()
    if context.get_start_method() == "forkserver":
        preloaded = multiprocessing.forkserver._forkserver._preload_modules
        assert set(preloaded) == engine | {"jdm_cds.cli.program"}
    for name in engine | {"jdm_cds.cli.program"}:  # each importable as it is named
        __import__(name)


def test_a_result_comes_back_from_a_worker_whole() -> None:
    # Every field, each its own value, comes back from pickling in its place; the defaults
    # are what a new result starts with (its own list of warnings).
    values = {"index": 7, "label": "a.yaml", "patient_id": "p", "error": ["bad"],
              "json": b"{}", "value": {"v": 1}, "tables": ("t",), "warnings": ["late"]}
    assert list(Result.__slots__) == sorted(values)
    result = Result(**values)  # type: ignore[arg-type]
    for protocol in range(2, pickle.HIGHEST_PROTOCOL + 1):
        copy = pickle.loads(pickle.dumps(result, protocol=protocol))
        assert {name: getattr(copy, name) for name in values} == values
    first, second = Result(1, "b.yaml"), Result(2, "c.yaml")
    assert (first.patient_id, first.error, first.json, first.value, first.tables,
            first.warnings) == (None, None, None, None, None, [])
    first.warnings.append("x")
    assert second.warnings == []
