"""The closed vocabularies of a patient file: antibodies (with their aliases), drugs and
procedures, adverse events.

Data-like constants only; the models in ``patient.py`` and the rule validators read them.
"""

import re
from collections.abc import Iterable

ANTIBODIES = frozenset(
    {
        "anti-MDA5",
        "anti-NXP2",
        "anti-TIF1g",
        "anti-Mi-2",
        "anti-SAE",
        "anti-SRP",
        "anti-HMGCR",
        "negative",
    }
)

# Keys are names after antibody_key() has removed case, separators and the "anti" prefix.
_ANTIBODY_ALIASES = {
    "mda5": "anti-MDA5",
    "cadm140": "anti-MDA5",
    "nxp2": "anti-NXP2",
    "mj": "anti-NXP2",
    "tif1g": "anti-TIF1g",
    "tif1\N{GREEK SMALL LETTER GAMMA}": "anti-TIF1g",
    "tif1gamma": "anti-TIF1g",
    "p155/140": "anti-TIF1g",
    "p155": "anti-TIF1g",
    "mi2": "anti-Mi-2",
    "sae": "anti-SAE",
    "sae1": "anti-SAE",
    "srp": "anti-SRP",
    "hmgcr": "anti-HMGCR",
    "negative": "negative",
    "msanegative": "negative",
    "none": "negative",
}

# Which drugs form a class (JAK inhibitors, steroids, ...) is rule data:
# rules/classes/treatments.yaml.
DRUGS = frozenset({
    "ruxolitinib",
    "baricitinib",
    "tofacitinib",
    "upadacitinib",
    "plasma_exchange",
    "immunoadsorption",
    "methotrexate",
    "mycophenolate",
    "ivig",
    "cyclophosphamide",
    "ciclosporin",
    "tacrolimus",
    "rituximab",
    "hydroxychloroquine",
    "prednisone",
    "methylprednisolone",
})

# What an order being signed can be, as the order-sign rules see it (``draft_orders``): a
# drug or procedure of the patient file, or a vaccine class. The CDS Hooks service maps the
# codes of draft orders onto these; an order it cannot map is reported, not guessed.
VACCINE_CLASSES = frozenset({"live_vaccine"})

ADVERSE_EVENTS = frozenset(
    {
        "herpes_zoster",
        "varicella",
        "skin_abscess",
        "other_infection",
        "cytopenia",
        "abdominal_pain",
        "gastrointestinal_bleeding",
        "skin_ulceration",
        "oral_ulcers",
        "dyspnoea",
        "calcinosis",
        "lipodystrophy",
    }
)


# What a patient's disease course was when the JAK inhibitor was considered, and why it
# was given (the study's "indications"); investigations recorded as findings.
DISEASE_COURSES = frozenset({"new_onset", "refractory"})
INDICATIONS = frozenset({"muscle", "skin_ulceration", "lung", "other"})
FINDING_KINDS = frozenset({"muscle_biopsy", "skin_biopsy", "muscle_mri", "capillaroscopy",
                           "lung_imaging", "lung_function", "other"})


def listing(names: Iterable[str]) -> str:
    return ", ".join(sorted(names))


def antibody_key(name: str) -> str:
    # Labs differ in case, hyphens, spaces and the "anti-" prefix, never in the target.
    return re.sub(r"[\s_-]", "", name.casefold()).removeprefix("anti")


def canonical_antibody(name: str) -> str:
    canonical = _ANTIBODY_ALIASES.get(antibody_key(name))
    if canonical is None:
        raise ValueError(f"unknown antibody {name!r} (allowed: {listing(ANTIBODIES)})")
    return canonical
