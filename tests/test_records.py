"""A ``Record`` behaves as the frozen dataclass it stands for: each test builds the same
class both ways and compares what they do (construction, defaults, ``==`` and ``hash``
without the fields left out of comparison, ``repr``, refusal of assignment, pickling,
``replace``, positional patterns)."""

from __future__ import annotations

import dataclasses
import pickle
from dataclasses import dataclass, field
from typing import Any

import pytest
from campaign import campaign
from hypothesis import given
from hypothesis import strategies as st

from jdm_cds.language import rule_types
from jdm_cds.language.records import Record


@dataclass(frozen=True)
class PlaceD:
    file: str
    line: int


class PlaceR(Record):
    file: str
    line: int


@dataclass(frozen=True)
class ItemD:
    name: str
    value: float | str
    place: PlaceD = field(compare=False)
    unit: str | None = None
    level: str = "info"


class ItemR(Record):
    name: str
    value: float | str
    place: PlaceR = field(compare=False)
    unit: str | None = None
    level: str = "info"


def _both(name: str, value: float | str, file: str, line: int, unit: str | None,
          level: str | None, keywords: bool) -> tuple[ItemD, ItemR]:
    """The same values given the same way to the dataclass and to the record."""
    made = []
    for cls, place in ((ItemD, PlaceD(file, line)), (ItemR, PlaceR(file, line))):
        extra: dict[str, Any] = {} if level is None else {"level": level}
        if keywords:
            made.append(cls(name=name, value=value, place=place, unit=unit, **extra))
        else:
            made.append(cls(name, value, place, unit, **extra))
    dataclass_made, record_made = made
    assert isinstance(dataclass_made, ItemD) and isinstance(record_made, ItemR)
    return dataclass_made, record_made


_text = st.text(max_size=5)
_values = st.tuples(_text, st.one_of(st.floats(allow_nan=False), _text), _text,
                    st.integers(0, 3), st.none() | _text, st.none() | _text, st.booleans())


@campaign(300, 5_000)
@given(_values, _values)
def test_a_record_compares_hashes_and_shows_as_its_dataclass(
        first: tuple[Any, ...], second: tuple[Any, ...]) -> None:
    d1, r1 = _both(*first)
    d2, r2 = _both(*second)
    assert (r1 == r2) is (d1 == d2)
    assert (r1 != r2) is (d1 != d2)
    assert hash(r1) == hash(r2) or r1 != r2
    assert repr(r1).replace("ItemR", "ItemD").replace("PlaceR", "PlaceD") == repr(d1)
    assert [repr(getattr(r1, name)).replace("R(", "D(") for name in ItemD.__match_args__] == \
        [repr(getattr(d1, name)) for name in ItemD.__match_args__]
    assert ItemR.__match_args__ == ItemD.__match_args__
    assert pickle.loads(pickle.dumps(r1)) == r1
    assert repr(pickle.loads(pickle.dumps(r1))) == repr(r1)


def test_a_record_is_frozen_and_replaced_as_a_dataclass() -> None:
    record = ItemR("a", 1.0, PlaceR("f", 1))
    for attempt in (lambda: setattr(record, "name", "b"), lambda: delattr(record, "name"),
                    lambda: setattr(record, "other", 1)):
        with pytest.raises(dataclasses.FrozenInstanceError):
            attempt()
    changed = record.replace(unit="mg", place=PlaceR("g", 2))
    twin = dataclasses.replace(ItemD("a", 1.0, PlaceD("f", 1)), unit="mg",
                               place=PlaceD("g", 2))
    assert repr(changed).replace("R(", "D(") == repr(twin)
    assert (record.name, record.unit, record.level) == ("a", None, "info")
    assert ItemR.unit is None and ItemR.level == "info"  # defaults, as class attributes


@pytest.mark.parametrize("call", [
    lambda: ItemR("a"),  # a required field missing
    lambda: ItemR("a", 1.0, PlaceR("f", 1), None, "info", "extra"),  # too many
    lambda: ItemR("a", 1.0, PlaceR("f", 1), name="b"),  # twice
    lambda: ItemR("a", 1.0, PlaceR("f", 1), colour="red"),  # no such field
])
def test_a_record_refuses_the_calls_a_dataclass_refuses(call: Any) -> None:
    with pytest.raises(TypeError):
        call()


def test_a_required_field_after_a_default_is_refused_as_in_a_dataclass() -> None:
    with pytest.raises(TypeError):
        class _Wrong(Record):
            label: str | None = None
            name: str


@pytest.mark.parametrize("option", [{"default_factory": list}, {"init": False},
                                    {"repr": False}, {"hash": True}, {"kw_only": True},
                                    {"metadata": {"unit": "mg"}}])
def test_a_field_option_a_record_would_ignore_is_refused(option: dict[str, Any]) -> None:
    # Only default= and compare= are read: another option, silently dropped, would make a
    # record that is not the dataclass it reads as (a default_factory field required).
    with pytest.raises(TypeError, match="takes only default= and compare="):
        class Dosed(Record):
            dose: list[float] = field(**option)


def test_the_rule_pack_types_are_records() -> None:
    """What start-up saves: no rule-pack type is built by ``dataclass``."""
    types = [value for value in vars(rule_types).values()
             if isinstance(value, type) and value.__module__ == rule_types.__name__]
    assert len(types) > 10  # the test can fail
    assert [cls.__name__ for cls in types if dataclasses.is_dataclass(cls)] == []
    assert all(issubclass(cls, Record) for cls in types)


def test_what_a_run_sends_its_workers_is_records_that_pickle() -> None:
    """``Task`` and ``EngineSpec`` (built by every batch command, sent to every worker) are
    records: equal and hashed by value after pickling, with the dataclass's defaults."""
    from datetime import date

    from jdm_cds.cohort.work import EngineSpec, Task

    task = Task(mode="assess", engines=(EngineSpec(("anti_mda5",), plugin_budget=None),),
                at=date(2021, 1, 1), json="line")
    copy = pickle.loads(pickle.dumps(task))
    assert (copy, hash(copy)) == (task, hash(task))
    assert copy.engines[0].disabled == ("anti_mda5",) and copy.engines[0].rules is None
    assert Task(mode="cohort").engines == (EngineSpec((), None, 2.0),)
    assert (Task(mode="cohort").summary, Task(mode="cohort").explain) == (True, True)
    assert task != task.replace(explain=False)
    with pytest.raises(dataclasses.FrozenInstanceError):
        task.mode = "diff"  # type: ignore[misc]
    assert not any(dataclasses.is_dataclass(cls) for cls in (Task, EngineSpec))
