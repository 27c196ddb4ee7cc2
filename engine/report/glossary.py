"""Clinical words for the names the engine uses: labels and units for reports.

Rule packs give every rule, criterion and derived value a ``title``, and a short ``label``
where the title is long (and a ``unit`` for a derived value); patient-file fields have
fixed labels and units here. A report looks names up in a ``Glossary`` built from the rule
base of the run, so a plugin's criteria read as well as the core ones.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

from jdm_cds.language.compiler import RuleBase
from jdm_cds.language.records import Record
from jdm_cds.plugins.budget import DEFAULT_BUDGET


class Term(Record):
    label: str
    unit: str = ""

    def show(self, value: object) -> str:
        """``value`` with this term's unit (``95 U/L``, ``yes``, ``major``)."""
        shown = number(value)
        # A no-break space: a value and its unit never part at the end of a line.
        return f"{shown}\u00a0{self.unit}" if self.unit and isinstance(value, int | float) \
            and not isinstance(value, bool) else shown


def number(value: object) -> str:
    """A value as a clinician reads it: at most three decimals, no trailing zeros."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return f"{value:.3f}".rstrip("0").rstrip(".") if abs(value) >= 0.001 else f"{value:g}"
    if value is None:
        return "unknown"
    return str(value)


# The patient file's measures (model/patient.py), in the words of the clinic.
PATIENT_FIELDS: dict[str, Term] = {
    "weight_kg": Term("weight", "kg"),
    "ck_u_l": Term("CK", "U/L"),
    "aldolase_u_l": Term("aldolase", "U/L"),
    "ldh_u_l": Term("LDH", "U/L"),
    "ast_u_l": Term("AST", "U/L"),
    "alt_u_l": Term("ALT", "U/L"),
    "cmas": Term("CMAS"),
    "mmt8": Term("MMT8"),
    "physician_global_vas": Term("physician global", "cm"),
    "parent_global_vas": Term("parent global", "cm"),
    "extramuscular_vas": Term("extramuscular activity", "cm"),
    "chaq": Term("CHAQ"),
    "das_skin": Term("skin DAS"),
    "das_muscle": Term("muscle DAS"),
    "das_total": Term("total DAS"),
    "prednisone_mg_per_kg_day": Term("prednisone", "mg/kg/day"),
    "prednisone_mg_per_day": Term("prednisone", "mg/day"),
    "ifn_alpha_fg_ml": Term("serum IFN-alpha", "fg/mL"),
    "adverse_events": Term("adverse events"),
    "antibodies": Term("antibodies"),
    "date": Term("visit date"),
}


class Glossary(Record):
    """Labels of fields (patient and derived), criteria and rules of one rule base."""

    fields: dict[str, Term]
    criteria: dict[tuple[str, str], str]  # (pack, name)
    rules: dict[str, str]

    @classmethod
    def of(cls, rulebase: RuleBase) -> Glossary:
        fields = dict(PATIENT_FIELDS)
        criteria: dict[tuple[str, str], str] = {}
        rules: dict[str, str] = {}
        for pack in rulebase.packs:
            for derived in pack.derived:
                fields.setdefault(derived.name, Term(derived.label or derived.title,
                                                     derived.unit or ""))
            for name, criterion in pack.criteria.items():
                criteria[(pack.id, name)] = criterion.label or criterion.title
            for rule in pack.rules:
                rules[rule.id] = rule.label or rule.title
        return cls(fields, criteria, rules)

    def term(self, name: str) -> Term:
        return self.fields.get(name) or Term(name.replace("_", " "))

    def criterion(self, pack: str, name: str) -> str:
        found = self.criteria.get((pack, name))
        if found is None:  # a criterion inlined from another pack's rule
            found = next((label for (_, other), label in self.criteria.items()
                          if other == name), name.replace("_", " "))
        return found

    def rule(self, rule_id: str, title: str) -> str:
        return self.rules.get(rule_id, title)


def default_glossary(disabled: Iterable[str] = (),
                     plugin_budget: float | None = DEFAULT_BUDGET) -> Glossary:
    """The glossary of the default rule base: the core packs and every installed plugin
    but ``disabled`` (read from the rules alone: no engine is built for it)."""
    return _default_glossary(frozenset(disabled), plugin_budget)


@functools.cache
def _default_glossary(disabled: frozenset[str], plugin_budget: float | None) -> Glossary:
    from jdm_cds.defaults import default_rulebase
    from jdm_cds.language.diagnostics import RuleLoadError
    from jdm_cds.plugins.manager import PluginLoadError

    try:
        return Glossary.of(default_rulebase(disabled, plugin_budget))
    except (PluginLoadError, RuleLoadError):
        return Glossary(dict(PATIENT_FIELDS), {}, {})
