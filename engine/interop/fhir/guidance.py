"""Assessments as FHIR R4: a Bundle of GuidanceResponses, DetectedIssues and RequestGroups.

The shape follows the FHIR Clinical Reasoning module (a decision-support service answers
with GuidanceResponse):
- per judgement, one ``GuidanceResponse``: ``moduleUri`` names the rule in its pack and
  version (``https://jdm-cds.org/fhir/rules/<pack>/<rule>|<version>``); ``status`` is
  ``success`` when the rule decided (met, not_met, not_applicable) and ``data-required``
  when it is indeterminate, with a ``dataRequirement`` per missing field; the judgement
  itself (status, values, facts used, reasons) is a contained ``Parameters`` in
  ``outputParameters``; citations and assumptions are ``note``s;
- per evaluation, one ``GuidanceResponse`` for the whole (``moduleUri``
  ``https://jdm-cds.org/fhir/evaluation``) whose ``result`` is a ``RequestGroup`` of the
  recommendations and plugin guidance, and whose ``evaluationMessage`` is an
  ``OperationOutcome`` listing what the FHIR input held that was not read (``unmapped``);
- per alert, one ``DetectedIssue`` (severity high, moderate, low for critical, warning,
  info).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from jdm_cds.model.assessment import Assessment, Judgement

BASE = "https://jdm-cds.org/fhir"
_SEVERITY = {"critical": "high", "warning": "moderate", "info": "low"}


def _id(*parts: str) -> str:
    return re.sub(r"[^A-Za-z0-9.\-]", "-", "-".join(parts))[:64]


def _value(name: str, value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"name": name, "valueBoolean": value}
    if isinstance(value, int):
        return {"name": name, "valueInteger": value}
    if isinstance(value, float):
        return {"name": name, "valueDecimal": value}
    if isinstance(value, str):
        return {"name": name, "valueString": value}
    return {"name": name, "valueString": json.dumps(value, default=str, ensure_ascii=False)}


def _judgement(patient: str, when: str, key: str, judgement: Judgement) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = [{"name": "status", "valueCode": judgement.status}]
    if judgement.visit_date is not None:
        parameters.append({"name": "visit_date", "valueDate": judgement.visit_date.isoformat()})
    parameters += [_value(f"value.{k}", v) for k, v in judgement.values.items() if v is not None]
    parameters += [_value(f"fact.{k}", v)
                   for k, v in judgement.because.get("facts", {}).items() if v is not None]
    parameters += [{"name": "missing", "valueString": m} for m in judgement.missing]
    parameters += [{"name": "reason", "valueString": r} for r in judgement.reasons]
    response: dict[str, Any] = {
        "resourceType": "GuidanceResponse", "id": _id(patient, key),
        "contained": [{"resourceType": "Parameters", "id": "judgement",
                       "parameter": parameters}],
        "moduleUri": f"{BASE}/rules/{judgement.pack}/{judgement.rule}|{judgement.version}",
        "status": "data-required" if judgement.status == "indeterminate" else "success",
        "subject": {"reference": f"Patient/{patient}"},
        "occurrenceDateTime": when,
        "outputParameters": {"reference": "#judgement"},
        "reasonCode": [{"text": f"{judgement.title}: {judgement.status}"}],
    }
    notes = [f"{c.label}{f' {c.url}' if c.url else ''}" for c in judgement.citations]
    notes += [f"ASSUMPTION {a.key}: {a.text}" for a in judgement.assumptions]
    if notes:
        response["note"] = [{"text": n} for n in notes]
    if judgement.status == "indeterminate" and judgement.missing:
        response["dataRequirement"] = [
            {"type": "Observation", "mustSupport": [m]} for m in judgement.missing]
    return response


def _evaluation(assessment: Assessment, patient: str, when: str) -> list[dict[str, Any]]:
    resources: list[dict[str, Any]] = []
    response: dict[str, Any] = {
        "resourceType": "GuidanceResponse", "id": _id(patient, "evaluation"),
        "moduleUri": f"{BASE}/evaluation", "status": "success",
        "subject": {"reference": f"Patient/{patient}"}, "occurrenceDateTime": when,
    }
    if assessment.evaluation_visit is not None:
        response["reasonCode"] = [{"text": "evaluation visit "
                                   f"{assessment.evaluation_visit.isoformat()}"}]
    actions = [{"title": r.summary, "description": r.detail,
                "code": [{"coding": [{"system": f"{BASE}/rules", "code": r.rule}]}],
                "documentation": [{"type": "citation", "display": r.source.label,
                                   **({"url": r.source.url} if r.source.url else {})}]}
               for r in assessment.recommendations]
    actions += [{"title": g.summary, "description": g.detail,
                 "code": [{"coding": [{"system": f"{BASE}/guidance", "code": g.id}]}],
                 "documentation": [{"type": "citation", "display": g.source.label,
                                    **({"url": g.source.url} if g.source.url else {})}]}
                for g in assessment.guidance]
    if actions:
        group = {"resourceType": "RequestGroup", "id": _id(patient, "recommendations"),
                 "status": "draft", "intent": "proposal",
                 "subject": {"reference": f"Patient/{patient}"}, "action": actions}
        resources.append(group)
        response["result"] = {"reference": f"RequestGroup/{group['id']}"}
    if assessment.unmapped:
        outcome = {"resourceType": "OperationOutcome", "id": _id(patient, "unmapped"),
                   "issue": [{"severity": "warning", "code": "not-supported",
                              "diagnostics": f"{u.resource_type}/{u.id or '?'} not read: "
                              f"{u.reason}" + (f" ({u.code})" if u.code else "")
                              + (f" {u.display}" if u.display else "")}
                             for u in assessment.unmapped]}
        resources.append(outcome)
        response["evaluationMessage"] = [{"reference": f"OperationOutcome/{outcome['id']}"}]
    return [response, *resources]


def guidance_bundle(assessments: Sequence[Assessment]) -> dict[str, Any]:
    """A collection Bundle with every assessment as FHIR (see the module's docstring)."""
    entries: list[dict[str, Any]] = []
    for assessment in assessments:
        patient = _id(assessment.patient_id)
        when = assessment.evaluated_at.isoformat()
        resources = _evaluation(assessment, patient, when)
        resources += [_judgement(patient, when, key, j)
                      for key, j in assessment.judgements.items()]
        for n, alert in enumerate(assessment.alerts, 1):
            issue: dict[str, Any] = {
                "resourceType": "DetectedIssue", "id": _id(patient, "alert", str(n)),
                "status": "final", "severity": _SEVERITY[alert.indicator],
                "code": {"coding": [{"system": f"{BASE}/rules", "code": alert.rule}],
                         "text": alert.summary},
                "patient": {"reference": f"Patient/{patient}"},
                "detail": alert.detail,
                "reference": f"{BASE}/rules/{alert.rule}|{alert.version}",
            }
            if alert.visit_date is not None:
                issue["identifiedDateTime"] = alert.visit_date.isoformat()
            resources.append(issue)
        entries += [{"fullUrl": f"{BASE}/{r['resourceType']}/{r['id']}", "resource": r}
                    for r in resources]
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}
