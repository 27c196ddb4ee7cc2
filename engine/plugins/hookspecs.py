"""Hook specifications: what a jdm-cds plugin may provide.

A plugin is a module or object with functions marked ``@hookimpl`` (``from jdm_cds import
hookimpl``), registered under the ``jdm_cds`` entry-point group of its package::

    [project.entry-points.jdm_cds]
    my_plugin = "my_package.plugin"

The entry-point name is the plugin's name: it appears in every output the plugin
contributes to and is what ``--disable-plugin NAME`` blocks. A hook implementation may
accept a subset of the arguments named below, in any order (pluggy matches them by name).
See docs/plugins.md for a complete example.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from os import PathLike
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from jdm_cds.model.assessment import Assessment, GuidanceCard
    from jdm_cds.model.patient import Patient

PROJECT = "jdm_cds"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def jdm_cds_rule_packs() -> Sequence[str | PathLike[str]] | None:
    """Return the paths of the YAML rule packs this plugin contributes.

    Called once at start-up, before any patient is evaluated, on every plugin that is
    not disabled.

    The packs are validated together with the core packs (``rules/``) and the packs of
    every other plugin, then compiled into the same rule base: their rules run in the
    engine exactly like core rules and their judgements, alerts and recommendations carry
    the plugin's name. Rule ids must be unique across every pack; prefix them with the
    plugin's name (``my_plugin.some_rule``).

    If any pack fails validation, start-up stops with every problem listed by file:line
    and the plugin named: clinical rules are never dropped silently.

    :return: a list of paths (``str`` or ``pathlib.Path``); an empty list, or ``None``,
        contributes no pack.
    """


@hookspec
def jdm_cds_guidance(
    patient: Patient, assessment: Assessment
) -> Sequence[GuidanceCard | Mapping[str, Any]] | None:
    """Return guidance cards for one patient.

    Called once per evaluated patient, after every rule has been judged, on each plugin
    separately: a plugin that raises, or returns a card that is not valid, is reported as
    an error entry naming the plugin (in the assessment's ``errors`` and, in text mode,
    on stderr) while the evaluation and the other plugins' guidance go on.

    Guidance is the standing advice a plugin gives for a kind of patient (for example an
    antibody's known risks). Anything that depends on clinical data (a threshold, an
    adverse event, time on treatment) belongs in the plugin's rule pack, where it is
    judged in the engine, cited and explained.

    :param patient: the validated patient (``jdm_cds.Patient``: ``patient.id``,
        ``patient.antibodies``, ``patient.visits``, ...). Read-only.
    :param assessment: the judgements, alerts and recommendations of this evaluation so
        far (``jdm_cds.Assessment``). A copy: changing it changes nothing.

    :return: a list of cards, each an ``jdm_cds.model.assessment.GuidanceCard`` or a mapping
        with ``id`` (prefixed with the plugin's name), ``indicator`` (``info``,
        ``warning`` or ``critical``), ``summary`` (under 140 characters), ``detail``, and
        ``sources`` (a list of ``{label, url}``: where the advice comes from) or ``source``
        (one of them; it is always the first of ``sources``); optionally ``assumptions``
        (``{key, text}`` each) and ``version``. The engine sets each
        card's ``plugin``. ``None`` or an empty list means no guidance for this patient.
    """
