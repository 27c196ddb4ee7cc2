"""How a command ends early, without typer: ``Exit`` (an exit code) and ``BadParameter`` (a
usage error, exit 2).

The code the commands share raises these rather than typer's own, so that ``jdm-cds
evaluate FILE...`` runs without importing typer (``program.py``). Where typer runs a
command, ``commands.py`` hands them to typer as ``typer.Exit`` and ``typer.BadParameter``,
which report them as before.
"""

from __future__ import annotations


class Exit(Exception):
    """End the command with exit code ``code`` (what it had to say is already printed)."""

    def __init__(self, code: int = 0) -> None:
        super().__init__(code)
        self.code = code


class BadParameter(Exception):
    """A value the command cannot take: reported with the command's usage line (exit 2)."""

    def __init__(self, message: str, param_hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param_hint = param_hint
