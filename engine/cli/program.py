"""The ``jdm-cds`` program: what the script runs.

``jdm-cds evaluate FILE...`` (files and folders only, no option, and none of the settings
that typer would read as an option's value) runs without typer: importing typer and
building the command's parser cost more than a tenth of the start-up of one evaluation.
It calls the same run (``evaluate_run.run``) with the values typer would have passed, and
ends as typer ends it: the same exit codes, typer's own report of an unexpected error.
Every other command line, however small the difference (an option, ``-``, ``--``, a
shell asking for completions), goes to the typer application, which reads, checks and
reports it as always (``tests/test_program.py`` compares the two on a matrix of forms).
"""

from __future__ import annotations

import atexit
import errno
import os
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from jdm_cds.collector import lasting

# Settings typer reads as the value of an option of ``evaluate`` or a global option:
# with one set, typer reads, checks and applies it.
OPTION_SETTINGS = ("JDM_CDS_PLUGIN_TIMEOUT", "JDM_CDS_MAX_FILE_MB", "JDM_CDS_MAX_VISITS")


def evaluate_files(argv: Sequence[str]) -> list[str] | None:
    """The files of ``evaluate FILE...`` when ``argv`` (the arguments after the program's
    name) is that and nothing else and the environment sets no option; else None."""
    if len(argv) < 2 or argv[0] != "evaluate" or os.name == "nt":  # Windows: typer globs
        return None
    files = list(argv[1:])
    if any(not file or file.startswith("-") for file in files):
        return None
    if any(name in os.environ for name in OPTION_SETTINGS) or any(
            name.startswith("_") and name.endswith("_COMPLETE") for name in os.environ):
        return None
    return files


def main() -> int | None:
    """Run the command line of this process (``sys.argv``); the exit code."""
    files = evaluate_files(sys.argv[1:])
    if files is None:
        from jdm_cds.cli import app

        return app()  # type: ignore[no-any-return]  # typer exits by itself
    with lasting():  # objects that live as long as the process, as app's import does
        from jdm_cds.cli import evaluate_run
        from jdm_cds.cli.common import parse_budget, settings
        from jdm_cds.cli.outcome import Exit
        from jdm_cds.plugins.budget import DEFAULT_BUDGET
    settings.plugin_budget = parse_budget(DEFAULT_BUDGET)  # the global option's default
    try:
        evaluate_run.run([Path(file) for file in files])
    except Exit as done:
        return end(done.code)
    except KeyboardInterrupt:  # as typer: exit 130, nothing printed
        return 130
    except Exception as error:
        if isinstance(error, OSError) and error.errno == errno.EPIPE:
            # As typer: the reader of an output went away; the final flush stays quiet.
            from typer._click.utils import PacifyFlushWrapper

            sys.stdout = PacifyFlushWrapper(sys.stdout)
            sys.stderr = PacifyFlushWrapper(sys.stderr)
            return 1
        from jdm_cds.cli import app

        app.crashed(error)
        raise
    return end(0)


def end(code: int) -> int:
    """End the process now with ``code``, without the interpreter's teardown, when only
    jdm-cds's own code and its libraries ran in it; else ``code``, for the usual exit.

    The teardown frees every object one at a time (the modules, the rule base, the
    engine): a few percent of the run, for nothing the process still has to do. What the
    usual exit does that counts is done first, in its order: wait for the threads that
    are not daemons and run the functions registered with ``atexit`` (libraries' and
    plugins'), then write what standard output and error hold. A file left open is
    written out when its object is freed, which this exit skips: so not after a plugin of
    another package has run here, whose files are not known. If standard output cannot
    be written (its reader gone), the usual exit reports it as before.
    """
    from jdm_cds.plugins.manager import others_loaded

    if others_loaded():
        return code
    threading._shutdown()  # type: ignore[attr-defined]  # what the interpreter calls
    atexit._run_exitfuncs()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except Exception:
        return code
    os._exit(code)
