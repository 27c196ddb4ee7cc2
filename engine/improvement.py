"""Total Improvement Score arithmetic (2016 ACR/EULAR), exact to the band edge.

The point table, scale ranges and the enzyme rule all come from the rule pack's YAML;
this module only does the arithmetic. Values are read as the decimal text they were
written in, and a percent change (gain / scale x 100) is compared with a band edge by
cross-multiplication in a context where sums and products are exact: 0.5 of a 10-cm
scale is exactly 5% and scores 0, as the table's "<= 5%" says. (``Fraction`` gives the
same answers, several times more slowly, and this runs in every evaluation.)
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, Context, Decimal
from typing import Any

# Unbounded precision: additions and products are exact. No division is made in it (a
# non-terminating quotient would not fit).
_EXACT = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN)
_HUNDRED = Decimal(100)


@functools.lru_cache(maxsize=4096)  # band edges and scale ends recur in every evaluation
def exact(value: float | int) -> Decimal:
    return Decimal(str(value))  # a float's str is the shortest text that reads back as it


@dataclass(frozen=True)
class Change:
    """A percent change, ``gain / scale x 100``, with ``scale`` > 0."""

    gain: Decimal
    scale: Decimal

    def exceeds(self, percent: float) -> bool:
        return _EXACT.multiply(self.gain, _HUNDRED) > _EXACT.multiply(exact(percent), self.scale)

    def __float__(self) -> float:
        return float(self.gain) / float(self.scale) * 100  # for display only


def percent_change(baseline: float, follow_up: float, measure: Mapping[str, Any]) -> Change:
    """Improvement as a percentage: of the scale range, or relative to baseline."""
    gain = _EXACT.subtract(exact(baseline), exact(follow_up))
    if measure.get("better") == "higher":
        gain = -gain
    if measure.get("relative"):
        return Change(gain, exact(baseline))
    low, high = measure["range"]
    return Change(gain, _EXACT.subtract(exact(high), exact(low)))


def points(change: Change, edges: Sequence[float], values: Sequence[float]) -> float:
    """Points of the band holding ``change``: lower edge exclusive, upper edge inclusive."""
    band = 0
    for edge in edges:  # in ascending order
        if not change.exceeds(edge):
            break
        band += 1
    return float(values[band])


def _choose(baseline: Mapping[str, Any], follow_up: Mapping[str, Any],
            domain: Mapping[str, Any]) -> Mapping[str, Any] | None:
    usable: list[Mapping[str, Any]] = [m for m in domain["measures"]
              if m["field"] in baseline and m["field"] in follow_up
              and not (m.get("relative") and baseline[m["field"]] == 0)]
    if not usable:
        return None
    if domain.get("choose") == "most_abnormal":
        # Baseline / upper limit of normal, compared exactly by cross-multiplication; the
        # first of equal ones wins.
        def above(a: Mapping[str, Any], b: Mapping[str, Any]) -> int:
            left = _EXACT.multiply(exact(baseline[a["field"]]), exact(b["upper_normal"]))
            right = _EXACT.multiply(exact(baseline[b["field"]]), exact(a["upper_normal"]))
            return (left > right) - (left < right)

        return max(usable, key=functools.cmp_to_key(above))
    return usable[0]


def improvement_score(baseline: Mapping[str, Any], follow_up: Mapping[str, Any],
                      params: Mapping[str, Any]) -> tuple[float | None, dict[str, Any]]:
    """(score, working); the score is None when a domain is missing at either visit."""
    domains: dict[str, dict[str, Any]] = {}
    missing: list[str] = []
    total = 0.0
    for domain in params["domains"]:
        measure = _choose(baseline, follow_up, domain)
        if measure is None:
            missing.append(domain["name"])
            continue
        field = measure["field"]
        change = percent_change(baseline[field], follow_up[field], measure)
        score = points(change, domain["edges"], domain["points"])
        total += score
        domains[domain["name"]] = {
            "measure": field,
            "baseline": baseline[field],
            "follow_up": follow_up[field],
            "percent_change": round(float(change), 2),
            "points": score,
        }
    details: dict[str, Any] = {"domains": domains, "partial_score": total}
    if missing:
        details["missing_domains"] = missing
        return None, details
    return total, details
