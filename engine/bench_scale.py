"""Benchmark cohorts at scale: ``python -m jdm_cds.bench_scale`` (``make bench-scale``).

Generates a cohort (``jdm_cds.bench``'s patients) as YAML files, JSON files and one JSON
Lines file, then runs ``jdm-cds cohort --format jsonl`` on each, as a separate process,
with ``--jobs 1``, ``--jobs 2`` and a Dask LocalCluster of two workers; prints patients/s,
the peak resident memory of the largest process, and whether every run wrote the same
bytes. Also the start-up time of ``jdm-cds evaluate examples/patient-mda5.yaml`` against
``python -c pass``, side by side. Wall-clock figures: on a shared machine, say so.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import orjson
import yaml

from jdm_cds.bench import make_patient

RUNNERS = {"jobs1": ["--jobs", "1"], "jobs2": ["--jobs", "2"],
           "dask2": ["--scheduler", "dask", "--jobs", "2"]}
FORMATS = ("yaml", "json", "jsonl")


def write_cohort(folder: Path, patients: int, visits: int, seed: int,
                 formats: Sequence[str]) -> dict[str, Path]:
    rng = random.Random(seed)
    where = {fmt: folder / fmt for fmt in formats if fmt != "jsonl"}
    for path in where.values():
        path.mkdir()
    lines = (folder / "cohort.jsonl").open("wb") if "jsonl" in formats else None
    for index in range(patients):
        data = make_patient(rng, index, visits).model_dump(mode="json", exclude_none=True)
        if "yaml" in where:
            (where["yaml"] / f"{index:07d}.yaml").write_text(yaml.safe_dump(data))
        if "json" in where:
            (where["json"] / f"{index:07d}.json").write_bytes(orjson.dumps(data))
        if lines is not None:
            lines.write(orjson.dumps(data) + b"\n")
    if lines is not None:
        lines.close()
        return {**where, "jsonl": folder / "cohort.jsonl"}
    return where


def _command() -> list[str]:
    return [str(Path(sys.executable).parent / "jdm-cds")]


def run_once(args: list[str], out: Path) -> tuple[float, float, int]:
    """Wall seconds, the peak RSS (MiB) of the largest child process so far (the system
    keeps one maximum over every child waited for), and the exit code."""
    begin = time.perf_counter()
    with out.open("wb") as sink:
        done = subprocess.run(args, stdout=sink, stderr=subprocess.DEVNULL, check=False)
    seconds = time.perf_counter() - begin
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return seconds, peak, done.returncode


def startup(repeat: int) -> tuple[float, float]:
    example = Path(__file__).resolve().parent.parent / "examples" / "patient-mda5.yaml"
    jdm = [str(Path(sys.executable).parent / "jdm-cds"), "evaluate", str(example)]
    bare = [sys.executable, "-c", "pass"]
    times: dict[str, list[float]] = {"jdm": [], "bare": []}
    for _ in range(repeat):  # side by side, so that both see the same load
        for name, args in (("bare", bare), ("jdm", jdm)):
            begin = time.perf_counter()
            subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           check=False)
            times[name].append(time.perf_counter() - begin)
    return min(times["jdm"]), min(times["bare"])


def main(argv: Sequence[str] | None = None, out: Callable[[str], None] = print) -> int:
    parser = argparse.ArgumentParser(prog="python -m jdm_cds.bench_scale", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patients", type=int, nargs="+", default=[10_000])
    parser.add_argument("--visits", type=int, default=6)
    parser.add_argument("--formats", nargs="+", choices=FORMATS, default=list(FORMATS))
    parser.add_argument("--runners", nargs="+", choices=sorted(RUNNERS),
                        default=list(RUNNERS))
    parser.add_argument("--startup", type=int, default=5, help="start-up runs (0: none)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    out(f"machine: {os.cpu_count()} cores, load average "
        f"{', '.join(f'{x:.1f}' for x in os.getloadavg())} (wall-clock figures)")
    if args.startup:
        jdm, bare = startup(args.startup)
        out(f"start-up: jdm-cds evaluate examples/patient-mda5.yaml {jdm:.2f} s, python -c pass "
            f"{bare:.3f} s: {jdm / bare:.1f}x (target <= 6x; best of {args.startup})")
    failed = 0
    for size in args.patients:
        with tempfile.TemporaryDirectory(prefix="jdm-cds-bench-") as tmp:
            folder = Path(tmp)
            begin = time.perf_counter()
            inputs = write_cohort(folder, size, args.visits, args.seed, args.formats)
            out(f"cohort: {size:,} patients x {args.visits} visits, written in "
                f"{time.perf_counter() - begin:.1f} s")
            for fmt, path in inputs.items():
                outputs = []
                for runner in args.runners:
                    target = folder / f"{fmt}-{runner}.jsonl"
                    seconds, peak, code = run_once(
                        [*_command(), "cohort", "--format", "jsonl", "--quiet",
                         *RUNNERS[runner], str(path)], target)
                    outputs.append(target.read_bytes())
                    failed += code != 0
                    out(f"  {fmt:5} {runner:5}: {size / seconds:8,.0f} patients/s "
                        f"({seconds:.1f} s), peak RSS of the largest process so far {peak:,.0f} MiB"
                        f"{'' if code == 0 else f', exit {code}'}")
                same = all(o == outputs[0] for o in outputs)
                failed += not same
                out(f"  {fmt:5} every runner wrote the same bytes: {same}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
