"""The manager's weekly report (每周统计分析 / 工作报表): figures, charts and notable tickets for one ISO week.

Every figure comes from `kb.metrics`, so the report agrees with the dashboard API, the CSV
export and the notebook. Formats: self-contained HTML (inline SVG charts, no scripts),
Markdown, and CSV (one row per figure). `write_scheduled_report` writes last week's report
into a folder once; a scheduler may call it as often as it likes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlite_utils

from kb.calendar import BusinessCalendar
from kb.errors import InvalidInput
from kb.metrics import compute_all, csv_text, ticket_volume
from kb.metrics_backlog import fault_statistics
from kb.metrics_data import MetricFilter

if TYPE_CHECKING:
    from service.runtime import Runtime

FORMATS = ("html", "md", "csv")
TREND_WEEKS = 8
# Values kept in the eight-week fault trend, so every value of the week has its history.
TREND_VALUES = 500
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")


@dataclass
class WeeklyReport:
    """One week's figures, the week before for comparison, and eight weeks of trend."""

    week: str
    first_day: date
    timezone: str
    figures: dict[str, Any]
    previous: dict[str, Any]
    weekly_volume: list[tuple[str, int, int]]
    faults_trend: dict[str, Any]
    names: dict[str, str]
    generated_at: datetime

    @property
    def last_day(self) -> date:
        """The Sunday of the week."""
        return self.first_day + timedelta(days=6)


def parse_week(text: str) -> date:
    """The Monday of an ISO week written like 2026-W47; InvalidInput otherwise."""
    match = _WEEK.match(text.strip())
    try:
        if match is None:
            raise ValueError
        return date.fromisocalendar(int(match[1]), int(match[2]), 1)
    except ValueError:
        raise InvalidInput(f"week {text!r} is not an ISO week; write it like 2026-W47") from None


def week_label(day: date) -> str:
    """The ISO week of a day, like 2026-W47."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def last_complete_week(now: datetime, calendar: BusinessCalendar) -> str:
    """The ISO week that ended most recently before `now` (local time)."""
    return week_label(now.astimezone(calendar.zone).date() - timedelta(days=7))


def week_filter(monday: date, calendar: BusinessCalendar, weeks: int = 1) -> MetricFilter:
    """Local Monday 00:00 to the Monday `weeks` later."""
    start = datetime.combine(monday, time(0), tzinfo=calendar.zone)
    return MetricFilter(start=start, end=datetime.combine(monday + timedelta(weeks=weeks), time(0),
                                                          tzinfo=calendar.zone))


def build_weekly_report(db: sqlite_utils.Database, calendar: BusinessCalendar, week: str,
                        now: datetime) -> WeeklyReport:
    """Compute the report of an ISO week over a read connection."""
    monday = parse_week(week)
    trend = week_filter(monday - timedelta(weeks=TREND_WEEKS - 1), calendar, TREND_WEEKS)
    return WeeklyReport(
        week=week_label(monday), first_day=monday, timezone=calendar.timezone,
        figures=compute_all(db, week_filter(monday, calendar), calendar),
        previous=compute_all(db, week_filter(monday - timedelta(weeks=1), calendar), calendar),
        weekly_volume=_weekly_volume(db, trend, calendar),
        faults_trend=fault_statistics(db, trend, calendar, top=TREND_VALUES),
        names={r[0]: r[1] for r in db.execute("SELECT username, display_name FROM members")},
        generated_at=now,
    )


def _weekly_volume(db: sqlite_utils.Database, flt: MetricFilter,
                   calendar: BusinessCalendar) -> list[tuple[str, int, int]]:
    """Tickets received and resolved per week of a longer range."""
    rows = []
    day = flt.start.date()
    while day < flt.end.date():
        one = week_filter(day, calendar)
        volume = ticket_volume(db, one, calendar)
        rows.append((week_label(day), volume["created"], volume["resolved"]))
        day += timedelta(weeks=1)
    return rows


def render(report: WeeklyReport, fmt: str) -> str:
    """The report in one of FORMATS."""
    if fmt not in FORMATS:
        raise InvalidInput(f"format {fmt!r} is not one of: {', '.join(FORMATS)}")
    if fmt == "csv":
        return csv_text(report.figures)
    from service.report_html import render_html
    from service.report_md import render_markdown

    return render_html(report) if fmt == "html" else render_markdown(report)


def write_scheduled_report(runtime: Runtime, folder: Path, now: datetime) -> list[Path]:
    """Write last week's report (html, md, csv) into `folder` unless it is already there; returns new files."""
    calendar = runtime.rules.calendar
    week = last_complete_week(now, calendar)
    targets = {fmt: folder / f"casewise-weekly-{week}.{fmt}" for fmt in FORMATS}
    missing = {fmt: path for fmt, path in targets.items() if not path.exists()}
    if not missing:
        return []
    report = runtime.database.read(lambda db: build_weekly_report(db, calendar, week, now))
    folder.mkdir(parents=True, exist_ok=True)
    for fmt, path in missing.items():
        partial = path.with_suffix(path.suffix + ".part")
        partial.write_text(render(report, fmt), encoding="utf-8")
        partial.replace(path)
    return list(missing.values())


# Shared by the renderers: the headline figures, how to read them and how to show them.
HEADLINES: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("来单 Tickets received", ("volume", "created"), "count"),
    ("解决 Tickets resolved", ("volume", "resolved"), "count"),
    ("关闭 Tickets closed", ("volume", "closed"), "count"),
    ("周末未结 Open at week end", ("backlog", "open"), "count"),
    ("平均响应时间 First response, average (business)", ("first_response_time", "business_minutes", "average"),
     "minutes"),
    ("响应时间中位数 First response, median (business)", ("first_response_time", "business_minutes", "median"),
     "minutes"),
    ("响应时间 p90 (business)", ("first_response_time", "business_minutes", "p90"), "minutes"),
    ("平均响应时间 First response, average (clock)", ("first_response_time", "wall_minutes", "average"), "minutes"),
    ("平均解决时间 Resolution, average (business)", ("resolution_time", "business_minutes", "average"), "minutes"),
    ("解决时间中位数 Resolution, median (business)", ("resolution_time", "business_minutes", "median"), "minutes"),
    ("解决时间 p90 (business)", ("resolution_time", "business_minutes", "p90"), "minutes"),
    ("平均解决时间 Resolution, average (clock)", ("resolution_time", "wall_minutes", "average"), "minutes"),
    ("响应达标率 Response SLA met", ("sla_compliance", "response", "rate"), "rate"),
    ("解决达标率 Resolution SLA met", ("sla_compliance", "resolution", "rate"), "rate"),
    ("超时 SLA breaches (response + resolution)", ("sla_breaches", "*", "breaches"), "count"),
    ("险些超时 Near-breaches", ("sla_breaches", "*", "near_breaches"), "count"),
    ("一次问题解决率 First-contact resolution", ("first_contact_resolution", "rate"), "rate"),
    ("问题解决率 Resolution rate", ("resolution_rate", "rate"), "rate"),
    ("重开率 Reopen rate", ("reopen_rate", "rate"), "rate"),
    ("升级率 Escalation rate", ("escalation_rate", "rate"), "rate"),
    ("升级到研发 Escalated to R&D", ("escalation_rate", "to_rnd"), "count"),
    ("客户满意度 Satisfaction (1–5)", ("satisfaction", "average"), "score"),
    ("调查回复率 Survey response rate", ("satisfaction", "response_rate"), "rate"),
    ("回访完成 Follow-up calls made", ("followups", "done"), "count"),
)


def figure(results: dict[str, Any], path: tuple[str, ...]) -> Any:
    """A figure by its path; '*' sums over both SLA targets."""
    value: Any = results
    for key in path:
        if key == "*":
            return sum(value[target][path[-1]] for target in ("response", "resolution"))
        value = value.get(key) if isinstance(value, dict) else None
    return value


def show(value: Any, kind: str) -> str:
    """A figure as people read it: counts, minutes/hours, percentages, scores; '–' when unknown."""
    if value is None:
        return "–"
    if kind == "minutes":
        return f"{value:.0f} min" if value < 120 else f"{value / 60:.1f} h"
    if kind == "rate":
        return f"{value * 100:.1f}%"
    if kind == "score":
        return f"{value:.2f}"
    return str(value)


def change(now: Any, before: Any, kind: str) -> str:
    """The change from last week: +3, −2.5 pt, +0.4 h."""
    if now is None or before is None:
        return ""
    delta = now - before
    if kind == "rate":
        return f"{delta * 100:+.1f} pt"
    if kind == "minutes":
        return f"{delta:+.0f} min" if abs(delta) < 120 else f"{delta / 60:+.1f} h"
    if kind == "score":
        return f"{delta:+.2f}"
    return f"{delta:+d}"


def headline_rows(report: WeeklyReport) -> list[tuple[str, str, str, str]]:
    """(label, this week, last week, change) for every headline figure."""
    rows = []
    for label, path, kind in HEADLINES:
        now, before = figure(report.figures, path), figure(report.previous, path)
        rows.append((label, show(now, kind), show(before, kind), change(now, before, kind)))
    return rows
