"""Total Improvement Score arithmetic (2016 ACR/EULAR), exact to the band edge.

The point table, scale ranges and the enzyme rule all come from the rule pack's YAML;
this module only does the arithmetic. Percent changes are computed with ``Fraction``
on the decimal text of each value, so that 0.5 of a 10-cm scale is exactly 5% and
scores 0, as the table's "<= 5%" says.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any


def exact(value: float | int) -> Fraction:
    return Fraction(str(value))


def percent_change(baseline: float, follow_up: float, measure: Mapping[str, Any]) -> Fraction:
    """Improvement as a percentage: of the scale range, or relative to baseline."""
    gain = exact(baseline) - exact(follow_up)
    if measure.get("better") == "higher":
        gain = -gain
    if measure.get("relative"):
        return gain / exact(baseline) * 100
    low, high = measure["range"]
    return gain / (exact(high) - exact(low)) * 100


def points(change: Fraction, edges: Sequence[float], values: Sequence[float]) -> float:
    """Points of the band holding ``change``: lower edge exclusive, upper edge inclusive."""
    band = sum(1 for edge in edges if change > exact(edge))
    return float(values[band])


def _choose(baseline: Mapping[str, Any], follow_up: Mapping[str, Any],
            domain: Mapping[str, Any]) -> Mapping[str, Any] | None:
    usable: list[Mapping[str, Any]] = [m for m in domain["measures"]
              if m["field"] in baseline and m["field"] in follow_up
              and not (m.get("relative") and baseline[m["field"]] == 0)]
    if not usable:
        return None
    if domain.get("choose") == "most_abnormal":
        return max(usable, key=lambda m: exact(baseline[m["field"]]) / exact(m["upper_normal"]))
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
