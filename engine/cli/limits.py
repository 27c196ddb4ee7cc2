"""The input limits as command-line options (``--max-file-mb``, ``--max-visits``: declared in
``options.py``): they set the settings every process reads."""

from __future__ import annotations

import os

from jdm_cds.model.reading import MAX_FILE_MB_SETTING, MAX_VISITS_SETTING


def apply_limits(max_file_mb: float | None, max_visits: int | None) -> None:
    """Set the limits for this process and the worker processes it starts."""
    if max_file_mb is not None:
        os.environ[MAX_FILE_MB_SETTING] = repr(max_file_mb)
    if max_visits is not None:
        os.environ[MAX_VISITS_SETTING] = str(max_visits)
