"""One plugin per myositis-specific antibody, each a folder of YAML beside this module.

``<plugin>/rules.yaml`` is a rule pack: what depends on the patient's data (adverse events
at the evaluation visit, CK, time on a JAK inhibitor) is judged there, in the engine, with
citations. ``<plugin>/guidance.yaml`` holds the antibody's standing guidance cards, given
to every patient with one of the antibodies it names; each card cites a reference of the
plugin's rule pack (``sources``, a list of reference keys; ``assumptions``, keys of the
pack's assumptions), so that one list of sources serves both, and carries the pack's
version.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from jdm_cds import hookimpl
from jdm_cds.model.assessment import Assumption, GuidanceCard, Source
from jdm_cds.model.patient import Patient
from jdm_cds.model.vocabulary import ANTIBODIES

HERE = Path(__file__).resolve().parent


class AntibodyPlugin:
    """The rule pack and guidance cards in ``<name>/`` for patients with its antibodies.

    The YAML is read and checked when the plugin is created (at start-up), so that a
    mistake in it stops the engine with the plugin named rather than at a patient.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.pack = HERE / name / "rules.yaml"
        self.antibodies, self.cards = _read_guidance(name, HERE / name / "guidance.yaml",
                                                     self.pack)

    def __repr__(self) -> str:
        return f"AntibodyPlugin({self.name!r})"

    @hookimpl
    def jdm_cds_rule_packs(self) -> list[Path]:
        return [self.pack]

    @hookimpl
    def jdm_cds_guidance(self, patient: Patient) -> list[GuidanceCard]:
        return list(self.cards) if self.antibodies.intersection(patient.antibodies) else []


_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _safe_load(text: str) -> Any:
    """``yaml.safe_load`` with libyaml where it is installed (the same result, read at
    start-up in a tenth of the time)."""
    return yaml.load(text, Loader=_LOADER)


def _pack_header(text: str) -> dict[str, Any]:
    """``_safe_load(text)["pack"]``, without making Python values of the pack's rules: the
    guidance needs only the header, and the engine reads the rules (each plugin's pack was
    read whole at every start, about a third of its plugins' start-up)."""
    loader = _LOADER(text)
    try:
        root = loader.get_single_node()
        if isinstance(root, yaml.MappingNode):
            for key, value in root.value:
                if key.value == "pack":
                    header: dict[str, Any] = loader.construct_document(value)
                    return header
    finally:
        loader.dispose()
    found: dict[str, Any] = _safe_load(text)["pack"]  # no header: fails as read whole does
    return found


def _read_guidance(name: str, path: Path,
                   pack: Path) -> tuple[frozenset[str], tuple[GuidanceCard, ...]]:
    data: dict[str, Any] = _safe_load(path.read_text(encoding="utf-8"))
    header = _pack_header(pack.read_text(encoding="utf-8"))
    references: dict[str, dict[str, str]] = header["references"]
    assumptions: dict[str, str] = header.get("assumptions") or {}
    antibodies = frozenset(data["antibodies"])
    unknown = sorted(antibodies - (ANTIBODIES - {"negative"}))
    if unknown:
        raise ValueError(f"{path}: 'antibodies' names {', '.join(unknown)}, not an antibody "
                         f"(antibodies: {', '.join(sorted(ANTIBODIES - {'negative'}))})")
    cards = []
    for card in data["cards"]:
        keys = card.pop("sources")
        for key in keys:
            if key not in references:
                raise ValueError(f"{path}: card '{card['id']}' cites '{key}', which is not in "
                                 f"the references of {pack.name} ({', '.join(references)})")
        assumed = card.pop("assumptions", [])
        for key in assumed:
            if key not in assumptions:
                raise ValueError(f"{path}: card '{card['id']}' rests on assumption '{key}', "
                                 f"which is not in the assumptions of {pack.name} "
                                 f"({', '.join(assumptions) or 'none'})")
        if not card["id"].startswith(f"{name}."):
            raise ValueError(f"{path}: card id '{card['id']}' must start with '{name}.'")
        sources = [Source(label=references[key]["citation"], url=references[key].get("url"))
                   for key in keys]
        cards.append(GuidanceCard(
            **card, sources=sources, plugin=name, version=str(header["version"]),
            assumptions=[Assumption(key=key, text=" ".join(str(assumptions[key]).split()))
                         for key in assumed]))
    return antibodies, tuple(cards)


anti_mda5 = AntibodyPlugin("anti_mda5")
anti_nxp2 = AntibodyPlugin("anti_nxp2")
anti_tif1g = AntibodyPlugin("anti_tif1g")
anti_mi2 = AntibodyPlugin("anti_mi2")
anti_sae = AntibodyPlugin("anti_sae")
anti_srp_hmgcr = AntibodyPlugin("anti_srp_hmgcr")
