"""The text report: golden files at 80, 120 and 200 columns; no line wider than the console
and no word split across lines, at any width; clinical words instead of internal names."""

from __future__ import annotations

import datetime as dt
import io
import os
import sys
from pathlib import Path

import pytest
from campaign import campaign
from hypothesis import given
from hypothesis import strategies as st
from rich.cells import cell_len
from rich.console import Console

import jdm_cds
from jdm_cds.cli.common import PIPED_WIDTH, report_output
from jdm_cds.defaults import default_evaluator
from jdm_cds.model.assessment import Assessment
from jdm_cds.report.glossary import Glossary
from jdm_cds.report.text import PlainText, flush_lines, render_text

ROOT = Path(__file__).parent.parent
EXAMPLE = ROOT / "examples" / "patient-mda5.yaml"
GOLDEN = Path(__file__).parent / "data" / "golden"
# Set to rewrite the golden files after a deliberate change of the layout; review the diff.
UPDATE = os.environ.get("JDM_CDS_UPDATE_GOLDEN") == "1"
DATES = {"last": None, "open": dt.date(2020, 4, 30)}


def render(assessment: Assessment, width: int) -> str:
    out = io.StringIO()
    console = Console(file=out, width=width, color_system=None, force_terminal=False)
    render_text(assessment, console, Glossary.of(default_evaluator().rulebase))
    return out.getvalue()


def assess(at: dt.date | None) -> Assessment:
    return default_evaluator().evaluate(jdm_cds.load_patient(EXAMPLE), at)


@pytest.mark.parametrize("when", sorted(DATES))
@pytest.mark.parametrize("width", [80, 120, 200])
def test_golden(width: int, when: str) -> None:
    text = render(assess(DATES[when]), width)
    golden = GOLDEN / f"patient-mda5-{when}-{width}.txt"
    if UPDATE:
        golden.write_text(text)
    assert text == golden.read_text()


def _collapsed(text: str) -> str:
    return " ".join(text.split())


def _source_texts(assessment: Assessment) -> list[str]:
    """Text the report must show whole: prose from the rule packs and plugins."""
    texts: list[str] = []
    for j in assessment.judgements.values():
        texts += [a.text for a in j.assumptions] + [c.label for c in j.citations]
    for alert in assessment.alerts:
        texts += [alert.summary, alert.detail, alert.source.label]
    for rec in assessment.recommendations:
        texts += [rec.summary, rec.detail]
    for card in assessment.guidance:
        texts += [card.summary, card.detail]
    return texts


@pytest.mark.parametrize("width", [40, 59, 60, 72, 80, 100, 120, 160, 200])
@pytest.mark.parametrize("when", sorted(DATES))
def test_no_line_wider_than_the_console_and_no_word_split(width: int, when: str) -> None:
    assessment = assess(DATES[when])
    text = render(assessment, width)

    assert max(cell_len(line) for line in text.splitlines()) <= width
    # A word split across two lines would break the text apart when lines are joined.
    whole = _collapsed(text)
    for source in _source_texts(assessment):
        assert _collapsed(source) in whole, source


def test_clinical_words_not_internal_names() -> None:
    text = render(assess(DATES["open"]), 80)

    for internal in ("cmas_normal", "cid_now_on_jak", "window_cid_visits_final", "ck_u_l",
                     "steroid_dose_now", "days_to_cid"):
        assert internal not in text, internal
    assert "CK <= 150 U/L (160\u00a0U/L)" in text  # the deciding value with its unit
    assert "NOT MET         CID, PRINTO (3 of 4 criteria)" in text
    assert ("Why open: The 6-month window is still open on the evaluation date (it closes on "
            "day 183).") in " ".join(text.split())


def test_groups_come_in_clinical_order() -> None:
    text = render(assess(None), 120)
    heads = [line.split("─", 2)[2].strip(" ─") for line in text.splitlines()
             if line.startswith("── ")]
    assert heads == ["Clinically inactive disease", "Treatment response",
                     "Withdrawal of treatments", "Safety", "Antibody-specific guidance",
                     "Notes"]


def test_each_status_word_stands_first_with_its_colour() -> None:
    out = io.StringIO()
    console = Console(file=out, width=100, color_system="standard", force_terminal=True)
    render_text(assess(DATES["open"]), console)
    text = out.getvalue()
    assert "\x1b[1;31mNOT MET" in text  # bold red
    assert "\x1b[1;33mINDETERMINATE" in text  # bold yellow
    assert "\x1b[1;32mMET" in text  # bold green


def test_the_readme_shows_the_real_demo_output() -> None:
    readme = (ROOT / "README.md").read_text()
    block = readme.split("<!-- demo-start -->\n```text\n")[1].split("```\n<!-- demo-end -->")[0]
    assert block.strip()
    assert render(assess(None), 80).startswith(block)


@pytest.mark.parametrize("args", [[], ["--disable-plugin", "anti_mda5"]],
                         ids=["every-plugin", "one-disabled"])
def test_the_evaluate_report_builds_one_engine(args: list[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Its glossary is read from the rule base that judged, not from a second evaluator
    (with plugins disabled, the default one would be another)."""
    from typer.testing import CliRunner

    from jdm_cds import defaults
    from jdm_cds.cli import app
    from jdm_cds.report import glossary

    built: list[frozenset[str]] = []
    original = defaults.evaluator_for

    def counted(plugins: defaults.Plugins) -> jdm_cds.Evaluator:
        built.append(frozenset(plugins.names))
        return original(plugins)

    monkeypatch.setattr(defaults, "evaluator_for", counted)
    defaults._evaluator.cache_clear()
    glossary._default_glossary.cache_clear()
    try:
        result = CliRunner().invoke(app, ["evaluate", *args, str(EXAMPLE)])
    finally:
        defaults._evaluator.cache_clear()

    assert result.exit_code == 0, result.output
    assert "Patient EX-MDA5" in result.output
    assert len(built) == 1
    assert ("anti_mda5" in built[0]) is not args


# --- without rich: the same bytes ----------------------------------------------------------

_STYLES = ("", "bold", "dim", "italic", "bold red", "bold green", "dim italic")
# Text as the report holds it (tabs excepted, which rich expands by cell position and which
# therefore always go through rich): words, wide and combining characters, the control
# characters rich leaves out, line breaks, trailing spaces. A report has a line at least.
_PIECES = st.lists(st.text(st.characters(blacklist_categories=("Cs",),
                                         blacklist_characters="\t"), max_size=30)
                   | st.sampled_from(["", " ", "  ", "\r\n", "\x07", "\x1b[31m", "─" * 5,
                                      "患者", "e\u0301", "[bold]x[/]"]), max_size=6)
_LINES = st.lists(st.lists(st.tuples(_PIECES.map("".join), st.sampled_from(_STYLES)),
                           min_size=1, max_size=4).map(tuple), min_size=1, max_size=8)


@pytest.mark.fuzz
@campaign(300, 30_000)
@given(lines=_LINES, width=st.integers(0, 200))
def test_a_plain_report_writes_what_rich_writes_where_nothing_is_styled(
        lines: list[tuple[tuple[str, str], ...]], width: int) -> None:
    by_rich, plain = io.StringIO(), io.StringIO()
    flush_lines(lines, Console(file=by_rich, width=width, soft_wrap=False,
                               force_terminal=False))
    flush_lines(lines, PlainText(plain, width))
    assert plain.getvalue() == by_rich.getvalue()


def test_a_plain_report_with_a_tab_goes_through_rich() -> None:
    lines = [(("a\tb", "bold"), ("c", "")), (("\tx", ""),)]
    by_rich, plain = io.StringIO(), io.StringIO()
    flush_lines(lines, Console(file=by_rich, width=80, soft_wrap=False, force_terminal=False))
    flush_lines(lines, PlainText(plain, 80))
    assert plain.getvalue() == by_rich.getvalue() == "a       bc\n        x\n"


@pytest.mark.parametrize("when", sorted(DATES))
@pytest.mark.parametrize("width", [20, 59, 80, 140])
def test_the_report_is_the_same_plain_or_through_rich(when: str, width: int) -> None:
    plain = io.StringIO()
    assessment = assess(DATES[when])
    render_text(assessment, PlainText(plain, width), Glossary.of(default_evaluator().rulebase))
    assert plain.getvalue() == render(assessment, width)


@pytest.mark.parametrize("tty", [False, True])
@pytest.mark.parametrize("setting", [None, ("FORCE_COLOR", "1"), ("FORCE_COLOR", ""),
                                     ("TTY_COMPATIBLE", "1"), ("TTY_COMPATIBLE", "0"),
                                     ("NO_COLOR", "1"), ("COLUMNS", "72"), ("TERM", "dumb")])
def test_the_report_is_plain_only_where_rich_would_style_nothing(
        monkeypatch: pytest.MonkeyPatch, tty: bool, setting: tuple[str, str] | None) -> None:
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE", "NO_COLOR", "COLUMNS", "TERM",
                 "TTY_INTERACTIVE"):
        monkeypatch.delenv(name, raising=False)
    if setting is not None:
        monkeypatch.setenv(*setting)
    monkeypatch.setattr(sys, "stdout", _Stdout(tty))
    output = report_output()
    # What rich does with standard output under the same settings.
    styled = Console(soft_wrap=False, width=None if tty or os.environ.get(
        "COLUMNS", "").isdigit() else PIPED_WIDTH)
    if isinstance(output, PlainText):
        assert not styled.is_terminal and styled.color_system is None
        assert output.width == styled.width
        assert output.file is sys.stdout
    else:
        assert tty or (setting is not None and setting[0] in ("FORCE_COLOR", "TTY_COMPATIBLE"))
    assert isinstance(report_output(io.StringIO()), PlainText)  # an output file: never styled


class _Stdout(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


@campaign(300, 30_000)
@given(st.text(alphabet=st.sampled_from("ab-. \t\n\r\x0b\xa0\u2028é"), max_size=50),
       st.integers(min_value=10, max_value=40), st.integers(min_value=0, max_value=6))
def test_a_line_is_wrapped_as_textwrap_wraps_it(text: str, width: int, hang: int) -> None:
    """The report's wrapping (a line that fits returned as it is) is textwrap's."""
    import textwrap

    from jdm_cds.report.text import wrap

    assert wrap(text, width, hang) == (textwrap.wrap(
        text, width=width, subsequent_indent=" " * hang, break_on_hyphens=False) or [""])
