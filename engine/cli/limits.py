"""The input limits as command-line options: they set the settings every process reads."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from jdm_cds.model.reading import MAX_FILE_MB_SETTING, MAX_VISITS_SETTING

MaxFileMb = Annotated[float | None, typer.Option(
    "--max-file-mb", min=0.001, metavar="MB", envvar=MAX_FILE_MB_SETTING,
    help="Largest patient file read, in MB (default 5); a larger one is an input error.")]
MaxVisits = Annotated[int | None, typer.Option(
    "--max-visits", min=1, metavar="N", envvar=MAX_VISITS_SETTING,
    help="Most visits a patient may have (default 2,000); more is an input error.")]


def apply_limits(max_file_mb: float | None, max_visits: int | None) -> None:
    """Set the limits for this process and the worker processes it starts."""
    if max_file_mb is not None:
        os.environ[MAX_FILE_MB_SETTING] = repr(max_file_mb)
    if max_visits is not None:
        os.environ[MAX_VISITS_SETTING] = str(max_visits)
