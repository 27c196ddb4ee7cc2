"""What an evaluation returns: judgements with their reasons, alerts, recommendations."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from jdm_cds.language.rule_types import Indicator, Status


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Source(_Model):
    label: str
    url: str | None = None


class Assumption(_Model):
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
        default_factory=list, description="why the judgement is indeterminate, beyond missing data")
    assumptions: list[Assumption] = Field(default_factory=list)
    citations: list[Source]
    visit_date: date | None = Field(None, description="the visit judged (visit-scope rules)")
    values: dict[str, Any] = Field(default_factory=dict,
                                   description="values the rule reports, e.g. score, category")
    plugin: str | None = None


class Alert(_Model):
    id: str
    indicator: Indicator
    summary: str
    detail: str
    source: Source
    rule: str
    version: str
    visit_date: date | None = None
    plugin: str | None = None


class Recommendation(_Model):
    id: str
    summary: str
    detail: str
    because: str = Field(description="the judgement that triggered it")
    source: Source
    rule: str
    version: str
    assumptions: list[Assumption] = Field(default_factory=list)
    plugin: str | None = None


class GuidanceCard(_Model):
    """Advice from a plugin's guidance hook. Immutable once validated."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    indicator: Indicator
    summary: str = Field(max_length=140)
    detail: str
    source: Source
    plugin: str | None = None


class PluginError(_Model):
    plugin: str
    hook: str
    error: str


class Assessment(_Model):
    patient_id: str
    evaluated_at: date
    evaluation_visit: date | None
    judgements: dict[str, Judgement]
    alerts: list[Alert] = Field(default_factory=list)
    recommendations: list[Recommendation] = Field(default_factory=list)
    guidance: list[GuidanceCard] = Field(default_factory=list)
    errors: list[PluginError] = Field(default_factory=list)
