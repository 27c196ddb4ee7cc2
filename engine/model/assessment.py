"""What an evaluation returns: judgements with their reasons, alerts, recommendations."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from jdm_cds.language.rule_types import Indicator, Status


def _no_items() -> list[Any]:
    """A new empty list, as a field's default. A function rather than ``list``: pydantic
    reads a default factory's signature, and that of the built-in ``list`` (or ``dict``)
    only from its text, by tokenizing it, which costs a command about 20 million
    instructions at start-up."""
    return []


def _no_entries() -> dict[str, Any]:
    """A new empty dict, as a field's default (a function, as ``_no_items`` says why)."""
    return {}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


M = TypeVar("M", bound=BaseModel)
_REQUIRED = object()
# BaseModel's four slots, set through their descriptors (object.__setattr__ looks each name
# up again; this runs for every model an evaluation makes).
_SLOT = {name: BaseModel.__dict__[name].__set__ for name in
         ("__dict__", "__pydantic_fields_set__", "__pydantic_extra__", "__pydantic_private__")}
_SET_DICT, _SET_FIELDS_SET, _SET_EXTRA, _SET_PRIVATE = _SLOT.values()


class _Plan:
    """What ``built`` needs of a model class: its fields in order with their constant
    defaults (``_REQUIRED`` for none), those made by a factory, and those required."""

    __slots__ = ("factories", "required", "template")

    def __init__(self, cls: type[BaseModel]) -> None:
        self.template: dict[str, Any] = {}
        self.factories: list[tuple[str, Any]] = []
        for name, info in cls.model_fields.items():
            self.template[name] = _REQUIRED
            if info.default_factory is not None:
                self.factories.append((name, info.default_factory))
            elif not info.is_required():
                # pydantic copies a mutable default for each model; these are all constants.
                if not isinstance(info.default, str | bool | int | float | None):
                    raise TypeError(f"{cls.__name__}.{name}: a default that is not a constant")
                self.template[name] = info.default
        self.required = frozenset(name for name, info in cls.model_fields.items()
                                  if info.is_required())


_PLANS: dict[type[BaseModel], _Plan] = {}


def built(cls: type[M], values: dict[str, Any]) -> M:
    """A model made from ``values`` without validating them, for values the engine made
    itself: each of its field's exact type (what strict validation accepts), each list and
    dict new (validation would copy them), and what a model validator would add given
    already (an alert's ``source``). The rest is what validation gives: the defaults of the
    fields not given, and the fields given as those set.

    Tests compare each model made so, on generated patients, with strict validation of the
    same values."""
    plan = _PLANS.get(cls)
    if plan is None:
        plan = _PLANS[cls] = _Plan(cls)
    fields = plan.template.copy()  # the fields in order (a model's dict has that order)
    fields.update(values)
    if len(fields) != len(plan.template) or not plan.required <= values.keys():
        raise TypeError(f"{cls.__name__}: fields {sorted(values)} given, where it has "
                        f"{list(plan.template)} and needs {sorted(plan.required)}")
    for name, factory in plan.factories:
        if name not in values:
            fields[name] = factory()
    model = object.__new__(cls)
    _SET_DICT(model, fields)
    _SET_FIELDS_SET(model, set(values))
    _SET_EXTRA(model, None)
    _SET_PRIVATE(model, None)
    return model


class Source(_Model):
    # Frozen: a rule's citations and assumptions are made once per rule base and reach every
    # assessment; one changed by a caller would change every later answer.
    model_config = ConfigDict(extra="forbid", frozen=True)

    label: str
    url: str | None = None


class Assumption(_Model):
    model_config = ConfigDict(extra="forbid", frozen=True)  # as Source says why

    key: str
    text: str


class Judgement(_Model):
    status: Status
    rule: str
    version: str
    pack: str
    title: str
    because: dict[str, Any] = Field(
        description="'facts': the values used (field: value); 'criteria': each test as "
        "{test, criterion, value, status}, status met, not_met, indeterminate, or not_needed "
        "when the decision did not depend on it; and the working of derived values (e.g. "
        "the score's domains)")
    missing: list[str] = Field(description="fields whose absence left the judgement open")
    reasons: list[str] = Field(
        default_factory=_no_items,
        description="why the judgement is indeterminate, beyond missing data")
    assumptions: list[Assumption] = Field(default_factory=_no_items)
    citations: list[Source]
    visit_date: date | None = Field(None, description="the visit judged (visit-scope rules)")
    values: dict[str, Any] = Field(default_factory=_no_entries,
                                   description="values the rule reports, e.g. score, category")
    plugin: str | None = None
    would_decide: WouldDecide | None = Field(
        None, description="for an indeterminate judgement: the smallest sets of missing values "
        "that would settle it, with the ranges giving each status, and any open window")


def _first_source(data: Any) -> Any:
    """``source`` is the first of ``sources`` (a CDS Hooks card has one source): given
    either, the other follows; given both, they must agree."""
    if not isinstance(data, dict):
        return data
    sources, source = data.get("sources"), data.get("source")
    if source is not None and not sources:
        return {**data, "sources": [source]}
    if source is None and sources:
        return {**data, "source": sources[0]}
    return data


class _Sourced(_Model):
    """Something shown to a clinician: every reference behind it, the first as ``source``.

    Each subclass declares ``source``, ``sources`` and ``assumptions`` (with ``_SOURCE``,
    ``_SOURCES``, ``_ASSUMPTIONS``) where they read best.
    """

    if TYPE_CHECKING:  # declared by each subclass, in its own order
        source: Source
        sources: list[Source]

    @model_validator(mode="before")
    @classmethod
    def _fill_source(cls, data: Any) -> Any:
        return _first_source(data)

    @model_validator(mode="after")
    def _source_is_first(self) -> _Sourced:
        # The same object when filled in above: no field-by-field comparison needed.
        if self.source is not self.sources[0] and self.source != self.sources[0]:
            raise ValueError("'source' must be the first of 'sources'")
        return self


def _source() -> Any:
    return Field(description="the first of 'sources' (a CDS Hooks card has one source)")


def _sources() -> Any:
    return Field(min_length=1, description="every reference it rests on")


def _assumptions() -> Any:
    return Field(default_factory=_no_items,
                 description="every assumption it rests on (ASSUMPTION in the text report)")


class Alert(_Sourced):
    id: str
    indicator: Indicator
    summary: str
    detail: str
    source: Source = _source()
    sources: list[Source] = _sources()
    assumptions: list[Assumption] = _assumptions()
    rule: str
    version: str
    visit_date: date | None = None
    plugin: str | None = None


class Dependency(_Model):
    """A judgement of the same evaluation, and the states it was written for."""

    rule: str
    statuses: list[Status]


class Recommendation(_Sourced):
    id: str
    summary: str
    detail: str
    because: str = Field(description="the judgements it depends on, in words")
    depends_on: list[Dependency] = Field(
        default_factory=_no_items, description="each judgement of the same evaluation it rests "
        "on, with the statuses it was written for; it is shown only in those")
    source: Source = _source()
    sources: list[Source] = _sources()
    assumptions: list[Assumption] = _assumptions()
    rule: str
    version: str
    plugin: str | None = None


# A plugin writes its cards: each text is bounded, so that a card cannot flood a report.
_LABEL, _URL, _KEY, _TEXT, _MANY = 1_000, 2_000, 200, 2_000, 20


def _bounded_source(source: Source) -> Source:
    if not source.label or len(source.label) > _LABEL:
        raise ValueError(f"label must have 1 to {_LABEL:,} characters (got {len(source.label):,})")
    if source.url is not None and len(source.url) > _URL:
        raise ValueError(f"url must have at most {_URL:,} characters (got {len(source.url):,})")
    return source


def _bounded_assumption(assumption: Assumption) -> Assumption:
    if len(assumption.key) > _KEY or len(assumption.text) > _TEXT:
        raise ValueError(f"an assumption's key may have {_KEY:,} characters and its text "
                         f"{_TEXT:,} (got {len(assumption.key):,} and {len(assumption.text):,})")
    return assumption


_CardSource = Annotated[Source, AfterValidator(_bounded_source)]
_CardAssumption = Annotated[Assumption, AfterValidator(_bounded_assumption)]


class GuidanceCard(_Sourced):
    """Advice from a plugin's guidance hook. Immutable once validated; every text bounded."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, max_length=200)
    indicator: Indicator
    summary: str = Field(min_length=1, max_length=140)
    detail: str = Field(max_length=10_000)
    source: _CardSource = _source()
    sources: list[_CardSource] = Field(min_length=1, max_length=_MANY,
                                       description="every reference it rests on")
    assumptions: list[_CardAssumption] = Field(
        default_factory=_no_items, max_length=_MANY,
        description="every assumption it rests on (ASSUMPTION in the text report)")
    version: str | None = Field(None, max_length=100,
                                description="version of the pack the card belongs to")
    plugin: str | None = Field(None, max_length=200)


class StaleData(_Model):
    """The evaluation visit is too old for the outputs to describe the patient now."""

    days: int = Field(description="days from the evaluation visit to the evaluation date")
    evaluation_visit: date
    evaluated_at: date
    message: str
    rule: str
    version: str
    assumptions: list[Assumption] = Field(default_factory=_no_items)


class PluginError(_Model):
    plugin: str
    hook: str
    error: str


class UnmappedResource(_Model):
    """A resource of an input (FHIR) that the mapping does not know: reported, never dropped."""

    resource_type: str
    id: str | None = None
    code: str | None = Field(None, description="system|code of the resource's code, if any")
    display: str | None = None
    reason: str = Field(description="why it was not read")


class Assessment(_Model):
    patient_id: str
    evaluated_at: date
    evaluation_visit: date | None
    stale_data: StaleData | None = Field(
        None, description="set when the data are older than the rule packs allow (alert "
        "safety.stale_data): every recommendation then says how old they are")
    judgements: dict[str, Judgement]
    alerts: list[Alert] = Field(default_factory=_no_items)
    recommendations: list[Recommendation] = Field(default_factory=_no_items)
    guidance: list[GuidanceCard] = Field(default_factory=_no_items)
    errors: list[PluginError] = Field(default_factory=_no_items)
    unmapped: list[UnmappedResource] | None = Field(
        default=None,
        description="resources of a FHIR input that were not read (null for other inputs)")


class Bound(_Model):
    """The range of one missing value in a completion: ``low``/``high`` for a number (None:
    unbounded), or the ``values`` a yes/no, text or status field may take."""

    # Frozen, with tuples: the completions of a rule are worked out once for a set of test
    # outcomes and reach every assessment with those outcomes.
    model_config = ConfigDict(extra="forbid", frozen=True)

    field: str
    text: str = Field(description="the range as a test, e.g. 'cmas >= 48'")
    low: float | None = None
    low_inclusive: bool = True
    high: float | None = None
    high_inclusive: bool = True
    values: tuple[Any, ...] | None = None


class Completion(_Model):
    """A smallest set of missing values that would settle a judgement, and which of their
    ranges give which status (each alternative a list of bounds, one per field)."""

    model_config = ConfigDict(extra="forbid", frozen=True)  # as Bound says why

    fields: tuple[str, ...]
    met: tuple[tuple[Bound, ...], ...] = ()
    not_met: tuple[tuple[Bound, ...], ...] = ()
    not_applicable: tuple[tuple[Bound, ...], ...] = ()


class WindowClose(_Model):
    """An open time window: when it closes, and what a visit before then would need."""

    closes: date = Field(description="the last day of the window")
    needs: str = Field(description="what a visit on or before that day would need, in words")


class WouldDecide(_Model):
    sets: list[Completion] = Field(default_factory=_no_items)
    window: WindowClose | None = None
    complete: bool = Field(True, description="false when the search stopped at its limit "
                           "(sets then lists the smaller ones found)")


Judgement.model_rebuild()
