"""Read-only views of the models a plugin is shown.

A plugin receives the assessment of the patient it is called for. It gets a view that
cannot be changed: the models are frozen subclasses of the real ones (``isinstance`` holds,
``model_dump`` works), their dicts and lists are subclasses that refuse every change. An
accidental ``assessment.judgements.clear()`` or ``judgement.status = "met"`` raises inside
the plugin, which is then reported as that plugin's failure, and neither the judgements nor
what the next plugin sees can change. A deliberate bypass (``object.__setattr__``,
``dict.__setitem__`` on the view) is not prevented: plugins are trusted code.
"""

from __future__ import annotations

import functools
from typing import Any, NoReturn, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)

_READ_ONLY = "what a plugin is shown is read-only: copy it to change it"


def _refuse(*_: object, **__: object) -> NoReturn:
    raise TypeError(_READ_ONLY)


class ReadOnlyDict(dict[Any, Any]):
    """A dict that refuses every change."""

    __setitem__ = __delitem__ = __ior__ = _refuse
    clear = pop = popitem = setdefault = update = _refuse


class ReadOnlyList(list[Any]):
    """A list that refuses every change."""

    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse
    append = extend = insert = pop = remove = clear = sort = reverse = _refuse


@functools.cache
def _frozen_class(cls: type[M]) -> type[M]:
    """A subclass of ``cls`` whose instances refuse attribute assignment."""
    namespace = {"model_config": {**cls.model_config, "frozen": True},
                 "__module__": cls.__module__, "__qualname__": cls.__qualname__,
                 "__doc__": cls.__doc__}
    return type(cls.__name__, (cls,), namespace)


def read_only(value: Any) -> Any:
    """``value`` with every model, dict and list in it made read-only (a new object;
    ``value`` itself is not changed). Dates, numbers and strings are immutable already."""
    if isinstance(value, BaseModel):
        cls = type(value)
        view = object.__new__(_frozen_class(cls))
        # What model_construct does, without its per-field default handling: every field
        # of a validated model is set already.
        fields = {name: read_only(item) for name, item in value.__dict__.items()}
        object.__setattr__(view, "__dict__", fields)
        object.__setattr__(view, "__pydantic_fields_set__", set(value.model_fields_set))
        object.__setattr__(view, "__pydantic_extra__", read_only(value.__pydantic_extra__))
        object.__setattr__(view, "__pydantic_private__", read_only(value.__pydantic_private__))
        return view
    if isinstance(value, dict):
        return ReadOnlyDict({key: read_only(item) for key, item in value.items()})
    if isinstance(value, list):
        return ReadOnlyList(read_only(item) for item in value)
    if isinstance(value, tuple):
        return tuple(read_only(item) for item in value)
    if isinstance(value, set):
        return frozenset(read_only(item) for item in value)
    return value

