"""Total Improvement Score arithmetic (2016 ACR/EULAR), exact to the band edge.

The point table, scale ranges and the enzyme rule all come from the rule pack's YAML;
this module only does the arithmetic. Values are read as the decimal text they were
written in, and a percent change (gain / scale x 100) is compared with a band edge by
cross-multiplication in a context where sums and products are exact: 0.5 of a 10-cm
scale is exactly 5% and scores 0, as the table's "<= 5%" says.

Exact arithmetic is needed only near a tie: floating point decides every comparison
whose two sides differ by far more than its rounding error can reach, and the exact
cross-multiplication decides the rest, so the answers are those of exact arithmetic at
a fraction of its cost (this runs in every evaluation).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, Context, Decimal
from fractions import Fraction
from typing import Any

# Unbounded precision: additions and products are exact. No division is made in it (a
# non-terminating quotient would not fit).
_EXACT = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN)
_HUNDRED = Decimal(100)
# Floating point decides a comparison of two sums of products when they differ by more
# than this share of the magnitudes involved: its own error is a few units of 2**-53
# (about 1e-16) of them, so the margin leaves a factor of ten thousand to spare. Below
# _TINY that relative bound fails (subnormal numbers lose precision), and exact
# arithmetic decides.
_MARGIN = 1e-12
_TINY = 1e-290


@functools.lru_cache(maxsize=4096)  # band edges and scale ends recur in every evaluation
def exact(value: float | int) -> Decimal:
    return Decimal(str(value))  # a float's str is the shortest text that reads back as it


def _clear(left: float, right: float, magnitude: float) -> bool:
    """Floating point alone tells ``left`` from ``right``: they are far from a tie."""
    return magnitude > _TINY and abs(left - right) > _MARGIN * magnitude


class Change:
    """A percent change, ``(start - end) / (high - low) x 100``, with ``high`` > ``low``.

    Each value is a float as read from the patient or rule file, and stands for the
    decimal text it was written in.
    """

    __slots__ = ("_gain", "_scale", "_size", "_span", "end", "high", "low", "start")

    def __init__(self, start: float, end: float, high: float, low: float) -> None:
        self.start, self.end, self.high, self.low = start, end, high, low
        # The floating-point sides of each comparison, and the magnitudes their error
        # scales with: computed once, compared with every band edge.
        self._gain = (start - end) * 100
        self._scale = high - low
        self._size = (abs(start) + abs(end)) * 100
        self._span = abs(high) + abs(low)

    def exceeds(self, percent: float) -> bool:
        """``gain x 100 > percent x scale``: the band edge is passed (not just reached)."""
        right = percent * self._scale
        magnitude = self._size + abs(percent) * self._span  # _clear, inlined: the hot path
        if magnitude > _TINY and abs(self._gain - right) > _MARGIN * magnitude:
            return self._gain > right
        return self._exceeds_exactly(percent)

    def _exceeds_exactly(self, percent: float) -> bool:
        """``exceeds`` in exact decimal arithmetic: near a tie, where floating point cannot
        tell."""
        gain, scale = self._exact()
        return _EXACT.multiply(gain, _HUNDRED) > _EXACT.multiply(exact(percent), scale)

    def _exact(self) -> tuple[Decimal, Decimal]:
        return (_EXACT.subtract(exact(self.start), exact(self.end)),
                _EXACT.subtract(exact(self.high), exact(self.low)))

    def shown(self) -> float:
        """The percent change to two decimals, rounded half away from zero, exactly."""
        hundredths = self._gain * 100 / self._scale
        # Its error is a few units of 2**-53 of the magnitudes involved, the gain's and the
        # scale's: far enough from a tie, floating point rounds it as exact arithmetic would.
        error = _MARGIN * (self._size * 100 + abs(hundredths) * self._span) / self._scale
        if self._size > _TINY and abs(abs(hundredths) % 1 - 0.5) > error:
            return round(hundredths) / 100
        gain, scale = self._exact()
        precise = Fraction(gain) * 10000 / Fraction(scale)
        rounded = math.floor(abs(precise) + Fraction(1, 2))
        try:
            return float(rounded if precise >= 0 else -rounded) / 100
        except OverflowError:  # a baseline next to zero: the change is beyond any float
            return math.inf if precise >= 0 else -math.inf


def percent_change(baseline: float, follow_up: float, measure: Mapping[str, Any]) -> Change:
    """Improvement as a percentage: of the scale range, or relative to baseline."""
    start, end = (follow_up, baseline) if measure.get("better") == "higher" else (
        baseline, follow_up)
    if measure.get("relative"):
        return Change(start, end, baseline, 0)
    low, high = measure["range"]
    return Change(start, end, high, low)


def points(change: Change, edges: Sequence[float], values: Sequence[float]) -> float:
    """Points of the band holding ``change``: lower edge exclusive, upper edge inclusive."""
    band = 0
    # Change.exceeds, its floating-point part inlined (this runs for every band edge of
    # every domain): far from a tie floating point decides, else exact arithmetic.
    gain, scale, size, span = change._gain, change._scale, change._size, change._span
    for edge in edges:  # in ascending order
        right = edge * scale
        magnitude = size + abs(edge) * span
        if magnitude > _TINY and abs(gain - right) > _MARGIN * magnitude:
            if not gain > right:
                break
        elif not change._exceeds_exactly(edge):
            break
        band += 1
    return float(values[band])


def choose_measure(baseline: Mapping[str, Any], follow_up: Mapping[str, Any],
                   domain: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The domain's measure recorded at both visits: the first, or the most abnormal."""
    usable: list[Mapping[str, Any]] = [
        m for m in domain["measures"]
        if m["field"] in baseline and m["field"] in follow_up
        and not (m.get("relative") and baseline[m["field"]] == 0)]
    if not usable:
        return None
    if domain.get("choose") == "most_abnormal":
        # Baseline / upper limit of normal, compared exactly by cross-multiplication; the
        # first of equal ones wins.
        def above(a: Mapping[str, Any], b: Mapping[str, Any]) -> int:
            left: float = baseline[a["field"]] * b["upper_normal"]
            right: float = baseline[b["field"]] * a["upper_normal"]
            if _clear(left, right, abs(left) + abs(right)):
                return (left > right) - (left < right)
            exact_left = _EXACT.multiply(exact(baseline[a["field"]]), exact(b["upper_normal"]))
            exact_right = _EXACT.multiply(exact(baseline[b["field"]]), exact(a["upper_normal"]))
            return (exact_left > exact_right) - (exact_left < exact_right)

        return max(usable, key=functools.cmp_to_key(above))
    return usable[0]


def _most(baseline: Mapping[str, Any], follow_up: Mapping[str, Any],
          domain: Mapping[str, Any]) -> float:
    """The most points a domain not measured at both visits could still score.

    A value recorded at one visit bounds the change: from a recorded baseline the best
    follow-up is the favourable end of the scale, towards a recorded follow-up the worst
    baseline is the unfavourable end. A relative change (enzymes) from a recorded baseline
    can reach 100%, and towards a recorded follow-up any size: the top band either way.
    """
    top = float(max(domain["points"]))
    best = 0.0
    for measure in domain["measures"]:
        field = measure["field"]
        before: Any = baseline.get(field)
        after: Any = follow_up.get(field)
        if measure.get("relative") or (before is None and after is None):
            reachable = top if before != 0 else 0.0  # a baseline of 0 gives no change
        elif before is not None and after is not None:
            reachable = 0.0  # recorded at both but unusable: no completion changes it
        else:
            low, high = measure["range"]
            good, bad = (high, low) if measure.get("better") == "higher" else (low, high)
            # One of the two is recorded: the other end is the scale's.
            start, end = (before, good) if before is not None else (bad, after)
            change = percent_change(start, end, measure)
            reachable = points(change, domain["edges"], domain["points"])
        best = max(best, reachable)
    return best


def improvement_score(baseline: Mapping[str, Any], follow_up: Mapping[str, Any],
                      params: Mapping[str, Any]) -> tuple[float | None, dict[str, Any]]:
    """(score, working); the score is None when a domain is missing at either visit.

    The working always holds the bounds: ``score_min``, the points of the measured
    domains (points are never negative), and ``score_max``, those plus the most each
    missing domain could still score (``_most``). With every domain measured both are
    the score.
    """
    domains: dict[str, dict[str, Any]] = {}
    missing: list[str] = []
    total = 0.0
    for domain in params["domains"]:
        measure = choose_measure(baseline, follow_up, domain)
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
            "percent_change": change.shown(),
            "points": score,
        }
    # The most a missing domain could add: what its measures could still score, given the
    # value recorded at one of the two visits (its top band when neither records it).
    most = total + sum(_most(baseline, follow_up, domain) for domain in params["domains"]
                       if domain["name"] in missing)
    details: dict[str, Any] = {"domains": domains, "partial_score": total,
                               "score_min": total, "score_max": most}
    if missing:
        details["missing_domains"] = missing
        return None, details
    return total, details
