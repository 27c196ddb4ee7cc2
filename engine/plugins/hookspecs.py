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
    not disabled, within the same time budget as guidance: a call that raises or does not
    return in time stops start-up naming the plugin.

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
    separately, on a worker thread and within a time budget (default 2 s; ``jdm-cds
    --plugin-timeout``). Whatever the call raises (``SystemExit`` and ``GeneratorExit``
    included), a call over budget (its result is discarded) and every card that is not
    valid become an error entry naming the plugin (in the assessment's ``errors`` and, in
    text mode, on stderr) while the evaluation and the other plugins' guidance go on. A
    plugin whose call is still running over budget is not called again until it returns.

    Guidance is the standing advice a plugin gives for a kind of patient (for example an
    antibody's known risks). Anything that depends on clinical data (a threshold, an
    adverse event, time on treatment) belongs in the plugin's rule pack, where it is
    judged in the engine, cited and explained.

    :param patient: the validated patient (``jdm_cds.Patient``: ``patient.id``,
        ``patient.antibodies``, ``patient.visits``, ...). A frozen model: read-only.
    :param assessment: the judgements, alerts and recommendations of this evaluation so
        far (``jdm_cds.Assessment``), as a read-only view: its models are frozen and its
        dicts and lists refuse changes, so changing it raises (the plugin then fails for
        this patient). Every plugin sees the same view. ``assessment.model_dump()`` gives
        plain data of your own to change.

    :return: a list of cards, each an ``jdm_cds.model.assessment.GuidanceCard`` or a mapping
        with ``id`` (prefixed with the plugin's name; at most 200 characters),
        ``indicator`` (``info``, ``warning`` or ``critical``), ``summary`` (1 to 140
        characters), ``detail`` (at most 10,000 characters) and ``source`` (``{label,
        url}``: where the advice comes from; label at most 1,000 characters, url 2,000),
        or ``sources`` (a list of them, the first being ``source``; at most 20). Every card
        is validated again on return (a card built with ``model_construct`` too); at most
        100 cards are kept. The engine sets each card's ``plugin``. ``None`` or an empty
        list means no guidance for this patient.
    """
