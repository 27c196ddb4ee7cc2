"""Frozen records: immutable value classes, as ``@dataclass(frozen=True)`` makes them, for
the many small classes read at start-up (rule-pack types).

On Python 3.11 ``dataclass`` writes each class's methods as source text and compiles each
one (six for a frozen class): about 3 million instructions a class, most of a warm start's
cost of the modules that declare many. A ``Record`` subclass shares one set of methods
that read the fields from the class; the fields are declared as for a dataclass
(annotations, defaults, ``dataclasses.field(compare=False)``), and type checkers read the
class as a frozen dataclass (``dataclass_transform``). Construction, ``==``, ``hash``,
``repr``, pickling and the refusal of assignment behave as the dataclass's.
"""

from __future__ import annotations

import inspect
from dataclasses import MISSING, Field, FrozenInstanceError, field
from operator import itemgetter
from typing import Any, ClassVar, Self, dataclass_transform


@dataclass_transform(frozen_default=True, field_specifiers=(field,))
class Record:
    """Base of a frozen record; its fields are its subclasses' annotations, in order."""

    __slots__ = ()
    _fields: ClassVar[tuple[str, ...]] = ()
    _compared: ClassVar[tuple[str, ...]] = ()
    _defaults: ClassVar[dict[str, Any]] = {}
    # The compared fields' values, from an instance's __dict__ (equality and hash).
    _key: ClassVar[staticmethod[[dict[str, Any]], Any]] = staticmethod(lambda _: ())

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        fields = dict.fromkeys(cls._fields)
        compared = dict.fromkeys(cls._compared)
        defaults = dict(cls._defaults)
        for name, annotation in inspect.get_annotations(cls).items():
            if str(annotation).startswith(("ClassVar", "typing.ClassVar")):
                continue
            fields[name] = None
            compared[name] = None
            value = cls.__dict__.get(name, MISSING)
            if isinstance(value, Field):
                # Only default and compare are read here: any other option of field() would
                # be silently ignored (a default_factory field would become required).
                if (value.default_factory is not MISSING or not value.init or not value.repr
                        or value.hash is not None or value.kw_only is True or value.metadata):
                    raise TypeError(f"{cls.__qualname__}.{name}: a record's field takes only "
                                    "default= and compare=")
                if not value.compare:
                    del compared[name]
                value = value.default
                if value is MISSING:
                    delattr(cls, name)  # a required field: no class attribute
                else:
                    type.__setattr__(cls, name, value)
            if value is not MISSING:
                defaults[name] = value
            elif defaults:
                raise TypeError(f"non-default argument '{name}' follows default argument")
        cls._fields, cls._compared = tuple(fields), tuple(compared)
        cls._defaults = defaults
        if compared:
            cls._key = staticmethod(itemgetter(*compared))
        type.__setattr__(cls, "__match_args__", cls._fields)  # positional patterns, as a dataclass

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        names = self._fields
        if not kwargs and len(args) == len(names):  # every field, in order: the usual call
            self.__dict__.update(zip(names, args, strict=True))
            return
        if len(args) > len(names):
            raise TypeError(f"{type(self).__qualname__}() takes {len(names)} arguments "
                            f"but {len(args)} were given")
        given = dict(zip(names, args, strict=False))
        for name, value in kwargs.items():
            if name not in names:
                raise TypeError(f"{type(self).__qualname__}() got an unexpected keyword "
                                f"argument '{name}'")
            if name in given:
                raise TypeError(f"{type(self).__qualname__}() got multiple values for "
                                f"argument '{name}'")
            given[name] = value
        values = self.__dict__
        for name in names:
            if name in given:
                values[name] = given[name]
            elif name in self._defaults:
                values[name] = self._defaults[name]
            else:
                raise TypeError(f"{type(self).__qualname__}() missing required argument: "
                                f"'{name}'")

    def __setattr__(self, name: str, value: Any) -> None:
        raise FrozenInstanceError(f"cannot assign to field '{name}'")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field '{name}'")

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return bool(self._key(self.__dict__) == self._key(other.__dict__))

    def __hash__(self) -> int:
        return hash(self._key(self.__dict__))

    def __repr__(self) -> str:
        values = self.__dict__
        shown = ", ".join(f"{name}={values[name]!r}" for name in self._fields)
        return f"{type(self).__qualname__}({shown})"

    def replace(self, **changes: Any) -> Self:
        """A copy with ``changes`` (``dataclasses.replace``)."""
        return type(self)(**{**self.__dict__, **changes})
