"""The weekly report as Markdown: the same tables as the HTML report, with text bars instead of charts."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from service.report import WeeklyReport
from service.report_tables import Table, all_tables, days

BAR = "█"


def cell(text: str) -> str:
    """A table cell: no line breaks, pipes escaped."""
    return " ".join(str(text).split()).replace("|", "\\|")


def table(t: Table) -> str:
    """A Markdown table with its title as a heading."""
    lines = [f"## {t.title}", "", "| " + " | ".join(cell(h) for h in t.header) + " |",
             "|" + "---|" * len(t.header)]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in t.rows]
    if not t.rows:
        lines.append("| " + " | ".join(["–"] * len(t.header)) + " |")
    return "\n".join(lines)


def arrivals(report: WeeklyReport) -> str:
    """Tickets per day with a text bar."""
    per_day = days(report)
    lines = ["## 来单 Arrivals per day", "", "| day | tickets | |", "|---|---|---|"]
    lines += [f"| {label} | {count} | {BAR * count} |" for label, count in per_day]
    busiest = max(report.figures["volume"]["by_hour"].items(), key=lambda kv: kv[1])
    lines += ["", f"Busiest hour: {busiest[0]}:00 ({busiest[1]} tickets). Channels: "
              + ", ".join(f"{k} {v}" for k, v in report.figures["volume"]["by_channel"].items()) + "."]
    return "\n".join(lines)


def render_markdown(report: WeeklyReport) -> str:
    """The whole report."""
    tables = all_tables(report)
    generated = report.generated_at.astimezone(ZoneInfo(report.timezone))
    head = [f"# 每周统计分析 Weekly support report — {report.week}", "",
            f"{report.first_day} – {report.last_day} ({report.timezone}); generated "
            f"{generated:%Y-%m-%d %H:%M} by Casewise from its audit trail.",
            "Business time counts only working hours of the SLA calendar; clock time counts every minute.",
            "p90: the value 90% of tickets stay within."]
    parts = ["\n".join(head), table(tables[0]), arrivals(report), *(table(t) for t in tables[1:])]
    return "\n\n".join(parts) + "\n"
