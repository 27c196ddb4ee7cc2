"""``jdm-cds feedback report``: acceptance and override reasons per rule."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Annotated, Any

import typer

from jdm_cds.cli.common import Format, stderr, stdout


def feedback_report(
    config: Annotated[Path | None, typer.Option(
        help="The service's settings file (for its database_url).")] = None,
    database: Annotated[str | None, typer.Option(
        help="SQLAlchemy URL of the database (overrides the settings file).")] = None,
    output: Annotated[Format, typer.Option("--format", help="text or json")] = Format.text,
) -> None:
    """Summarise clinicians' feedback on cards, per rule and pack version."""
    from jdm_cds.service.database import Store
    from jdm_cds.service.settings import ConfigError, load_settings

    try:
        url = database or load_settings(config).database_url
    except ConfigError as error:
        stderr.print(str(error), style="red", markup=False, highlight=False)
        raise typer.Exit(2) from None
    rows = summarise(Store(url).feedback())
    if output is Format.json:
        print(json.dumps(rows, indent=2))
        return
    if not rows:
        stdout.print("no feedback stored yet", markup=False)
        return
    from rich.table import Table

    table = Table("rule", "pack version", "accepted", "overridden", "acceptance",
                  "override reasons", title="Feedback per rule")
    for row in rows:
        reasons = "; ".join(f"{reason} ({count})" for reason, count in row["override_reasons"])
        table.add_row(row["rule"], row["version"], str(row["accepted"]), str(row["overridden"]),
                      f"{row['acceptance']:.0%}", reasons or "-")
    stdout.print(table)


def summarise(feedback: list[Any]) -> list[dict[str, Any]]:
    """One row per (rule, pack, version): counts, acceptance and override reasons."""
    groups: dict[tuple[str, str, str], list[Any]] = defaultdict(list)
    for row in feedback:
        # A card from several rules (a pack's judgements) counts for each of them.
        origins = row.rules or [{"rule": "(card not issued by this service)", "pack": "-",
                                 "version": "-"}]
        for origin in origins:
            groups[(origin["rule"], origin["pack"], origin["version"])].append(row)
    out = []
    for (rule, pack, version), rows in sorted(groups.items()):
        accepted = sum(r.outcome == "accepted" for r in rows)
        overridden = len(rows) - accepted
        reasons = Counter(r.override_display or r.override_code or "no reason given"
                          for r in rows if r.outcome == "overridden")
        out.append({"rule": rule, "pack": pack, "version": version, "accepted": accepted,
                    "overridden": overridden, "acceptance": accepted / len(rows),
                    "override_reasons": reasons.most_common()})
    return out
