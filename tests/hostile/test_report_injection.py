"""Text that is not ours reaches the terminal literally: no markup is read in it, and control
characters and terminal escape sequences are shown escaped, never sent."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console
from typer.testing import CliRunner

import jdm_cds
from jdm_cds.cli import app
from jdm_cds.model.assessment import Alert, Assessment, GuidanceCard, Recommendation, Source
from jdm_cds.report.text import render_text

ROOT = Path(__file__).parent.parent.parent
EXAMPLE = ROOT / "examples" / "patient-mda5.yaml"
CLEAR = "\x1b[2J\x1b[H"
OSC8 = "\x1b]8;;https://evil.example/\x07click here\x1b]8;;\x07"
BIDI = "\u202eevil\u202c"


def render(assessment: Assessment, color: bool = True) -> str:
    out = io.StringIO()
    console = Console(file=out, width=100, color_system="standard" if color else None,
                      force_terminal=color)
    render_text(assessment, console)
    return out.getvalue()


def hostile() -> Assessment:
    base = jdm_cds.evaluate(jdm_cds.load_patient(EXAMPLE))
    source = Source(label="[bold]Not bold[/bold] [/]", url=None)
    alert = Alert(id="x.alert", indicator="warning", summary="dose [mg/kg/day] high",
                  detail="closing tag [/] and [red]not red[/red] " + OSC8, source=source,
                  rule="x.alert", version="1.0.0")
    rec = Recommendation(id="x.rec", summary="[link=https://evil.example]go[/link]",
                         detail=CLEAR + "gone?", because="[/]", source=source, rule="x.rec",
                         version="1.0.0")
    card = GuidanceCard(id="x.card", indicator="info", summary="emoji :smile: stays",
                        detail=BIDI, source=source, plugin="x")
    return base.model_copy(update={
        "patient_id": "P" + CLEAR + OSC8, "alerts": [alert], "recommendations": [rec],
        "guidance": [card]})


def test_markup_in_rule_and_plugin_text_prints_as_written() -> None:
    text = render(hostile(), color=False)

    assert "dose [mg/kg/day] high" in text
    assert "closing tag [/] and [red]not red[/red]" in text
    assert "[link=https://evil.example]go[/link]" in text
    assert "Because: [/]" in text
    assert "[bold]Not bold[/bold] [/]" in text
    assert "emoji :smile: stays" in text


def test_escape_sequences_are_shown_escaped_never_sent() -> None:
    text = render(hostile(), color=True)

    assert "\x1b[2J" not in text and "\x1b[H" not in text
    assert "\x1b]" not in text and "\x07" not in text  # no OSC 8 hyperlink, no bell
    assert "\u202e" not in text
    assert "P\\x1b[2J\\x1b[H\\x1b]8;;https://evil.example/\\x07click here" in text
    assert "\\u202eevil\\u202c" in text
    # What is left of ESC is the report's own colour (SGR) sequences.
    for part in text.split("\x1b")[1:]:
        assert part.startswith("["), part[:10]
        assert part[1:].split("m", 1)[0].replace(";", "").isdigit() or part.startswith("[0m")


def test_a_patient_file_with_escapes_in_its_id(tmp_path: Path) -> None:
    path = tmp_path / "evil.yaml"
    path.write_text('id: "X\\e[2J\\e]8;;http://evil.example/\\aclick\\e]8;;\\a"\n'
                    "visits:\n  - {date: 2020-01-01, cmas: 50}\n")

    result = CliRunner().invoke(app, ["evaluate", str(path)])

    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "Patient X\\x1b[2J\\x1b]8;;http://evil.example/\\x07click" in result.stdout
