"""Example jdm-cds plugin: serum interferon-alpha is not a response marker on JAK inhibitors.

The conditional part (an IFN-alpha value at the evaluation visit of a patient on a JAK
inhibitor) is a rule in ``rules.yaml``, judged in the engine; the hook below only gives the
standing advice that goes with it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jdm_cds import hookimpl

PACK = Path(__file__).resolve().parent / "rules.yaml"


@hookimpl
def jdm_cds_rule_packs() -> list[Path]:
    return [PACK]


@hookimpl
def jdm_cds_guidance() -> list[dict[str, Any]]:
    # A hook may take none, some or all of its arguments (patient, assessment): this
    # card is standing advice, the same for every patient.
    return [{
        "id": "example_ifn.not_a_response_marker",
        "indicator": "info",
        "summary": "Serum interferon-alpha falls on JAK inhibitors in responders and "
                   "non-responders alike",
        "detail": "In the study, serum interferon-alpha was high in every patient at the start "
                  "and normalised whether or not the disease became inactive. Judge the "
                  "response by the clinical criteria, not by interferon-alpha.",
        "source": {
            "label": "Le Voyer T, et al. JAK inhibitors are effective in a subset of patients "
                     "with juvenile dermatomyositis. Rheumatology 2021;60:5801-8.",
            "url": "https://doi.org/10.1093/rheumatology/keab116",
        },
    }]
