"""From an assessment to CDS Hooks cards: presentation only, never a new decision.

Every status, alert, recommendation and guidance card comes from the rule packs (through
``jdm_cds.evaluate``); this module only chooses the order and the words around them. Each
card says which rule made it, its pack and version, the values that decided it, its
assumptions and its sources, in Markdown ``detail``.

Card uuids are stable: the same rule, pack version and content for the same patient give
the same uuid (a name-based UUID, so the patient id cannot be read back from it), and the
service records which rule made each uuid, so feedback joins to the rule.
"""

from __future__ import annotations

import functools
import hashlib
import uuid
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from jdm_cds.language.compiler import RuleBase
from jdm_cds.model.assessment import Assessment, Judgement
from jdm_cds.service.database import CardOrigin
from jdm_cds.service.models import Card, Coding, Link, OverrideReason, Source, Suggestion

RULES_SYSTEM = "https://jdm-cds.org/fhir/CodeSystem/rules"
OVERRIDE_SYSTEM = "https://jdm-cds.org/fhir/CodeSystem/override-reasons"
_NAMESPACE = uuid.UUID("5d1f6c1e-3b7a-4c55-9a0e-2f1c9d7b8a64")
_NAMESPACE_SHA1 = hashlib.sha1(_NAMESPACE.bytes, usedforsecurity=False)  # never updated
# A card is validated as every part of a response is, by the model's compiled validator
# called directly: ``Card(**fields)`` spends a quarter as much again on its Python frame.
_validated_card = Card.__pydantic_validator__.validate_python
_VARIANT = {digit: "89ab"[int(digit, 16) & 0b11] for digit in "0123456789abcdef"}
SUMMARY_LIMIT = 139  # CDS Hooks: "less than 140 characters"

# Offered with every warning and critical card, so that an override says why (the
# feedback report counts them per rule).
OVERRIDE_REASONS = (
    OverrideReason(code="already-addressed", system=OVERRIDE_SYSTEM,
                   display="Already addressed"),
    OverrideReason(code="benefit-outweighs-risk", system=OVERRIDE_SYSTEM,
                   display="Benefit outweighs the risk for this patient"),
    OverrideReason(code="data-incorrect", system=OVERRIDE_SYSTEM,
                   display="The patient's data shown are incorrect or out of date"),
    OverrideReason(code="disagree", system=OVERRIDE_SYSTEM,
                   display="Disagree with the recommendation"),
)
_SEVERITY = {"critical": 0, "warning": 1, "info": 2}
_STATUS_WORDS = {"met": "met", "not_met": "not met", "indeterminate": "indeterminate",
                 "not_applicable": "not applicable"}


class RuleInfo(NamedTuple):
    """What a card says of the rule behind it."""

    rule: str
    title: str
    pack: str
    version: str
    pack_title: str


class IssuedCard(NamedTuple):
    card: Card
    origins: tuple[CardOrigin, ...]


class CardMaker:
    """Cards of one rule base; made once per service process."""

    def __init__(self, rulebase: RuleBase, plugin_versions: dict[str, str]) -> None:
        self.rules = {rule_id: RuleInfo(rule_id, c.rule.title, c.pack.id, c.pack.version,
                                        c.pack.title)
                      for rule_id, c in rulebase.rules.items()}
        self.plugin_versions = plugin_versions

    # --- patient-view --------------------------------------------------------------------

    def patient_view(self, service: str, assessment: Assessment) -> list[IssuedCard]:
        """Alerts, recommendations, the judgements of each pack, plugin guidance, then
        information alerts; critical and warning cards first."""
        urgent: list[Any] = []
        info: list[Any] = []
        for a in assessment.alerts:
            (info if a.indicator == "info" else urgent).append(a)
        cards = [self.alert(service, assessment, a) for a in urgent]
        cards += [self.recommendation(service, assessment, r) for r in assessment.recommendations]
        cards += self.judgements(service, assessment)
        cards += [self.guidance(service, assessment, g) for g in assessment.guidance]
        cards += [self.alert(service, assessment, a) for a in info]
        stale = getattr(assessment, "stale_data", None)
        # Critical, then warning, then information, each in the order above; the stale-data
        # warning (an alert of the rule packs) first of all when the data are old.
        first = None if stale is None else stale.rule
        cards.sort(key=lambda issued: (issued.origins[0].rule != first,
                                       _SEVERITY[issued.card.indicator]))
        return cards

    def alert(self, service: str, assessment: Assessment, alert: Any,
              suggestions: Sequence[Suggestion] = ()) -> IssuedCard:
        info = self._info(alert.rule, alert.version)
        lines = [alert.detail]
        if alert.visit_date is not None:
            lines.append(f"Visit: {alert.visit_date.isoformat()}.")
        return self._card(
            service, assessment, info, summary=alert.summary, indicator=alert.indicator,
            body=lines, assumptions=getattr(alert, "assumptions", []),
            sources=getattr(alert, "sources", None) or [alert.source],
            suggestions=suggestions, key=alert.visit_date)

    def recommendation(self, service: str, assessment: Assessment, rec: Any) -> IssuedCard:
        info = self._info(rec.rule, rec.version)
        return self._card(
            service, assessment, info, summary=rec.summary, indicator="info",
            body=[rec.detail, f"Because: {rec.because}."], assumptions=rec.assumptions,
            sources=getattr(rec, "sources", None) or [rec.source])

    def guidance(self, service: str, assessment: Assessment, card: Any) -> IssuedCard:
        plugin = card.plugin or "plugin"
        version = (getattr(card, "version", None) or self.plugin_versions.get(plugin)
                   or "unversioned")
        info = RuleInfo(card.id, card.summary, plugin, version, f"plugin {plugin}")
        return self._card(
            service, assessment, info, summary=card.summary, indicator=card.indicator,
            body=[card.detail], assumptions=getattr(card, "assumptions", []),
            sources=getattr(card, "sources", None) or [card.source])

    def judgements(self, service: str, assessment: Assessment) -> list[IssuedCard]:
        """One card per pack of judgements (CID, response, withdrawal, ...): its statuses
        in the summary, each judgement's working in the detail. A pack whose judgements are
        all not applicable has no card."""
        by_pack: dict[str, list[Judgement]] = {}
        for judgement in assessment.judgements.values():
            by_pack.setdefault(judgement.pack, []).append(judgement)
        cards = []
        for judgements in by_pack.values():
            shown = [j for j in judgements if j.status != "not_applicable"]
            if not shown:
                continue
            infos = [self._info(j.rule, j.version) for j in shown]
            statuses = "; ".join([f"{_short(info.title)} {_STATUS_WORDS[j.status]}"
                                  for j, info in zip(shown, infos, strict=True)])
            summary = f"{infos[0].pack_title}: {statuses}"
            body = [_judgement_markdown(j) for j in shown]
            cards.append(self._card(
                service, assessment, infos[0], summary=summary, indicator="info", body=body,
                assumptions=[a for j in shown for a in j.assumptions],
                sources=[c for j in shown for c in j.citations], origins=infos,
                header=False))
        return cards

    # --- shared ----------------------------------------------------------------------------

    def _info(self, rule: str, version: str) -> RuleInfo:
        known = self.rules.get(rule)
        if known is not None:
            return known
        return RuleInfo(rule, rule, rule.split(".")[0], version, rule.split(".")[0])

    def _card(self, service: str, assessment: Assessment, info: RuleInfo, *, summary: str,
              indicator: str, body: Iterable[str], assumptions: Iterable[Any],
              sources: Iterable[Any], suggestions: Sequence[Suggestion] = (),
              origins: Sequence[RuleInfo] | None = None, header: bool = True,
              key: Any = None) -> IssuedCard:
        origins = origins or (info,)
        summary = _fit(summary)
        name = [service, assessment.patient_id, str(assessment.evaluation_visit)]
        name += [f"{o.rule}@{o.version}" for o in origins]
        name += (summary, str(key))
        card_id = card_uuid("\x1f".join(name))
        cited = _sources(sources)
        card: Card = _validated_card({
            "uuid": card_id, "summary": summary, "indicator": indicator,
            "detail": _detail(info, body, assumptions, cited, header),
            "source": _source(info, cited[0][1] if cited else None),
            "suggestions": list(suggestions) or None,
            "selectionBehavior": "at-most-one" if suggestions else None,
            "overrideReasons": list(OVERRIDE_REASONS) if indicator != "info" else None,
            "links": [_link(label, url) for label, url in cited if url] or None,
        })
        return IssuedCard(card, tuple([CardOrigin(card_id, o.rule, o.pack, o.version)
                                       for o in origins]))


def card_uuid(name: str) -> str:
    """``str(uuid.uuid5(_NAMESPACE, name))``, written from the SHA-1 digest directly: the
    UUID object that uuid5 makes, and printing it, cost more than the hash. The version
    (5) replaces the digest's 13th hex digit, the RFC 4122 variant the top bits of its
    17th."""
    digest = _NAMESPACE_SHA1.copy()  # a copy costs less than a new hash object
    digest.update(name.encode())
    h = digest.hexdigest()
    return f"{h[:8]}-{h[8:12]}-5{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:32]}"


def _fit(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= SUMMARY_LIMIT else text[:SUMMARY_LIMIT - 1].rstrip() + "…"


# Functions of a rule's title only: made once per title.
@functools.lru_cache(maxsize=4096)
def _short(title: str) -> str:
    return title.split(" (")[0]


def _value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.2f}".rstrip("0").rstrip(".")
    return str(value)


def _judgement_markdown(j: Judgement) -> str:
    visit = j.visit_date
    lines = [f"**{j.title}**: {_STATUS_WORDS[j.status]} "
             f"(rule `{j.rule}`, pack `{j.pack}` {j.version}"
             + (f", visit {visit.isoformat()})" if visit else ")")]
    because = j.because
    facts = because.get("facts")
    if facts:
        lines.append("- deciding values: " + ", ".join(
            [f"{name} = {_value(value)}" for name, value in facts.items()]))
    criteria = [f"`{c['test']}` {c['status']}" for c in because.get("criteria") or []
                if c.get("status") != "not_needed"]
    if criteria:
        lines.append("- criteria: " + "; ".join(criteria))
    values = [f"{k} = {_value(v)}" for k, v in j.values.items() if v is not None]
    if values:
        lines.append("- values: " + ", ".join(values))
    if j.missing:
        lines.append("- missing: " + ", ".join(j.missing))
    for reason in j.reasons:
        lines.append(f"- open: {reason}")
    would = j.would_decide
    if would is not None:
        lines += _would_decide(would)
    return "\n".join(lines)


def _would_decide(would: Any) -> list[str]:
    """What would settle an indeterminate judgement (the judgement's ``would_decide``)."""
    lines = []
    for completion in would.sets:
        outcomes = [f"{status.replace('_', ' ')} if "
                    + " or ".join(" and ".join(bound.text for bound in alternative)
                                  for alternative in alternatives)
                    for status in ("met", "not_met", "not_applicable")
                    if (alternatives := getattr(completion, status))]
        lines.append(f"- would decide: {', '.join(completion.fields)}: {'; '.join(outcomes)}")
    if would.window is not None:
        lines.append(f"- window closes {would.window.closes.isoformat()}: {would.window.needs}")
    return lines


def _sources(sources: Iterable[Any]) -> list[tuple[str, str | None]]:
    found: dict[str, str | None] = {}
    for source in sources:
        if isinstance(source, dict):
            found.setdefault(str(source.get("label")), source.get("url"))
        else:
            found.setdefault(str(source.label), source.url)
    return list(found.items())


# A card's source and links depend only on its rule and citations, not on the patient:
# made once each (the models are frozen, so a card may share them).
@functools.lru_cache(maxsize=4096)
def _source(info: RuleInfo, url: str | None) -> Source:
    return Source(label=f"jdm-cds {info.pack} {info.version}", url=url,
                  topic=Coding(system=RULES_SYSTEM, code=info.rule, display=_fit(info.title)))


@functools.lru_cache(maxsize=4096)
def _link(label: str, url: str) -> Link:
    return Link(label=_fit(label), url=url, type="absolute")


@functools.lru_cache(maxsize=4096)
def _header(info: RuleInfo) -> str:
    return f"Rule `{info.rule}` ({info.title}), pack `{info.pack}` {info.version}."


def _detail(info: RuleInfo, body: Iterable[str], assumptions: Iterable[Any],
            cited: list[tuple[str, str | None]], header: bool) -> str:
    parts = [_header(info)] if header else []
    for text in body:
        if text and (text := text.strip()):
            parts.append(text)
    seen: dict[str, str] = {}
    for assumption in assumptions:
        if isinstance(assumption, dict):
            seen.setdefault(str(assumption.get("key")), str(assumption.get("text")))
        else:
            seen.setdefault(str(assumption.key), str(assumption.text))
    if seen:
        parts.append("**Assumptions**\n" + "\n".join(
            [f"- ASSUMPTION `{key}`: {text}" for key, text in seen.items()]))
    if cited:
        parts.append("**Sources**\n" + "\n".join(
            [f"- [{label}]({url})" if url else f"- {label}" for label, url in cited]))
    parts.append("Decision support only: it does not replace the clinician's judgement.")
    return "\n\n".join(parts)
