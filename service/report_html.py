"""The weekly report as one self-contained HTML page: inline CSS and SVG charts, no scripts."""

from __future__ import annotations

from html import escape
from zoneinfo import ZoneInfo

from kb.lifecycle_defaults import WAITING_REASONS
from service.report import WeeklyReport
from service.report_svg import bar_chart, hbar_chart, line_chart
from service.report_tables import Table, all_tables, days

STYLE = """
body { font-family: Helvetica, Arial, "PingFang SC", "Microsoft YaHei", sans-serif; margin: 24px; color: #222; }
h1 { font-size: 22px; margin-bottom: 4px; } h2 { font-size: 16px; margin-top: 28px; }
p.meta { color: #666; margin-top: 0; }
table { border-collapse: collapse; margin: 8px 0; font-size: 13px; }
th, td { border: 1px solid #ddd; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f3f5f8; }
td:nth-child(n+2) { white-space: nowrap; }
.charts { display: flex; flex-wrap: wrap; gap: 16px; }
.charts svg { border: 1px solid #eee; background: #fff; }
"""


def table(t: Table) -> str:
    """An HTML table with its title."""
    head = "".join(f"<th>{escape(h)}</th>" for h in t.header)
    body = "".join("<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in row) + "</tr>" for row in t.rows)
    empty = f"<tr><td colspan='{len(t.header)}'>–</td></tr>" if not t.rows else ""
    return f"<h2>{escape(t.title)}</h2>\n<table><tr>{head}</tr>{body}{empty}</table>"


def charts(report: WeeklyReport) -> list[str]:
    """The report's charts as inline SVG."""
    figures = report.figures
    per_day = days(report)
    hours = figures["volume"]["by_hour"]
    backlog = {s: n for s, n in figures["backlog"]["by_state"].items()}
    waiting = figures["waiting_time"]
    weeks = report.weekly_volume
    top = report.faults_trend["categories"][:5]
    survey = figures["satisfaction"]["distribution"]
    return [
        bar_chart("来单 Tickets per day", [d for d, _ in per_day], [n for _, n in per_day]),
        bar_chart("来单时段 Arrivals by hour", list(hours), list(hours.values()), color="#3a9a5b"),
        line_chart(f"来单与解决 Received and resolved, {len(weeks)} weeks", [w for w, _, _ in weeks],
                   {"received": [c for _, c, _ in weeks], "resolved": [r for _, _, r in weeks]}),
        bar_chart("周末未结 Backlog by state", list(backlog), list(backlog.values()), color="#c2423f"),
        hbar_chart("等待时长 Waiting, business hours", [f"{WAITING_REASONS[r][0]} {r}" for r in waiting],
                   [round(row["business_minutes"] / 60, 1) for row in waiting.values()]),
        bar_chart("满意度分布 Satisfaction scores", [f"{k}★" for k in survey], list(survey.values()),
                  color="#c9a227"),
        hbar_chart("故障分类 Top categories this week", [f["value"] for f in figures["faults"]["categories"]],
                   [f["count"] for f in figures["faults"]["categories"]]),
        line_chart("故障趋势 Top categories, weekly", report.faults_trend["weeks"],
                   {f["value"]: list(f["trend"].values()) for f in top}),
    ]


def render_html(report: WeeklyReport) -> str:
    """The whole report page."""
    generated = report.generated_at.astimezone(ZoneInfo(report.timezone))
    tables = all_tables(report)
    title = f"每周统计分析 Weekly support report — {report.week}"
    meta = (f"{report.first_day} – {report.last_day} ({escape(report.timezone)}); "
            f"generated {generated:%Y-%m-%d %H:%M} by Casewise from its audit trail. Business time counts only working hours of the SLA calendar; "
            "clock time counts every minute; p90 is the value 90% of tickets stay within.")
    body = [f"<h1>{escape(title)}</h1>", f"<p class='meta'>{meta}</p>", table(tables[0]),
            "<h2>图表 Charts</h2>", "<div class='charts'>" + "\n".join(charts(report)) + "</div>",
            *(table(t) for t in tables[1:])]
    return ("<!DOCTYPE html>\n<html lang='zh'><head><meta charset='utf-8'>"
            f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>\n"
            + "\n".join(body) + "\n</body></html>\n")
