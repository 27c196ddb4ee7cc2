"""Benchmark cohorts at scale: ``python -m jdm_cds.bench_scale`` (``make bench-scale``).

Generates a cohort (``jdm_cds.bench``'s patients) as YAML files, JSON files and one JSON
Lines file, then runs ``jdm-cds cohort --format jsonl`` on each, as a separate process,
with ``--jobs 1``, ``--jobs 2`` and a Dask LocalCluster of two workers; prints, for each
format and runner, patients/s and the peak resident memory (of the largest process, and of
all the run's processes together), then the ratios ``--jobs 2`` / ``--jobs 1`` and Dask /
``--jobs 2`` and whether every run wrote the same bytes. Also the start-up time of
``jdm-cds evaluate examples/patient-mda5.yaml`` against ``python -c pass``, run side by side
(medians; byte code cached, as an installed package runs). Wall-clock figures: the load
average is printed; on a shared machine, say so.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
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


def _environment() -> dict[str, str]:
    """This environment, but with Python's byte code cached as an installed package has it
    (``PYTHONDONTWRITEBYTECODE`` set would compile every module from source at each start)."""
    return {name: value for name, value in os.environ.items()
            if name != "PYTHONDONTWRITEBYTECODE"}


def _command() -> list[str]:
    return [str(Path(sys.executable).parent / "jdm-cds")]


@dataclass(frozen=True)
class Run:
    seconds: float  # wall-clock
    largest_mib: float  # peak RSS of its largest process (the command or a worker)
    total_mib: float  # peak of the RSS of all its processes together
    code: int  # exit code


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants (Linux /proc; just ``pid`` elsewhere)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as children:
                    todo += [int(child) for child in children.read().split()]
        except OSError:
            continue
    return found


def _memory_mib(pids: list[int]) -> tuple[float, float]:
    """The largest peak RSS of one of ``pids`` so far (its own high-water mark since it
    started its program), and their RSS now, together."""
    largest = total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as status:
                fields = dict(line.split(":", 1) for line in status if ":" in line)
            largest = max(largest, int(fields["VmHWM"].split()[0]))
            total += int(fields["VmRSS"].split()[0])
        except (OSError, KeyError, IndexError, ValueError):
            continue  # gone meanwhile, or a kernel thread
    return largest / 1024, total / 1024


def run_once(args: list[str], out: Path, every: float = 0.1) -> Run:
    """Run ``args`` with standard output to ``out``: its wall time, its peak memory (from
    its processes, sampled every ``every`` seconds: a run shorter than that shows 0), its
    exit code."""
    begin = time.perf_counter()
    with out.open("wb") as sink:
        process = subprocess.Popen(args, stdout=sink, stderr=subprocess.DEVNULL,
                                   env=_environment())
        peaks = [0.0, 0.0]
        finished = threading.Event()

        # Sampled rather than taken from wait4's rusage, whose maximum RSS counts the copy
        # of this process that the child was before it started its program.
        def sample() -> None:
            while not finished.wait(every):
                largest, total = _memory_mib(_tree(process.pid))
                peaks[:] = max(peaks[0], largest), max(peaks[1], total)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        code = process.wait()
        seconds = time.perf_counter() - begin
        finished.set()
        sampler.join()
    return Run(seconds, peaks[0], peaks[1], code)


def startup(repeat: int) -> dict[str, tuple[float, float]]:
    """Median wall and CPU seconds (user + system) of ``jdm-cds evaluate
    examples/patient-mda5.yaml`` ("jdm") and of ``python3.11 -c pass`` ("bare": the
    interpreter this environment was made from, without it), run alternately so that both
    see the same load."""
    example = Path(__file__).resolve().parent.parent / "examples" / "patient-mda5.yaml"
    jdm = [str(Path(sys.executable).parent / "jdm-cds"), "evaluate", str(example)]
    bare = [getattr(sys, "_base_executable", sys.executable), "-c", "pass"]
    wall: dict[str, list[float]] = {"jdm": [], "bare": []}
    cpu: dict[str, list[float]] = {"jdm": [], "bare": []}
    for _ in range(repeat):  # side by side, so that both see the same load
        for name, args in (("bare", bare), ("jdm", jdm)):
            begin = time.perf_counter()
            process = subprocess.Popen(args, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL, env=_environment())
            _, status, usage = os.wait4(process.pid, 0)
            process.returncode = os.waitstatus_to_exitcode(status)
            wall[name].append(time.perf_counter() - begin)
            cpu[name].append(usage.ru_utime + usage.ru_stime)
    return {name: (statistics.median(wall[name]), statistics.median(cpu[name]))
            for name in wall}


def ratios(runs: dict[str, Run]) -> str:
    """The speed-ups the targets name, from runs of the same input in one sitting."""
    said = []
    if "jobs1" in runs and "jobs2" in runs:
        said.append(f"--jobs 2 / --jobs 1: {runs['jobs1'].seconds / runs['jobs2'].seconds:.2f}x "
                    "(target >= 1.7x)")
    if "jobs2" in runs and "dask2" in runs:
        said.append(f"Dask time / --jobs 2 time: "
                    f"{runs['dask2'].seconds / runs['jobs2'].seconds:.2f}x (target <= 1.5x)")
    return "; ".join(said) or "ratios: need --runners jobs1 jobs2 (and dask2)"


def main(argv: Sequence[str] | None = None, out: Callable[[str], None] = print) -> int:
    parser = argparse.ArgumentParser(prog="python -m jdm_cds.bench_scale", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patients", type=int, nargs="+", default=[10_000])
    parser.add_argument("--visits", type=int, default=6)
    parser.add_argument("--formats", nargs="+", choices=FORMATS, default=list(FORMATS))
    parser.add_argument("--runners", nargs="+", choices=sorted(RUNNERS),
                        default=list(RUNNERS))
    parser.add_argument("--startup", type=int, default=10, help="start-up runs (0: none)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    out(f"machine: {os.cpu_count()} cores, load average "
        f"{', '.join(f'{x:.1f}' for x in os.getloadavg())} (wall-clock figures)")
    if args.startup:
        times = startup(args.startup)
        (jdm, jdm_cpu), (bare, bare_cpu) = times["jdm"], times["bare"]
        out(f"start-up: jdm-cds evaluate examples/patient-mda5.yaml {jdm:.3f} s, python3.11 -c "
            f"pass {bare:.3f} s: {jdm / bare:.1f}x (target <= 6x); CPU {jdm_cpu:.3f} s against "
            f"{bare_cpu:.3f} s: {jdm_cpu / max(bare_cpu, 1e-3):.1f}x (medians of {args.startup}, "
            "run alternately)")
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
                runs: dict[str, Run] = {}
                for runner in args.runners:
                    target = folder / f"{fmt}-{runner}.jsonl"
                    run = runs[runner] = run_once(
                        [*_command(), "cohort", "--format", "jsonl", "--quiet",
                         *RUNNERS[runner], str(path)], target)
                    outputs.append(target.read_bytes())
                    failed += run.code != 0
                    out(f"  {fmt:5} {runner:5}: {size / run.seconds:8,.0f} patients/s "
                        f"({run.seconds:.1f} s), peak RSS {run.largest_mib:,.0f} MiB (largest "
                        f"process), {run.total_mib:,.0f} MiB (all its processes)"
                        f"{'' if run.code == 0 else f', exit {run.code}'}")
                out(f"  {fmt:5} {ratios(runs)}")
                same = all(o == outputs[0] for o in outputs)
                failed += not same
                out(f"  {fmt:5} every runner wrote the same bytes: {same}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
