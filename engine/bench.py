"""Benchmark the whole pipeline on a generated cohort: ``python -m jdm_cds.bench``.

Prints evaluations per second, p50 and p99 latency per evaluation and peak memory, with
the working and with ``explain=False``, and the durable_rules floor: the very facts each
evaluation asserted, replayed right after it into the same compiled rule base and
retracted, the engine's own cost that no pipeline can beat. ``--long`` re-evaluates the
cohort nine more times and compares resident memory after the first pass and after the tenth
(flat: no session or fact is leaked).
"""

from __future__ import annotations

import argparse
import gc
import random
import resource
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from jdm_cds.evaluate import Evaluator
from jdm_cds.facts.builder import Fact
from jdm_cds.language.rulebase import RULES_DIR, load_rulebase
from jdm_cds.language.treatment_classes import core_treatment_classes
from jdm_cds.model.patient import Patient
from jdm_cds.runtime import Session

ANTIBODIES = ("anti-MDA5", "anti-NXP2", "anti-TIF1g", "anti-Mi-2", "anti-SAE", "negative")
JAK_SHARE = 0.85  # most of the cohort is on a JAK inhibitor, as in the study
MISSING_SHARE = 0.12  # chance that one measure was not recorded at a visit
FLAT_WITHIN = 10.0  # percent


# --- cohort ---------------------------------------------------------------------------


def _clamp(value: float, low: float, high: float) -> float:
    return min(high, max(low, value))


def _visit(rng: random.Random, day: date, activity: float, weight: float, on_jak: bool,
           prednisone: float) -> dict[str, Any]:
    """One visit of a child whose disease activity is ``activity`` (0 inactive, 1 severe)."""
    def noise(spread: float) -> float:
        return rng.gauss(0, spread)

    skin = round(_clamp(activity * 8 + noise(1), 0, 9))
    muscle = round(_clamp(activity * 10 + noise(1), 0, 11))
    values: dict[str, Any] = {
        "weight_kg": round(weight, 1),
        "ck_u_l": round(_clamp(60 + activity ** 2 * 4000 * rng.lognormvariate(0, 0.4), 0, 40000)),
        "aldolase_u_l": round(_clamp(4 + activity * 20 + noise(2), 0, 200), 1),
        "ldh_u_l": round(_clamp(180 + activity * 600 + noise(40), 0, 5000)),
        "ast_u_l": round(_clamp(25 + activity * 150 + noise(10), 0, 2000)),
        "alt_u_l": round(_clamp(20 + activity * 100 + noise(10), 0, 2000)),
        "cmas": round(_clamp(52 - activity * 40 + noise(2), 0, 52)),
        "mmt8": round(_clamp(80 - activity * 45 + noise(2), 0, 80)),
        "physician_global_vas": round(_clamp(activity * 9 + noise(0.4), 0, 10), 1),
        "parent_global_vas": round(_clamp(activity * 8 + noise(1), 0, 10), 1),
        "extramuscular_vas": round(_clamp(activity * 7 + noise(1), 0, 10), 1),
        "chaq": round(_clamp(activity * 2.5 + noise(0.2), 0, 3) * 8) / 8,
        "das_skin": skin,
        "das_muscle": muscle,
        "das_total": min(20, skin + muscle),
        "ifn_alpha_fg_ml": round(_clamp(activity * 2000 + noise(50), 0, 100000)),
    }
    values = {k: v for k, v in values.items() if rng.random() >= MISSING_SHARE}
    if rng.random() < 0.5:
        values["prednisone_mg_per_kg_day"] = round(prednisone, 2)
    else:
        values["prednisone_mg_per_day"] = round(prednisone * weight, 1)
    events = []
    if on_jak and rng.random() < 0.04:
        events.append("herpes_zoster")
    if on_jak and rng.random() < 0.02:
        events.append("skin_abscess")
    return {"date": day, **values, "adverse_events": events}


def make_patient(rng: random.Random, index: int, visits: int) -> Patient:
    onset = date(2016, 1, 1) + timedelta(days=rng.randrange(0, 2500))
    treatments: list[dict[str, Any]] = [
        {"drug": "prednisone", "start": onset},
        {"drug": "methotrexate", "start": onset, "dose_mg_per_day": round(rng.uniform(5, 15), 1)},
    ]
    jak_start = None
    if rng.random() < JAK_SHARE:
        jak_start = onset + timedelta(days=rng.choice((60, 90, 120, 180, 240)))
        drugs = sorted(core_treatment_classes().drugs("jak_inhibitor"))
        treatments.append({"drug": rng.choice(drugs), "start": jak_start,
                           "dose_mg_per_day": rng.choice((4, 5, 10, 15))})
        if rng.random() < 0.2:
            treatments.append({"drug": "plasma_exchange", "start": onset,
                               "stop": jak_start + timedelta(days=rng.randrange(30, 200))})
    severity = rng.uniform(0.4, 1.0)
    response = rng.uniform(0.2, 1.0) if jak_start else rng.uniform(0.0, 0.6)
    weight = rng.uniform(15, 60)
    day, rows = onset, []
    for k in range(visits):
        progress = response * k / max(1, visits - 1)
        activity = _clamp(severity * (1 - progress) + rng.gauss(0, 0.05), 0, 1)
        prednisone = _clamp(2 * (1 - progress) ** 2 + rng.gauss(0, 0.05), 0, 2.5)
        on_jak = jak_start is not None and day >= jak_start
        rows.append(_visit(rng, day, activity, weight, on_jak, prednisone))
        day += timedelta(days=rng.randrange(45, 120))
        weight = min(200, weight + rng.uniform(0, 1.5))
    return Patient.model_validate({
        "id": f"BENCH-{index:06d}",
        "sex": rng.choice(("female", "male")),
        "antibodies": [rng.choice(ANTIBODIES)],
        "treatments": treatments,
        "visits": rows,
    })


def make_cohort(patients: int, visits: int, seed: int) -> list[Patient]:
    rng = random.Random(seed)
    return [make_patient(rng, i, visits) for i in range(patients)]


# --- measurement ----------------------------------------------------------------------


def _status_mib(key: str) -> float | None:
    """A memory line of /proc/self/status (Linux), in MiB."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(f"{key}:"):
                    return int(line.split()[1]) / 2**10
    except OSError:
        return None
    return None


def peak_mib() -> float:
    """The most resident memory this process has had."""
    peak = _status_mib("VmHWM")
    if peak is not None:
        return peak
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss / 2**20 if sys.platform == "darwin" else maxrss / 2**10


def rss_mib() -> float:
    """Resident memory now, else the peak so far where the system does not say."""
    now = _status_mib("VmRSS")
    return peak_mib() if now is None else now


def percentile(sorted_values: Sequence[float], share: float) -> float:
    index = min(len(sorted_values) - 1, max(0, round(share * len(sorted_values)) - 1))
    return sorted_values[index]


Batches = list[list[Fact]]  # what one evaluation asserted, call by call
# Each call as made: the facts, and the keys of them sent (None: all).
Calls = list[tuple[list[Fact], frozenset[str] | None]]


@contextmanager
def recording(into: list[Calls]) -> Iterator[None]:
    """Keep the facts each session asserts, so that the floor replays exactly those (``sent``
    makes them what the engine was sent, outside the time measured)."""
    original = Session.assert_facts

    def spy(session: Session, facts: list[Fact], keys: frozenset[str] | None = None) -> None:
        into[-1].append((facts, keys))
        original(session, facts, keys)

    setattr(Session, "assert_facts", spy)  # noqa: B010 - mypy refuses assigning a method
    try:
        yield
    finally:
        setattr(Session, "assert_facts", original)  # noqa: B010


@dataclass
class Run:
    """One pass over the cohort: wall-clock and CPU seconds of the evaluations, each
    evaluation's latency, and the same for the engine alone on the same facts (``replay``),
    each replayed right after its evaluation so that both see the machine alike."""

    seconds: float = 0.0
    cpu: float = 0.0
    latencies: list[float] = field(default_factory=list)
    engine_seconds: float = 0.0
    engine_cpu: float = 0.0


def sent(calls: Calls) -> Batches:
    """The facts of each call as the engine was sent them (their keys sent, if chosen)."""
    return [facts if keys is None else
            [{key: value for key, value in fact.items() if key in keys} for fact in facts]
            for facts, keys in calls]


def run_pipeline(evaluator: Evaluator, cohort: Sequence[Patient], explain: bool = True,
                 floor: bool = False) -> Run:
    run = Run()
    clock, cpu_clock = time.perf_counter, time.process_time
    for patient in cohort:
        asserted: list[Calls] = [[]]
        with recording(asserted) if floor else nullcontext():
            start, cpu = clock(), cpu_clock()
            evaluator.evaluate(patient, explain=explain)
            run.cpu += cpu_clock() - cpu
            run.latencies.append(clock() - start)
        if floor:
            batches = sent(asserted[0])
            start, cpu = clock(), cpu_clock()
            evaluator.runtime.replay(batches)
            run.engine_cpu += cpu_clock() - cpu
            run.engine_seconds += clock() - start
    run.seconds = sum(run.latencies)
    return run


# --- command line ---------------------------------------------------------------------


def build_evaluator(packs: str) -> tuple[Evaluator, str]:
    if packs == "cid":
        evaluator = Evaluator(load_rulebase([(RULES_DIR / "cid.yaml", None)]))
    else:
        from jdm_cds.defaults import default_evaluator

        evaluator = default_evaluator()
    names = ", ".join(f"{p.id} {p.version}" for p in evaluator.rulebase.packs)
    return evaluator, names


def main(argv: Sequence[str] | None = None, out: Callable[[str], None] = print) -> int:
    parser = argparse.ArgumentParser(prog="python -m jdm_cds.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patients", type=int, default=10_000, help="cohort size")
    parser.add_argument("--visits", type=int, default=6, help="visits per patient")
    parser.add_argument("--packs", choices=("all", "cid"), default="all",
                        help="every installed pack (default) or the CID pack alone")
    parser.add_argument("--long", action="store_true",
                        help="evaluate the cohort 10 times and check that memory stays flat")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--evaluate-only", type=int, metavar="N", help=(
        "after the warm-up, evaluate the first N patients and print nothing: run under "
        "valgrind --tool=callgrind with two values of N, the difference of the instruction "
        "counts over the difference of N is one evaluation's (README, Speed)"))
    parser.add_argument("--explain", choices=("yes", "no"), default="yes",
                        help="with --evaluate-only: with the working, or explain=False")
    args = parser.parse_args(argv)
    if args.patients < 1 or args.visits < 1:
        parser.error("--patients and --visits must be at least 1")
    if args.evaluate_only is not None:
        if not 0 <= args.evaluate_only <= args.patients:
            parser.error("--evaluate-only must be from 0 to --patients")
        cohort = make_cohort(args.patients, args.visits, args.seed)
        evaluator, _ = build_evaluator(args.packs)
        explain = args.explain == "yes"
        run_pipeline(evaluator, cohort[:50], explain)  # warm-up, as below
        run_pipeline(evaluator, cohort[:args.evaluate_only], explain)
        return 0

    begin = time.perf_counter()
    cohort = make_cohort(args.patients, args.visits, args.seed)
    evaluator, names = build_evaluator(args.packs)
    out(f"cohort: {len(cohort):,} patients x {args.visits} visits (seed {args.seed}), "
        f"built in {time.perf_counter() - begin:.1f} s")
    out(f"packs: {names}")
    run_pipeline(evaluator, cohort[:50], floor=True)  # warm-up: imports, caches, allocations

    # The whole working (what evaluate and the reports give), then statuses, values and
    # reasons only (explain=False: what cohort tables give), each evaluation followed by
    # the engine alone on its facts.
    for explain, what in ((True, "with the working"), (False, "explain=False")):
        run = run_pipeline(evaluator, cohort, explain, floor=True)
        count = len(cohort)
        latencies = sorted(run.latencies)
        out(f"pipeline ({what}): {count:,} evaluations in {run.seconds:.2f} s = "
            f"{count / run.seconds:,.0f} evaluations/s (target: >= 2,000/s for the CID pack, "
            f">= 1,000/s with every pack)")
        # On a shared machine the wall clock also counts other processes' turns.
        out(f"  CPU time: {run.cpu:.2f} s = {count / run.cpu:,.0f} evaluations per CPU second")
        out(f"  latency per evaluation: p50 {percentile(latencies, 0.50) * 1e3:.3f} ms, "
            f"p99 {percentile(latencies, 0.99) * 1e3:.3f} ms, "
            f"mean {statistics.fmean(latencies) * 1e3:.3f} ms")
        out(f"  durable_rules floor (the same facts into the same rule base, interleaved): "
            f"{count / run.engine_seconds:,.0f} evaluations/s; pipeline = "
            f"{run.seconds / run.engine_seconds:.2f} x floor in wall-clock time, "
            f"{run.cpu / run.engine_cpu:.2f} x in CPU time (target <= 4x)")

    if args.long:
        gc.collect()
        first = rss_mib()
        for _ in range(9):
            run_pipeline(evaluator, cohort)
        gc.collect()
        last = rss_mib()
        change = (last - first) / first * 100
        verdict = "flat" if abs(change) <= FLAT_WITHIN else "NOT flat"
        out(f"memory (RSS): {first:.1f} MiB after {len(cohort):,} evaluations, {last:.1f} MiB "
            f"after {10 * len(cohort):,}: {change:+.1f}% ({verdict}, limit {FLAT_WITHIN:g}%)")

    out(f"peak memory (max RSS): {peak_mib():.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
