"""UCUM units: which quantities the reader converts, and how.

Each unit the reader accepts is listed with its kind and its size in that kind's base unit;
a value converts between two units of the same kind by the ratio of their sizes. A unit not
listed here, or of another kind, is refused: a CK in an unknown unit must never be read as
U/L. Exact decimal arithmetic keeps 0.5 ukat/L at exactly 30 U/L.
"""

from __future__ import annotations

from decimal import Decimal

# kind -> UCUM code -> size in the kind's base unit. Sources: the UCUM specification
# (unitsofmeasure.org/ucum): kat = mol/s, U = umol/min, so 1 ukat = 60 U; [lb_av] =
# 0.45359237 kg; [IU] for enzymes is read as U (labs report enzyme activity in IU/L = U/L).
_UNITS: dict[str, dict[str, Decimal]] = {
    "catalytic concentration": {
        "U/L": Decimal(1), "[IU]/L": Decimal(1), "U/mL": Decimal(1000),
        "ukat/L": Decimal(60), "nkat/L": Decimal("0.06"), "mU/mL": Decimal(1),
    },
    "mass": {
        "kg": Decimal(1), "g": Decimal("0.001"), "[lb_av]": Decimal("0.45359237"),
    },
    "length": {"cm": Decimal(1), "mm": Decimal("0.1")},
    "score": {"{score}": Decimal(1), "1": Decimal(1), "{points}": Decimal(1)},
    "mass concentration": {
        "fg/mL": Decimal(1), "pg/mL": Decimal(1000), "ng/L": Decimal(1000),
        "pg/L": Decimal(1),
    },
    "dose per kg per day": {
        "mg/(kg.d)": Decimal(1), "mg/kg/d": Decimal(1), "ug/(kg.d)": Decimal("0.001"),
    },
    "dose per day": {"mg/d": Decimal(1), "g/d": Decimal(1000), "ug/d": Decimal("0.001")},
    "dose": {"mg": Decimal(1), "g": Decimal(1000), "ug": Decimal("0.001")},
}

_KIND = {unit: kind for kind, units in _UNITS.items() for unit in units if kind != "dose"}
_UNIT_SIZE = {unit: size for kind, units in _UNITS.items() for unit, size in units.items()
              if kind != "dose"}


class UnitError(ValueError):
    """A quantity whose unit is unknown or of the wrong kind."""


def codes() -> list[str]:
    """Every unit the reader converts (the UCUM codes of this table)."""
    return [unit for table in _UNITS.values() for unit in table]


def kind_of(unit: str) -> str | None:
    return _KIND.get(unit)


def known(unit: str) -> bool:
    return unit in _KIND


def convert(value: float, source: str, target: str) -> float:
    """``value`` in unit ``source`` expressed in unit ``target`` (UCUM codes)."""
    if source == target:
        return value
    kind = _KIND.get(source)
    if kind is None:
        raise UnitError(f"unknown unit {source!r} (expected {target} or a UCUM unit of the "
                        f"same kind: {', '.join(units_like(target))})")
    if kind != _KIND.get(target):
        raise UnitError(f"unit {source!r} is a {kind}, not a {_KIND.get(target)} like {target}")
    exact = Decimal(repr(value)) * _UNIT_SIZE[source] / _UNIT_SIZE[target]
    return float(exact)


def dose_mg(value: float, unit: str) -> float:
    """A single dose in mg."""
    size = _UNITS["dose"].get(unit)
    if size is None:
        raise UnitError(f"unknown dose unit {unit!r} (expected mg, g or ug)")
    return float(Decimal(repr(value)) * size)


def units_like(target: str) -> list[str]:
    kind = _KIND.get(target)
    return sorted(_UNITS[kind]) if kind else [target]
