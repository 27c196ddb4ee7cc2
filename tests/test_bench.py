"""`make bench` (python -m jdm_cds.bench): the cohort it generates and a small run."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from jdm_cds.bench import make_cohort
from jdm_cds.language.treatment_classes import core_treatment_classes
from jdm_cds.model.patient import Visit

ROOT = Path(__file__).parent.parent
MEASURES = [name for name in Visit.model_fields if name not in ("date", "adverse_events")]


def test_cohort_is_seeded_and_realistic() -> None:
    cohort = make_cohort(200, 6, seed=7)

    assert cohort == make_cohort(200, 6, seed=7)
    assert cohort != make_cohort(200, 6, seed=8)
    assert len({p.id for p in cohort}) == 200
    assert all(len(p.visits) == 6 for p in cohort)
    jak_inhibitors = core_treatment_classes().drugs("jak_inhibitor")
    on_jak = [p for p in cohort if any(t.drug in jak_inhibitors for t in p.treatments)]
    assert 0.7 < len(on_jak) / len(cohort) < 1
    visits = [v for p in cohort for v in p.visits]
    missing = sum(getattr(v, name) is None for v in visits for name in MEASURES)
    assert missing > 0
    assert any(v.ck_u_l is not None and v.ck_u_l > 1000 for v in visits)
    assert any(v.ck_u_l is not None and v.ck_u_l <= 150 for v in visits)


def test_bench_runs_and_prints_every_number() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "jdm_cds.bench", "--patients", "50", "--visits", "3", "--long"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)

    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    assert "cohort: 50 patients x 3 visits" in out
    for what in (r"with the working", r"explain=False"):
        assert re.search(rf"pipeline \({what}\): 50 evaluations in [\d.]+ s = [\d,]+ "
                         r"evaluations/s", out)
    assert len(re.findall(r"latency per evaluation: p50 [\d.]+ ms, p99 [\d.]+ ms", out)) == 2
    assert re.search(r"memory \(RSS\): [\d.]+ MiB after 50 evaluations, [\d.]+ MiB after 500:",
                     out)
    floors = re.findall(r"durable_rules floor \(the same facts into the same rule base, "
                        r"interleaved\): [\d,]+ evaluations/s; pipeline = ([\d.]+) x floor "
                        r"in wall-clock time, ([\d.]+) x in CPU time", out)
    assert len(floors) == 2
    # The pipeline does the engine's work and more: it cannot be faster than the engine alone.
    assert all(float(ratio) > 1 for pair in floors for ratio in pair)
    assert re.search(r"peak memory \(max RSS\): [\d.]+ MiB", out)


def test_bench_refuses_a_bad_option() -> None:
    done = subprocess.run([sys.executable, "-m", "jdm_cds.bench", "--packs", "nope"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)

    assert done.returncode == 2
    assert "invalid choice" in done.stderr


def test_bench_scale_measures_each_run_and_the_ratios(tmp_path: Path) -> None:
    from jdm_cds.bench_scale import Run, ratios, run_once

    # A child holding 120 MiB in a grandchild, then a small run: each run's own peak.
    hold = ("import subprocess, sys; subprocess.run([sys.executable, '-c', "
            "'b = bytearray(120 * 2**20); import time; time.sleep(0.8); print(len(b))'])")
    big = run_once([sys.executable, "-c", hold], tmp_path / "big.txt")
    small = run_once([sys.executable, "-c", "print(1)"], tmp_path / "small.txt")
    assert (big.code, small.code) == (0, 0)
    assert (tmp_path / "big.txt").read_text() == f"{120 * 2**20}\n"
    assert big.largest_mib >= 120
    assert big.total_mib >= 120
    assert small.largest_mib < 100

    runs = {"jobs1": Run(10.0, 1, 1, 0), "jobs2": Run(5.0, 1, 1, 0), "dask2": Run(6.0, 1, 1, 0)}
    assert ratios(runs) == ("--jobs 2 / --jobs 1: 2.00x (target >= 1.7x); Dask time / "
                            "--jobs 2 time: 1.20x (target <= 1.5x)")


def test_bench_scale_reuses_a_kept_cohort_and_says_whether_memory_is_flat(
        tmp_path: Path) -> None:
    from jdm_cds.bench_scale import Run, Sample, cohort_in, flatness

    said: list[str] = []
    first = cohort_in(tmp_path, 4, 2, 1, ["yaml", "jsonl"], said.append)
    (first["yaml"] / "0000000.yaml").write_text("changed")
    again = cohort_in(tmp_path, 4, 2, 1, ["jsonl"], said.append)
    more = cohort_in(tmp_path, 4, 2, 1, ["json"], said.append)  # not there: written anew

    assert again == {"jsonl": first["jsonl"]}
    assert "written to" in said[0] and "reused" in said[1] and "written to" in said[2]
    assert sorted(p.name for p in more["json"].iterdir()) == [f"{i:07d}.json" for i in range(4)]
    assert len(first["jsonl"].read_bytes().splitlines()) == 4  # kept, with the rest
    assert (first["yaml"] / "0000000.yaml").read_text().startswith("antibodies:")

    flat = Run(10.0, 1, 1, 0, samples=tuple(Sample(t / 2, 100 + (t > 2) * 10)
                                            for t in range(1, 21)))
    tenths = ", ".join(["100"] + ["110"] * 9)
    assert flatness(flat) == (f"RSS of all processes at each tenth of the run: {tenths} MiB; "
                              "last tenth's peak 110 MiB, +10 MiB (+10.0%) from the first "
                              "tenth")
    assert flatness(Run(0.05, 0, 0, 0)) == "no samples (the run was too short)"


def test_bench_scale_runs_each_runner_and_evaluate_on_a_small_cohort(tmp_path: Path) -> None:
    from jdm_cds.bench_scale import main

    said: list[str] = []
    code = main(["--patients", "40", "--visits", "3", "--formats", "jsonl", "--runners",
                 "jobs1", "jobs2", "--startup", "0", "--memory"], said.append)

    assert code == 0
    assert any(line.startswith("  jsonl jobs1:") and "patients/s" in line for line in said)
    assert any("--jobs 2 / --jobs 1:" in line for line in said)
    assert "  jsonl every runner wrote the same bytes: True" in said
    assert any(line.startswith("  evaluate on 40 YAML files:") for line in said)


def test_bench_scale_start_up_runs_warm_and_cold_beside_python() -> None:
    from jdm_cds.bench_scale import startup_lines

    lines = startup_lines(1)

    assert lines[0].startswith("start-up (medians of 1, run in turn): python3.11 -c pass ")
    assert ["rule base cached" in line for line in lines[1:]] == [True, False]
    assert ["cache empty" in line for line in lines[1:]] == [False, True]
    for line in lines[1:]:
        assert re.search(r"patient-mda5\.yaml, .*: [0-9.]+ s, [0-9.]+x \(target <= 6x\); "
                         r"CPU [0-9.]+ s, [0-9.]+x$", line), line
