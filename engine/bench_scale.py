"""Benchmark cohorts at scale: ``python -m jdm_cds.bench_scale`` (``make bench-scale``).

Generates a cohort (``jdm_cds.bench``'s patients) as YAML files, JSON files and one JSON
Lines file (``--cohort-dir``: kept there, and reused by later runs with the same size,
visits and seed), then runs ``jdm-cds cohort --format jsonl`` on each, as a separate
process, with ``--jobs 1``, ``--jobs 2`` and a Dask LocalCluster of two workers; prints,
for each format and runner, patients/s, the CPU time of all the run's processes, and the
peak resident memory (of the largest process, and of all the run's processes together),
then the ratios ``--jobs 2`` / ``--jobs 1`` and Dask / ``--jobs 2`` and whether every run
wrote the same bytes (SHA-256 of each output, which is then deleted: a million patients
write about 24 GB). ``--memory`` also runs ``jdm-cds evaluate --format jsonl`` on the
patient files (YAML, else JSON) with its resident memory sampled over the run, and says
whether it stays flat. First, the start-up time of ``jdm-cds evaluate
examples/patient-mda5.yaml`` (the whole process, its text report included) against
``python3.11 -c pass``, run in turn so that all see the same load: warm (the compiled rule
base in the cache, as every run after the first) and cold (an empty cache each time: it
compiles the packs and stores them); medians of wall-clock and CPU time, with Python's byte
code cached as an installed package has it (``--startup-only``: nothing else). Wall-clock
figures: the load average is printed before and after each run; on a shared machine, say so.
"""

from __future__ import annotations

import argparse
import hashlib
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
from jdm_cds.language.cache import CACHE_SETTING

RUNNERS = {"jobs1": ["--jobs", "1"], "jobs2": ["--jobs", "2"],
           "dask2": ["--scheduler", "dask", "--jobs", "2"]}
FORMATS = ("yaml", "json", "jsonl")


# libyaml's emitter writes the same text as PyYAML's own, five times faster.
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


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
            (where["yaml"] / f"{index:07d}.yaml").write_text(yaml.dump(data, Dumper=_DUMPER))
        if "json" in where:
            (where["json"] / f"{index:07d}.json").write_bytes(orjson.dumps(data))
        if lines is not None:
            lines.write(orjson.dumps(data) + b"\n")
    if lines is not None:
        lines.close()
        return {**where, "jsonl": folder / "cohort.jsonl"}
    return where


def cohort_in(folder: Path, patients: int, visits: int, seed: int,
              formats: Sequence[str], out: Callable[[str], None]) -> dict[str, Path]:
    """The cohort in ``folder``/``<patients>-<visits>-<seed>``: written there unless one
    in these formats already is (a file ``complete`` names its formats; a cohort that
    lacks one is written again, in its formats and these)."""
    place = folder / f"{patients}-{visits}-{seed}"
    done = place / "complete"
    have = set(done.read_text().split()) if done.exists() else set()
    paths = {fmt: place / ("cohort.jsonl" if fmt == "jsonl" else fmt) for fmt in formats}
    if have >= set(formats):
        out(f"cohort: {patients:,} patients x {visits} visits, reused from {place}")
        return paths
    if place.exists():
        import shutil

        shutil.rmtree(place)
    place.mkdir(parents=True)
    begin = time.perf_counter()
    every = sorted(have | set(formats))
    write_cohort(place, patients, visits, seed, every)
    done.write_text(" ".join(every) + "\n")
    out(f"cohort: {patients:,} patients x {visits} visits, written to {place} in "
        f"{time.perf_counter() - begin:.1f} s")
    return paths


def _environment() -> dict[str, str]:
    """This environment, but with Python's byte code cached as an installed package has it
    (``PYTHONDONTWRITEBYTECODE`` set would compile every module from source at each start)."""
    return {name: value for name, value in os.environ.items()
            if name != "PYTHONDONTWRITEBYTECODE"}


def _command() -> list[str]:
    return [str(Path(sys.executable).parent / "jdm-cds")]


@dataclass(frozen=True)
class Sample:
    seconds: float  # since the start
    total_mib: float  # the RSS of all the run's processes together


@dataclass(frozen=True)
class Run:
    seconds: float  # wall-clock
    largest_mib: float  # peak RSS of its largest process (the command or a worker)
    total_mib: float  # peak of the RSS of all its processes together
    code: int  # exit code
    cpu_seconds: float = 0.0  # user + system time of all its processes
    samples: tuple[Sample, ...] = ()  # the RSS of all its processes over the run


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


_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _measure(pids: list[int], cpu: dict[int, float]) -> tuple[float, float]:
    """The largest peak RSS of one of ``pids`` so far (its own high-water mark since it
    started its program), and their RSS now, together, in MiB; ``cpu`` gets each one's
    user + system seconds so far."""
    largest = total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as status:
                fields = dict(line.split(":", 1) for line in status if ":" in line)
            largest = max(largest, int(fields["VmHWM"].split()[0]))
            total += int(fields["VmRSS"].split()[0])
            with open(f"/proc/{pid}/stat") as stat:
                after_name = stat.read().rsplit(")", 1)[1].split()
            cpu[pid] = (int(after_name[11]) + int(after_name[12])) / _TICK
        except (OSError, KeyError, IndexError, ValueError):
            continue  # gone meanwhile, or a kernel thread
    return largest / 1024, total / 1024


def run_once(args: list[str], out: Path | None, every: float = 0.1) -> Run:
    """Run ``args`` with standard output to ``out`` (None: nowhere): its wall time, its
    peak memory and CPU time (from its processes, sampled every ``every`` seconds: a run
    shorter than that shows 0), the RSS of all its processes at each sample, its exit
    code."""
    begin = time.perf_counter()
    with (out or Path(os.devnull)).open("wb") as sink:
        process = subprocess.Popen(args, stdout=sink, stderr=subprocess.DEVNULL,
                                   env=_environment())
        peaks = [0.0, 0.0]
        cpu: dict[int, float] = {}
        samples: list[Sample] = []
        finished = threading.Event()

        # Sampled rather than taken from wait4's rusage, whose maximum RSS counts the copy
        # of this process that the child was before it started its program.
        def sample() -> None:
            while not finished.wait(every):
                largest, total = _measure(_tree(process.pid), cpu)
                peaks[:] = max(peaks[0], largest), max(peaks[1], total)
                samples.append(Sample(time.perf_counter() - begin, total))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        code = process.wait()
        seconds = time.perf_counter() - begin
        finished.set()
        sampler.join()
    return Run(seconds, peaks[0], peaks[1], code, sum(cpu.values()), tuple(samples))


def digest(path: Path) -> str:
    """The SHA-256 of a file, read a megabyte at a time."""
    sha = hashlib.sha256()
    with path.open("rb") as source:
        while block := source.read(1 << 20):
            sha.update(block)
    return sha.hexdigest()


def flatness(run: Run) -> str:
    """The RSS of all the run's processes at each tenth of the run, and its growth from
    the first tenth (warm-up: the engines built, the first patients through) to the end."""
    if not run.samples:
        return "no samples (the run was too short)"
    def at(share: float) -> Sample:
        return min(run.samples, key=lambda sample: abs(sample.seconds - run.seconds * share))

    tenths = [at(tenth / 10) for tenth in range(1, 11)]
    warm, end = tenths[0].total_mib, max(s.total_mib for s in run.samples[-max(
        1, len(run.samples) // 10):])
    return (f"RSS of all processes at each tenth of the run: "
            f"{', '.join(f'{s.total_mib:,.0f}' for s in tenths)} MiB; last tenth's peak "
            f"{end:,.0f} MiB, {end - warm:+,.0f} MiB ({(end - warm) / warm:+.1%}) from the "
            f"first tenth")


STARTUP_RUNS = ("bare", "warm", "cold")


def startup(repeat: int) -> dict[str, tuple[float, float]]:
    """Median wall and CPU seconds (user + system) of ``python3.11 -c pass`` ("bare": the
    interpreter this environment was made from, without it) and of ``jdm-cds evaluate
    examples/patient-mda5.yaml`` with the compiled rule base in the cache ("warm") and with
    an empty cache ("cold"), run in turn so that all see the same load."""
    example = Path(__file__).resolve().parent.parent / "examples" / "patient-mda5.yaml"
    jdm = [str(Path(sys.executable).parent / "jdm-cds"), "evaluate", str(example)]
    bare = [getattr(sys, "_base_executable", sys.executable), "-c", "pass"]
    wall: dict[str, list[float]] = {name: [] for name in STARTUP_RUNS}
    cpu: dict[str, list[float]] = {name: [] for name in STARTUP_RUNS}
    with tempfile.TemporaryDirectory(prefix="jdm-cds-bench-cache-") as tmp:
        warm = {**_environment(), CACHE_SETTING: str(Path(tmp) / "warm")}
        subprocess.run(jdm, stdout=subprocess.DEVNULL, env=warm, check=True)  # fills it
        for round_ in range(repeat):
            cold = {**_environment(), CACHE_SETTING: str(Path(tmp) / f"cold-{round_}")}
            for name, args, env in (("bare", bare, _environment()), ("warm", jdm, warm),
                                    ("cold", jdm, cold)):
                begin = time.perf_counter()
                process = subprocess.Popen(args, stdout=subprocess.DEVNULL,
                                           stderr=subprocess.DEVNULL, env=env)
                _, status, usage = os.wait4(process.pid, 0)
                if os.waitstatus_to_exitcode(status) != 0:
                    raise RuntimeError(f"{' '.join(args)} failed ({name})")
                wall[name].append(time.perf_counter() - begin)
                cpu[name].append(usage.ru_utime + usage.ru_stime)
    return {name: (statistics.median(wall[name]), statistics.median(cpu[name]))
            for name in wall}


def startup_lines(repeat: int) -> list[str]:
    """The start-up figures, each run against ``python3.11 -c pass``."""
    times = startup(repeat)
    bare, bare_cpu = times["bare"]
    lines = [f"start-up (medians of {repeat}, run in turn): python3.11 -c pass {bare:.3f} s "
             f"(CPU {bare_cpu:.3f} s)"]
    for name, what in (("warm", "rule base cached"),
                       ("cold", "cache empty (it compiles the packs)")):
        jdm, jdm_cpu = times[name]
        lines.append(f"  jdm-cds evaluate examples/patient-mda5.yaml, {what}: {jdm:.3f} s, "
                     f"{jdm / bare:.1f}x (target <= 6x); CPU {jdm_cpu:.3f} s, "
                     f"{jdm_cpu / max(bare_cpu, 1e-3):.1f}x")
    return lines


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


def _load() -> str:
    return ", ".join(f"{x:.1f}" for x in os.getloadavg())


def main(argv: Sequence[str] | None = None, out: Callable[[str], None] = print) -> int:
    parser = argparse.ArgumentParser(prog="python -m jdm_cds.bench_scale", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patients", type=int, nargs="+", default=[10_000])
    parser.add_argument("--visits", type=int, default=6)
    parser.add_argument("--formats", nargs="+", choices=FORMATS, default=list(FORMATS))
    parser.add_argument("--runners", nargs="+", choices=sorted(RUNNERS),
                        default=list(RUNNERS))
    parser.add_argument("--memory", action="store_true",
                        help="also run evaluate on the patient files, its memory sampled")
    parser.add_argument("--cohort-dir", type=Path, metavar="DIR",
                        help="write the cohorts here and keep them (reused when complete)")
    parser.add_argument("--startup", type=int, default=20, help="start-up runs (0: none)")
    parser.add_argument("--startup-only", action="store_true",
                        help="measure the start-up only (no cohort)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    out(f"machine: {os.cpu_count()} cores, load average {_load()} (wall-clock figures)")
    if args.startup:
        for line in startup_lines(args.startup):
            out(line)
    failed = 0
    for size in [] if args.startup_only else args.patients:
        with tempfile.TemporaryDirectory(prefix="jdm-cds-bench-") as tmp:
            folder = Path(tmp)
            formats = list(args.formats)
            if args.memory and not {"yaml", "json"} & set(formats):
                formats.append("yaml")  # evaluate's memory is measured on patient files
            inputs = cohort_in(args.cohort_dir or folder, size, args.visits, args.seed,
                               formats, out)
            for fmt in args.formats:
                failed += _cohort_runs(fmt, inputs[fmt], size, args.runners, folder, out)
            if args.memory:
                failed += _memory_run(inputs["yaml" if "yaml" in inputs else "json"], size,
                                      out)
    return 1 if failed else 0


def _cohort_runs(fmt: str, path: Path, size: int, runners: Sequence[str], folder: Path,
                 out: Callable[[str], None]) -> int:
    """``cohort --format jsonl`` on one input with each runner; 1 if any failed or wrote
    other bytes than the others."""
    digests = set()
    runs: dict[str, Run] = {}
    failed = 0
    for runner in runners:
        target = folder / f"{fmt}-{runner}.jsonl"
        load = _load()
        run = runs[runner] = run_once([*_command(), "cohort", "--format", "jsonl", "--quiet",
                                       *RUNNERS[runner], str(path)], target)
        if len(runners) > 1:
            digests.add(digest(target))
        target.unlink()
        failed += run.code != 0
        out(f"  {fmt:5} {runner:5}: {size / run.seconds:8,.0f} patients/s "
            f"({run.seconds:.1f} s; CPU {run.cpu_seconds:.1f} s, "
            f"{run.cpu_seconds / size * 1e3:.2f} ms a patient), peak RSS "
            f"{run.largest_mib:,.0f} MiB (largest process), {run.total_mib:,.0f} MiB (all its "
            f"processes); load average {load} -> {_load()}"
            f"{'' if run.code == 0 else f', exit {run.code}'}")
    out(f"  {fmt:5} {ratios(runs)}")
    if len(runners) > 1:
        out(f"  {fmt:5} every runner wrote the same bytes: {len(digests) == 1}")
        failed += len(digests) != 1
    return failed


def _memory_run(files: Path, size: int, out: Callable[[str], None]) -> int:
    """``evaluate --format jsonl`` on ``size`` patient files (output to nowhere), its
    memory sampled every half second; 1 if it failed."""
    load = _load()
    run = run_once([*_command(), "evaluate", "--format", "jsonl", "--quiet", str(files)],
                   None, every=0.5)
    out(f"  evaluate on {size:,} {files.name.upper()} files: {size / run.seconds:,.0f} "
        f"patients/s ({run.seconds:.1f} s; CPU {run.cpu_seconds:.1f} s), peak RSS "
        f"{run.largest_mib:,.0f} MiB (largest process), {run.total_mib:,.0f} MiB (all); load "
        f"average {load} -> {_load()}{'' if run.code == 0 else f', exit {run.code}'}")
    out(f"  evaluate {flatness(run)}")
    return int(run.code != 0)


if __name__ == "__main__":
    sys.exit(main())
