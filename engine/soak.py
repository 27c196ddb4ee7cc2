"""Memory over a long life: ``python -m jdm_cds.soak`` (``make soak``).

Two soaks, each through the public API (``jdm_cds.evaluate``), each printing resident memory
at checkpoints and failing unless it stays flat after warm-up (within ±5% of the first
checkpoint):

- ``threads``: 10,000 short-lived threads, each evaluating one patient and ending, a few
  alive at a time, as a thread-per-request server does. Every thread shares the process's
  one engine (``runtime.py``): nothing is built per thread, so nothing is left behind.
- ``evaluations``: 1,000,000 evaluations in one process, cycling over a generated cohort.

Resident memory (``VmRSS``) is what the operating system would have to find; it includes
the allocator's free lists, so it is compared after warm-up, not from the start.
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import threading
import time
from collections.abc import Callable, Sequence

import jdm_cds
from jdm_cds.bench import make_cohort, rss_mib

FLAT_WITHIN = 5.0  # percent, after warm-up


def _flat(samples: Sequence[tuple[int, float]], out: Callable[[str], None], what: str) -> bool:
    """Whether every checkpoint after the first is within FLAT_WITHIN% of the first."""
    first = samples[0][1]
    worst = max(abs(rss - first) / first * 100 for _, rss in samples)
    out(f"{what}: {first:.1f} MiB after warm-up, {samples[-1][1]:.1f} MiB at the end, "
        f"largest change {worst:.1f}% (flat within {FLAT_WITHIN:g}%: "
        f"{'yes' if worst <= FLAT_WITHIN else 'NO'})")
    return worst <= FLAT_WITHIN


def soak_threads(threads: int, alive: int, warm_up: int, every: int,
                 out: Callable[[str], None]) -> bool:
    """``threads`` threads, at most ``alive`` at a time, each evaluating one patient."""
    cohort = make_cohort(max(alive * 4, 64), 6, seed=11)
    expected = [jdm_cds.evaluate(p).judgements["cid.printo"].status for p in cohort]
    wrong: list[int] = []
    samples: list[tuple[int, float]] = []
    started = time.perf_counter()

    def one(index: int) -> None:
        patient = cohort[index % len(cohort)]
        if jdm_cds.evaluate(patient).judgements["cid.printo"].status != \
                expected[index % len(cohort)]:
            wrong.append(index)

    running: list[threading.Thread] = []
    for index in range(threads):
        if len(running) >= alive:
            running.pop(0).join()
        thread = threading.Thread(target=one, args=(index,))
        thread.start()
        running.append(thread)
        done = index + 1
        if done >= warm_up and (done - warm_up) % every == 0:
            for thread in running:
                thread.join()
            running.clear()
            gc.collect()
            samples.append((done, rss_mib()))
            out(f"  {done:>9,} threads  {samples[-1][1]:8.1f} MiB  "
                f"{threading.active_count()} alive  {time.perf_counter() - started:7.1f} s")
    for thread in running:
        thread.join()
    out(f"threads: {threads:,} in {time.perf_counter() - started:.1f} s, {len(wrong)} wrong "
        f"results")
    return _flat(samples, out, "threads") and not wrong


def soak_evaluations(evaluations: int, warm_up: int, every: int,
                     out: Callable[[str], None]) -> bool:
    """``evaluations`` evaluations in this thread, over a cohort of 1,000 patients."""
    cohort = make_cohort(1_000, 6, seed=12)
    samples: list[tuple[int, float]] = []
    started = time.perf_counter()
    rng = random.Random(5)
    for done in range(1, evaluations + 1):
        jdm_cds.evaluate(cohort[rng.randrange(len(cohort))])
        if done >= warm_up and (done - warm_up) % every == 0:
            gc.collect()
            samples.append((done, rss_mib()))
            rate = done / (time.perf_counter() - started)
            out(f"  {done:>9,} evaluations  {samples[-1][1]:8.1f} MiB  {rate:,.0f}/s")
    out(f"evaluations: {evaluations:,} in {time.perf_counter() - started:.1f} s")
    return _flat(samples, out, "evaluations")


def main(argv: Sequence[str] | None = None, out: Callable[[str], None] = print) -> int:
    parser = argparse.ArgumentParser(prog="python -m jdm_cds.soak", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("which", nargs="*", choices=["threads", "evaluations", []],
                        help="which soak (default: both)")
    parser.add_argument("--threads", type=int, default=10_000)
    parser.add_argument("--alive", type=int, default=8, help="threads alive at a time")
    parser.add_argument("--evaluations", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    which = args.which or ["threads", "evaluations"]
    ok = True
    if "threads" in which:
        warm = max(1, args.threads // 10)
        ok &= soak_threads(args.threads, args.alive, warm, max(1, args.threads // 10), out)
    if "evaluations" in which:
        warm = max(1, args.evaluations // 20)
        ok &= soak_evaluations(args.evaluations, warm, max(1, args.evaluations // 10), out)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
