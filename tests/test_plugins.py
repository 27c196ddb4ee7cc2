"""Plugins: the built-in antibody plugins, disabling, and what a broken plugin does.

The built-in plugins are found through the project's own entry points, as an installed
third-party plugin would be. The deliberately broken plugins of ``failing_plugins`` are
registered on a plugin manager next to them.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from failing_plugins import (
    BadCards,
    BrokenPacks,
    Misspelt,
    Mutating,
    NotAList,
    PacksNotPaths,
    PacksRaise,
    Raising,
)
from typer.testing import CliRunner, Result

import jdm_cds.defaults
from jdm_cds import hookimpl
from jdm_cds.cli import app
from jdm_cds.defaults import default_evaluator, evaluator_for
from jdm_cds.evaluate import Evaluator
from jdm_cds.language.diagnostics import RuleLoadError
from jdm_cds.language.rulebase import read_packs
from jdm_cds.model.assessment import Assessment, GuidanceCard
from jdm_cds.model.patient import Patient
from jdm_cds.plugins.hookspecs import PROJECT
from jdm_cds.plugins.manager import PluginLoadError, Plugins, plugin_manager

ROOT = Path(__file__).resolve().parent.parent
BUILT_IN = ("anti_mda5", "anti_nxp2", "anti_tif1g", "anti_mi2", "anti_sae", "anti_srp_hmgcr")
JAK_START = "2023-01-01"


def with_plugins(**extra: object) -> Plugins:
    """The installed plugins plus ``extra`` (name -> plugin object) registered directly."""
    pm = plugin_manager()
    pm.load_setuptools_entrypoints(PROJECT)
    for name, plugin in extra.items():
        pm.register(plugin, name=name)
    return Plugins.of(pm)


def patient(*antibodies: str, visits: list[dict[str, Any]] | None = None,
            jak: bool = True) -> Patient:
    treatments = [{"drug": "ruxolitinib", "start": JAK_START}] if jak else []
    return Patient.model_validate({
        "id": "P-" + "-".join(antibodies or ("none",)), "antibodies": list(antibodies),
        "treatments": treatments,
        "visits": visits or [{"date": "2022-12-20", "ck_u_l": 900, "cmas": 30},
                             {"date": "2023-03-01", "ck_u_l": 400, "cmas": 40}],
    })


def assess(p: Patient, at: str | None = None) -> Assessment:
    return default_evaluator().evaluate(p, None if at is None else date.fromisoformat(at))


def built_in_cards(assessment: Assessment) -> dict[str, GuidanceCard]:
    return {card.id: card for card in assessment.guidance if card.plugin in BUILT_IN}


def alerts(assessment: Assessment) -> dict[str, str]:
    """Alert rule -> indicator, for the built-in plugins' rules."""
    return {a.rule: a.indicator for a in assessment.alerts if a.plugin in BUILT_IN}


def recommendations(assessment: Assessment) -> set[str]:
    return {r.rule for r in assessment.recommendations if r.plugin in BUILT_IN}


def run(*args: str | Path) -> Result:
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output + result.stderr
    return result


# --- discovery ---------------------------------------------------------------------------


def test_built_in_plugins_are_found_through_entry_points() -> None:
    plugins = Plugins.load()
    assert set(BUILT_IN) <= set(plugins.names)
    info = {i.name: i for i in plugins.info()}
    for name in BUILT_IN:
        assert info[name].package == "jdm-cds"
        assert info[name].hooks == ("jdm_cds_guidance", "jdm_cds_rule_packs")
        [pack] = info[name].packs
        assert pack == ROOT / "plugins" / name / "rules.yaml"


def test_plugin_rules_are_compiled_with_the_core_and_carry_the_plugin_name() -> None:
    rules = default_evaluator().rulebase.rules
    owners = {rule_id: compiled.pack.plugin for rule_id, compiled in rules.items()}
    assert owners["cid.printo"] is None
    for name in BUILT_IN:
        mine = [rule for rule, plugin in owners.items() if plugin == name]
        assert mine, name
        assert all(rule.startswith(f"{name}.") for rule in mine)


def test_plugins_list_shows_each_plugin_with_package_version_packs_and_hooks() -> None:
    result = run("plugins", "list")

    assert result.exit_code == 0, result.output
    for name in BUILT_IN:
        [row] = [line for line in result.stdout.splitlines() if f" {name} " in line]
        assert "jdm-cds" in row
        assert "0.1.0" in row
        assert "jdm_cds_" in row
    assert "anti_srp_hmgcr/rules.yaml" in result.stdout


# --- antibody guidance ---------------------------------------------------------------------

EXPECTED_CARDS = {
    "anti-MDA5": {"anti_mda5.ild_screening", "anti_mda5.ulcer_phenotype", "anti_mda5.jak_response"},
    "anti-NXP2": {"anti_nxp2.gi_vasculopathy", "anti_nxp2.calcinosis_surveillance",
                  "anti_nxp2.jak_response"},
    "anti-TIF1g": {"anti_tif1g.low_expected_response", "anti_tif1g.chronic_skin_course",
                   "anti_tif1g.cancer_association"},
    "anti-Mi-2": {"anti_mi2.classic_disease"},
    "anti-SAE": {"anti_sae.muscle_later"},
    "anti-SRP": {"anti_srp_hmgcr.necrotising_myopathy"},
    "anti-HMGCR": {"anti_srp_hmgcr.necrotising_myopathy"},
}


@pytest.mark.parametrize("antibody", sorted(EXPECTED_CARDS))
def test_each_antibody_gets_its_plugins_guidance_with_sources(antibody: str) -> None:
    cards = built_in_cards(assess(patient(antibody)))

    assert set(cards) == EXPECTED_CARDS[antibody]
    for card in cards.values():
        assert card.id.startswith(f"{card.plugin}.")
        assert len(card.summary) < 140
        assert card.source.label and card.source.url and card.source.url.startswith("https://")
        assert card.detail


@pytest.mark.parametrize(("card", "says"), [
    ("anti_mda5.jak_response", "2 of 2"),
    ("anti_nxp2.jak_response", "3 of 4"),
    ("anti_tif1g.low_expected_response", "0 of 3"),
    ("anti_tif1g.cancer_association", "not established in children"),
    ("anti_mda5.ild_screening", "interstitial lung disease"),
    ("anti_nxp2.calcinosis_surveillance", "calcinosis"),
    ("anti_srp_hmgcr.necrotising_myopathy", "very high CK"),
])
def test_guidance_says_what_the_sources_say(card: str, says: str) -> None:
    antibody = next(a for a, ids in EXPECTED_CARDS.items() if card in ids)
    found = built_in_cards(assess(patient(antibody)))[card]

    assert says in f"{found.summary} {found.detail}"


def test_several_antibodies_get_each_plugins_guidance() -> None:
    cards = built_in_cards(assess(patient("anti-MDA5", "anti-NXP2", "anti-SRP")))

    assert set(cards) == (EXPECTED_CARDS["anti-MDA5"] | EXPECTED_CARDS["anti-NXP2"]
                          | EXPECTED_CARDS["anti-SRP"])


def test_an_alias_in_the_patient_file_reaches_the_plugin() -> None:
    assessment = default_evaluator().evaluate(
        jdm_cds.load_patient(ROOT / "tests" / "data" / "patients" / "mda5_ruxolitinib.yaml"))

    assert set(built_in_cards(assessment)) == EXPECTED_CARDS["anti-MDA5"]


@pytest.mark.parametrize("antibodies", [("negative",), ()], ids=["negative", "not-tested"])
def test_no_antibody_no_antibody_guidance_or_alerts(antibodies: tuple[str, ...]) -> None:
    visits = [{"date": "2023-04-10", "ck_u_l": 5000,
               "adverse_events": ["abdominal_pain", "dyspnoea", "oral_ulcers"]}]
    assessment = assess(patient(*antibodies, visits=visits))

    assert built_in_cards(assessment) == {}
    assert alerts(assessment) == {}
    assert recommendations(assessment) == set()


def test_guidance_is_ordered_most_severe_first() -> None:
    cards = assess(patient("anti-MDA5", "anti-TIF1g")).guidance
    order = {"critical": 0, "warning": 1, "info": 2}

    assert [order[c.indicator] for c in cards] == sorted(order[c.indicator] for c in cards)


# --- antibody rules (judged in the engine) --------------------------------------------------


def at_evaluation(*events: str, **values: float) -> list[dict[str, Any]]:
    return [{"date": "2022-12-20", "ck_u_l": 900},
            {"date": "2023-02-01", "adverse_events": ["abdominal_pain", "dyspnoea"]},
            {"date": "2023-03-01", "adverse_events": list(events), **values}]


@pytest.mark.parametrize("event", ["abdominal_pain", "gastrointestinal_bleeding"])
def test_nxp2_gi_warning_sign_at_the_evaluation_visit_is_critical(event: str) -> None:
    found = alerts(assess(patient("anti-NXP2", visits=at_evaluation(event))))

    assert found["anti_nxp2.gi_warning_signs"] == "critical"


def test_nxp2_gi_alert_not_for_an_earlier_visit_or_another_antibody() -> None:
    earlier_only = alerts(assess(patient("anti-NXP2", visits=at_evaluation())))
    other_antibody = alerts(assess(patient("anti-MDA5", visits=at_evaluation("abdominal_pain"))))

    assert "anti_nxp2.gi_warning_signs" not in earlier_only
    assert "anti_nxp2.gi_warning_signs" not in other_antibody


def test_nxp2_calcinosis_is_noted() -> None:
    found = alerts(assess(patient("anti-NXP2", visits=at_evaluation("calcinosis"))))

    assert found == {"anti_nxp2.calcinosis": "info"}


def test_mda5_dyspnoea_is_critical_and_ulcers_a_warning() -> None:
    dyspnoea = alerts(assess(patient("anti-MDA5", visits=at_evaluation("dyspnoea"))))
    ulcers = alerts(assess(patient("anti-MDA5", visits=at_evaluation("oral_ulcers"))))

    assert dyspnoea == {"anti_mda5.dyspnoea": "critical"}
    assert ulcers == {"anti_mda5.ulcers": "warning"}


@pytest.mark.parametrize("antibody", ["anti-SRP", "anti-HMGCR"])
def test_necrotising_myopathy_with_very_high_ck(antibody: str) -> None:
    high = assess(patient(antibody, visits=at_evaluation(ck_u_l=4200)))
    boundary = assess(patient(antibody, visits=at_evaluation(ck_u_l=1500)))

    [alert] = [a for a in high.alerts if a.rule == "anti_srp_hmgcr.very_high_ck"]
    assert alert.indicator == "warning"
    assert "CK 4200 U/L" in alert.summary
    assert "anti_srp_hmgcr.very_high_ck" not in alerts(boundary)


@pytest.mark.parametrize(("antibody", "rule"), [
    ("anti-Mi-2", "anti_mi2.outside_study"),
    ("anti-SAE", "anti_sae.outside_study"),
    ("anti-SRP", "anti_srp_hmgcr.outside_study"),
])
def test_antibodies_the_study_did_not_cover_are_flagged_on_a_jak_inhibitor(
        antibody: str, rule: str) -> None:
    assert alerts(assess(patient(antibody)))[rule] == "info"
    assert rule not in alerts(assess(patient(antibody, jak=False)))


NOT_CID: dict[str, float] = {
    "ck_u_l": 900, "cmas": 30, "mmt8": 60, "physician_global_vas": 5, "das_skin": 4}
CID: dict[str, float] = {
    "ck_u_l": 100, "cmas": 50, "mmt8": 79, "physician_global_vas": 0.1, "das_skin": 0}


def tif1g(*visits: tuple[str, dict[str, float]], jak: bool = True) -> Patient:
    return patient("anti-TIF1g", jak=jak, visits=[
        {"date": "2022-12-20", **NOT_CID}, *({"date": day, **v} for day, v in visits)])


@pytest.mark.parametrize(("case", "at", "expected"), [
    ("no CID, day 99", "2023-04-10", {"anti_tif1g.no_cid_by_3_months"}),
    ("no CID yet, day 59", "2023-03-01", set()),
    ("no CID, day 200", "2023-07-20", {"anti_tif1g.no_cid_by_6_months"}),
])
def test_tif1g_without_cid_is_reassessed_at_3_and_6_months(
        case: str, at: str, expected: set[str]) -> None:
    p = tif1g(("2023-02-15", NOT_CID), ("2023-03-01", NOT_CID), ("2023-04-10", NOT_CID),
              ("2023-07-20", NOT_CID))

    assert recommendations(assess(p, at)) == expected


def test_tif1g_with_cid_in_the_first_3_months_is_not_flagged() -> None:
    p = tif1g(("2023-02-15", NOT_CID), ("2023-03-22", CID), ("2023-04-10", NOT_CID))

    assert recommendations(assess(p)) == set()


def test_tif1g_recommendation_shows_its_working_and_assumptions() -> None:
    p = tif1g(("2023-02-15", NOT_CID), ("2023-03-01", NOT_CID), ("2023-04-10", NOT_CID))
    [rec] = [r for r in assess(p).recommendations if r.rule == "anti_tif1g.no_cid_by_3_months"]

    assert "visits with CID: 0 of 2" in rec.detail
    assert {a.key for a in rec.assumptions} == {"months_as_days", "cid_as_in_study"}
    assert rec.plugin == "anti_tif1g"


@pytest.mark.parametrize(("case", "visits", "at"), [
    ("no visit in the first 90 days", [("2023-04-25", NOT_CID)], "2023-04-25"),
    ("a visit whose CID cannot be judged", [("2023-03-01", {"ck_u_l": 900})], "2023-04-25"),
])
def test_tif1g_missing_data_never_counts_as_no_cid(
        case: str, visits: list[tuple[str, dict[str, float]]], at: str) -> None:
    assert recommendations(assess(tif1g(*visits), at)) == set()


def test_tif1g_six_months_is_the_core_window_of_183_days() -> None:
    # CID on day 182 (JAK start 2023-01-01): within the study's window, so no flag.
    p = tif1g(("2023-02-15", NOT_CID), ("2023-04-10", NOT_CID), ("2023-07-02", CID),
              ("2023-07-20", NOT_CID))

    assessment = assess(p)
    assert assessment.judgements["cid.within_6_months"].status == "met"
    assert recommendations(assessment) == set()


def test_tif1g_not_on_a_jak_inhibitor_gets_no_recommendation() -> None:
    p = tif1g(("2023-04-10", NOT_CID), jak=False)

    assert recommendations(assess(p)) == set()


# --- disabling ---------------------------------------------------------------------------


def test_a_disabled_plugin_contributes_neither_rules_nor_guidance() -> None:
    evaluator = default_evaluator(["anti_mda5"])
    assessment = evaluator.evaluate(patient("anti-MDA5", "anti-NXP2",
                                            visits=at_evaluation("dyspnoea")))

    assert not any(c.plugin == "anti_mda5" for c in evaluator.rulebase.packs)
    assert {c.plugin for c in assessment.guidance} >= {"anti_nxp2"}
    assert "anti_mda5" not in {c.plugin for c in assessment.guidance}
    assert "anti_mda5.dyspnoea" not in alerts(assessment)


def test_disable_plugin_on_the_command_line(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text(patient("anti-MDA5", "anti-NXP2").model_dump_json(), encoding="utf-8")

    result = run("evaluate", "--format", "json", "--disable-plugin", "anti_mda5",
                 "--disable-plugin", "anti_tif1g", path)

    assert result.exit_code == 0, result.output
    plugins = {card["plugin"] for card in json.loads(result.stdout)[0]["guidance"]}
    assert "anti_nxp2" in plugins
    assert "anti_mda5" not in plugins


def test_disabling_an_unknown_plugin_is_a_usage_error(tmp_path: Path) -> None:
    result = run("evaluate", "--disable-plugin", "anti_mda6",
                 ROOT / "examples" / "patient-mda5.yaml")

    assert result.exit_code == 2
    assert "cannot disable anti_mda6" in result.stderr
    assert "anti_mda5" in result.stderr  # the installed plugins are listed


def test_rules_check_checks_core_and_plugin_packs_and_honours_disable() -> None:
    every = len(Plugins.load().sources())

    result = run("rules", "check")
    fewer = run("rules", "check", "--disable-plugin", "anti_nxp2")

    assert result.exit_code == 0, result.output
    assert f"{every} file(s), {every} pack(s)" in result.stdout
    assert ": 0 error(s), 0 warning(s)" in result.stdout
    assert f"{every - 1} file(s)" in fewer.stdout


# --- broken plugins ------------------------------------------------------------------------


def test_a_broken_plugin_pack_stops_start_up_naming_plugin_and_file_line() -> None:
    with pytest.raises(RuleLoadError) as raised:
        evaluator_for(with_plugins(broken=BrokenPacks()))

    found = {(Path(d.mark.file).name, d.mark.line, d.code) for d in raised.value.diagnostics}
    assert found == {
        ("no_version.yaml", 3, "missing-field"),
        ("broken_rules.yaml", 11, "missing-citation"),
        ("broken_rules.yaml", 17, "unknown-field"),
        ("broken_rules.yaml", 20, "duplicate-id"),
        ("broken_rules.yaml", 28, "unknown-item"),
    }
    assert all(d.message.endswith("(plugin 'broken')") for d in raised.value.diagnostics)
    assert "'version'" in next(d.message for d in raised.value.diagnostics
                               if d.code == "missing-field")


def test_plugin_rule_ids_should_carry_the_plugin_prefix() -> None:
    _, diagnostics = read_packs(with_plugins(broken=BrokenPacks()).sources())

    [warning] = [d for d in diagnostics if d.code == "plugin-prefix"]
    assert (Path(warning.mark.file).name, warning.mark.line) == ("broken_rules.yaml", 20)
    assert "'broken.'" in warning.message


def test_the_cli_exits_2_and_prints_the_broken_plugins_diagnostics(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jdm_cds.defaults, "default_evaluator",
                        lambda *_, **__: evaluator_for(with_plugins(broken=BrokenPacks())))

    result = run("evaluate", ROOT / "examples" / "patient-mda5.yaml")

    assert result.exit_code == 2
    assert "broken_rules.yaml:20: error:" in result.stderr
    assert "(plugin 'broken')" in result.stderr
    assert "nothing was evaluated" in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(("plugin", "says"), [
    (Misspelt(), "unknown hook 'jdm_cds_guidence'"),
    (PacksRaise(), "failed in jdm_cds_rule_packs: OSError: pack folder missing"),
    (PacksNotPaths(), "must return a list of paths"),
])
def test_a_plugin_that_cannot_start_is_named(plugin: object, says: str) -> None:
    with pytest.raises(PluginLoadError) as raised:
        with_plugins(odd=plugin)

    assert raised.value.plugin == "odd"
    assert says in str(raised.value)


def test_two_packages_installing_one_plugin_name_stop_start_up(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A second package claims the name of a built-in plugin: which one would run?
    info = tmp_path / "impostor-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: impostor\nVersion: 1.0\n",
                                   encoding="utf-8")
    (info / "entry_points.txt").write_text("[jdm_cds]\nanti_mda5 = impostor:plugin\n",
                                           encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))

    with pytest.raises(PluginLoadError) as raised:
        Plugins.load()

    assert raised.value.plugin == "anti_mda5"
    assert "several packages (impostor, jdm-cds)" in str(raised.value)


@pytest.fixture(scope="module")
def with_raising() -> Evaluator:
    return evaluator_for(with_plugins(raising=Raising(), bad_cards=BadCards(),
                                      not_a_list=NotAList(), mutating=Mutating()))


def test_a_raising_plugin_is_an_error_entry_and_the_evaluation_completes(
        with_raising: Evaluator) -> None:
    assessment = with_raising.evaluate(patient("anti-MDA5", visits=at_evaluation("dyspnoea")))

    [error] = [e for e in assessment.errors if e.plugin == "raising"]
    assert error.hook == "jdm_cds_guidance"
    assert error.error.startswith("RuntimeError: guidance service unavailable for P-anti-MDA5")
    assert "failing_plugins.py:" in error.error
    assert set(built_in_cards(assessment)) == EXPECTED_CARDS["anti-MDA5"]
    assert "anti_mda5.dyspnoea" in alerts(assessment)
    assert assessment.judgements


def test_invalid_cards_are_errors_naming_the_plugin_and_valid_ones_are_kept(
        with_raising: Evaluator) -> None:
    assessment = with_raising.evaluate(patient("negative"))

    assert [c.id for c in assessment.guidance if c.plugin == "bad_cards"] == ["bad_cards.fine"]
    problems = [e.error for e in assessment.errors if e.plugin == "bad_cards"]
    assert len(problems) == 3
    assert any("'bad_cards.long'" in p and "summary" in p and "140" in p for p in problems)
    assert any("'bad_cards.loud'" in p and "indicator" in p for p in problems)
    assert any("str, not a guidance card" in p for p in problems)
    [not_a_list] = [e.error for e in assessment.errors if e.plugin == "not_a_list"]
    assert "not a list of guidance cards" in not_a_list


def test_a_plugin_cannot_change_the_assessment_it_is_shown(with_raising: Evaluator) -> None:
    assessment = with_raising.evaluate(patient("anti-MDA5", visits=at_evaluation("dyspnoea")))

    assert "cid.printo" in assessment.judgements
    assert "anti_mda5.dyspnoea" in alerts(assessment)


class _Wrapping:
    """A guidance hook written as a wrapper: pluggy, not a plain call, must run it."""

    @hookimpl(wrapper=True)
    def jdm_cds_guidance(self, patient: Patient) -> Any:
        found = yield
        return [*found, [{"id": "wrapping.card", "indicator": "info",
                          "summary": f"Seen {patient.id}", "detail": "From a wrapper.",
                          "source": {"label": "Test source"}}]]


def test_a_wrapper_guidance_hook_is_run_by_pluggy_and_the_others_still_run() -> None:
    evaluator = evaluator_for(with_plugins(wrapping=_Wrapping(), raising=Raising()))

    assessment = evaluator.evaluate(patient("anti-MDA5", visits=at_evaluation("dyspnoea")))

    [card] = [c for c in assessment.guidance if c.plugin == "wrapping"]
    assert card.summary == "Seen P-anti-MDA5"
    assert set(built_in_cards(assessment)) == EXPECTED_CARDS["anti-MDA5"]
    assert [e.plugin for e in assessment.errors] == ["raising"]


def _card(card_id: str) -> dict[str, Any]:
    return {"id": card_id, "indicator": "info", "summary": card_id, "detail": "A test card.",
            "source": {"label": "Test source"}}


class _TwoHooks:
    """Two guidance implementations in one plugin, as pluggy's ``specname`` allows."""

    @hookimpl(specname="jdm_cds_guidance")
    def first(self) -> list[dict[str, Any]]:
        return [_card("two_hooks.first")]

    @hookimpl(specname="jdm_cds_guidance")
    def second(self) -> list[dict[str, Any]]:
        return [_card("two_hooks.second")]


class _OptionalAssessment:
    """Takes the assessment as an argument with a default: pluggy passes it all the same."""

    @hookimpl
    def jdm_cds_guidance(self, assessment: Assessment | None = None) -> list[Any]:
        if assessment is None:
            return [_card("optional.not_given")]
        assert "cid.printo" in assessment.judgements
        return [_card("optional.given")]


def test_guidance_hooks_are_called_as_pluggy_calls_them() -> None:
    evaluator = evaluator_for(with_plugins(two_hooks=_TwoHooks(),
                                           optional=_OptionalAssessment()))

    assessment = evaluator.evaluate(patient("negative"))

    assert sorted(c.id for c in assessment.guidance if c.plugin == "two_hooks") == [
        "two_hooks.first", "two_hooks.second"]
    assert [c.id for c in assessment.guidance if c.plugin == "optional"] == ["optional.given"]
    assert "cid.printo" in assessment.judgements
    assert assessment.errors == []


def _built_in(plugin: object) -> object:
    """``plugin`` as if shipped with jdm-cds (its class in the built-in plugins' package),
    so that its guidance is called in the evaluating thread without pluggy's call."""
    cls = type(plugin)
    return type(cls.__name__, (cls,), {"__module__": "jdm_cds_plugins.doubles"})()


def test_built_in_guidance_hooks_are_called_as_pluggy_calls_them() -> None:
    plugins = with_plugins(two_hooks=_built_in(_TwoHooks()),
                           optional=_built_in(_OptionalAssessment()),
                           wrapping=_built_in(_Wrapping()), raising=_built_in(Raising()))
    assert {"two_hooks", "optional", "wrapping", "raising"} <= plugins._built_in
    evaluator = evaluator_for(plugins)

    assessment = evaluator.evaluate(patient("anti-MDA5", visits=at_evaluation("dyspnoea")))

    assert sorted(c.id for c in assessment.guidance if c.plugin == "two_hooks") == [
        "two_hooks.first", "two_hooks.second"]
    assert [c.id for c in assessment.guidance if c.plugin == "optional"] == ["optional.given"]
    [card] = [c for c in assessment.guidance if c.plugin == "wrapping"]
    assert card.summary == "Seen P-anti-MDA5"
    [error] = assessment.errors
    assert error.plugin == "raising"
    assert error.error.startswith("RuntimeError: guidance service unavailable for P-anti-MDA5")
    assert "failing_plugins.py:" in error.error
    assert set(built_in_cards(assessment)) == EXPECTED_CARDS["anti-MDA5"]


def test_built_in_guidance_is_what_pluggy_gives() -> None:
    """The built-in plugins' hooks called directly give what pluggy's calls of them give:
    the same cards, in the same order."""
    direct = with_plugins(two_hooks=_built_in(_TwoHooks()))
    assert all(direct._direct.values())
    through_pluggy = with_plugins(two_hooks=_built_in(_TwoHooks()))
    through_pluggy._direct = dict.fromkeys(through_pluggy._direct)  # None: pluggy calls
    cases = [patient(*antibodies, visits=at_evaluation(*events)) for antibodies in
             [("anti-MDA5",), ("anti-NXP2", "anti-TIF1g"), ("anti-SRP", "anti-Mi-2", "anti-SAE"),
              ("negative",), ()] for events in [(), ("dyspnoea", "abdominal_pain")]]
    seen: set[str | None] = set()
    for case in cases:
        assessment = assess(case)
        cards, errors = direct.guidance(case, assessment)
        assert (cards, errors) == through_pluggy.guidance(case, assessment)
        assert errors == [] and {"two_hooks.first", "two_hooks.second"} <= {c.id for c in cards}
        seen |= {c.plugin for c in cards}
    assert seen >= set(BUILT_IN) | {"two_hooks"}


@pytest.mark.parametrize("output", ["json", "text"])
def test_cli_reports_the_failing_plugin_and_exits_0(
        with_raising: Evaluator, monkeypatch: pytest.MonkeyPatch, output: str) -> None:
    monkeypatch.setattr(jdm_cds.defaults, "default_evaluator", lambda *_, **__: with_raising)

    result = run("evaluate", "--format", output, ROOT / "examples" / "patient-mda5.yaml")

    assert result.exit_code == 0, result.output
    if output == "json":
        [error] = [e for e in json.loads(result.stdout)[0]["errors"] if e["plugin"] == "raising"]
        assert error["hook"] == "jdm_cds_guidance"
        assert error["error"].startswith("RuntimeError: guidance service unavailable")
    else:
        assert "plugin 'raising' failed in jdm_cds_guidance: RuntimeError" in result.stderr
        assert "PLUGIN ERROR    plugin raising failed in jdm_cds_guidance" in result.stdout


# --- validators that guard packs from different authors ------------------------------------

PACK = """\
pack:
  id: {pack}
  version: 1.0.0
  title: Test pack
  references:
    src: {{citation: A source.}}
derived:
  {name}: {{kind: visit_event, visit: evaluation, event: {event}, title: An event}}
rules:
  - id: {pack}.rule
    title: A rule
    kind: alert
    when: {{field: {name}, eq: true}}
    references: [src]
    alert: {{summary: Seen}}
"""


def derived_problems(tmp_path: Path, *packs: tuple[str, str, str]) -> set[tuple[str, str]]:
    sources = []
    for pack, name, event in packs:
        path = tmp_path / f"{pack}.yaml"
        path.write_text(PACK.format(pack=pack, name=name, event=event), encoding="utf-8")
        sources.append((path, pack))
    return {(Path(d.mark.file).stem, d.code) for d in read_packs(sources)[1]}


def test_a_derived_name_declared_differently_by_two_packs_is_an_error(tmp_path: Path) -> None:
    found = derived_problems(tmp_path, ("one", "pain_now", "abdominal_pain"),
                             ("two", "pain_now", "dyspnoea"))

    assert found == {("two", "duplicate-derived")}


def test_the_same_derived_value_declared_twice_is_allowed(tmp_path: Path) -> None:
    found = derived_problems(tmp_path, ("one", "pain_now", "abdominal_pain"),
                             ("two", "pain_now", "abdominal_pain"))

    assert found == set()


def test_a_derived_value_may_not_take_a_patient_field_name(tmp_path: Path) -> None:
    assert derived_problems(tmp_path, ("one", "sex", "abdominal_pain")) == {
        ("one", "duplicate-derived")}


def test_visit_event_takes_only_known_adverse_events(tmp_path: Path) -> None:
    assert derived_problems(tmp_path, ("one", "pain_now", "tummy_ache")) == {
        ("one", "bad-derived")}


@pytest.mark.parametrize("text", [
    *(path.read_text(encoding="utf-8")
      for path in sorted((ROOT / "plugins").glob("*/rules.yaml"))),
    "pack: {id: p, refs: &r {a: 1}, again: *r}\nrules: [{id: x, when: *r}]\n",
    "rules: []\npack: {id: late}\n", "", "- pack", "rules: []\n", "pack: [1, 2]\n",
])
def test_a_plugins_pack_header_is_what_reading_the_whole_pack_gives(text: str) -> None:
    """The guidance reads only a pack's header: the same value, or the same error, as
    reading the whole pack and taking its ``pack``."""
    from jdm_cds_plugins.antibodies import _pack_header, _safe_load

    def outcome(read: Any) -> Any:
        try:
            return read()
        except Exception as error:
            return type(error), str(error)

    assert outcome(lambda: _pack_header(text)) == outcome(lambda: _safe_load(text)["pack"])
