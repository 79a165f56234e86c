"""`casewise report`: the manager's weekly report for an ISO week, as HTML, Markdown or CSV."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from kb.errors import InvalidInput
from service.cli_common import out, user_errors
from service.report import FORMATS, build_weekly_report, last_complete_week, render
from service.runtime import desk_rules, open_database
from service.settings import Settings


def report(
    week: Annotated[str | None, typer.Option(
        "--week", help="ISO week, e.g. 2026-W47 (default: the last complete week).")] = None,
    format: Annotated[str, typer.Option(  # noqa: A002 - the option is called --format
        "--format", help=f"One of: {', '.join(FORMATS)}.")] = "md",
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Write to this file instead of printing.")] = None,
) -> None:
    """The weekly report (每周统计分析): key figures, charts, per-engineer table and notable tickets."""
    settings = Settings()
    now = datetime.now(UTC)
    with user_errors():
        if format not in FORMATS:
            raise InvalidInput(f"format {format!r} is not one of: {', '.join(FORMATS)}")
        calendar = desk_rules(settings).calendar
        database = open_database(settings)
        try:
            chosen = week or last_complete_week(now, calendar)
            text = render(database.read(lambda db: build_weekly_report(db, calendar, chosen, now)), format)
        finally:
            database.close()
    if output is None:
        typer.echo(text, nl=False)
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    out.print(f"weekly report {chosen} ({format}) written to {output}", highlight=False)
