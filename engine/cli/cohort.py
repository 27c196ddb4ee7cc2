"""``jdm-cds cohort``: evaluate many patients and summarise them as the study did."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from jdm_cds.cli.common import DisablePlugin, Format, build_evaluator, stderr, stdout


def cohort(
    paths: Annotated[list[Path], typer.Argument(help="Patient files (YAML or JSON) or folders.")],
    output: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.text,
    disable_plugin: DisablePlugin = None,
) -> None:
    """Evaluate every patient and summarise the cohort as the study reported its results."""
    from jdm_cds.cohort.summary import render_cohort, summarise

    summary = summarise(paths, build_evaluator(disable_plugin))
    for invalid in summary.invalid:
        for line in invalid.errors:
            stderr.print(line, style="red", markup=False, highlight=False)
    if output is Format.json:
        print(json.dumps(summary.to_dict(), indent=2, ensure_ascii=False))
    else:
        render_cohort(summary, stdout)
    if summary.invalid:
        raise typer.Exit(1)
