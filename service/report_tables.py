"""The weekly report's sections as plain tables (title, header, rows), shared by the HTML and Markdown renderers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from kb.lifecycle_defaults import WAITING_REASONS
from service.report import WeeklyReport, headline_rows, show

NOTABLE_TITLES = {"breaches": "超时工单 SLA breaches", "reopens": "重开工单 Reopened",
                  "lowest_satisfaction": "满意度最低 Lowest satisfaction", "oldest_open": "最久未结 Oldest open"}


@dataclass(frozen=True)
class Table:
    """A titled table of strings."""

    title: str
    header: tuple[str, ...]
    rows: list[tuple[str, ...]]


def headlines(report: WeeklyReport) -> Table:
    """Key figures with last week and the change."""
    return Table("关键指标 Key figures", ("", report.week, "上周 previous week", "变化 change"),
                 headline_rows(report))


def days(report: WeeklyReport) -> list[tuple[str, int]]:
    """Tickets received on each day of the week (local), Monday first."""
    by_day = report.figures["volume"]["by_day"]
    labels = [report.first_day + timedelta(days=i) for i in range(7)]
    return [(d.strftime("%a %m-%d"), by_day.get(d.isoformat(), 0)) for d in labels]


def waiting(report: WeeklyReport) -> Table:
    """Waiting by the manuals' delay reasons A–D."""
    rows = [(WAITING_REASONS[reason], str(row["waits"]), str(row["started"]),
             show(row["wall_minutes"], "minutes"), show(row["business_minutes"], "minutes"))
            for reason, row in report.figures["waiting_time"].items()]
    return Table("拖延原因 Waiting by delay reason", ("reason", "waits", "began this week", "clock time",
                                                       "business time"), rows)


def backlog(report: WeeklyReport) -> Table:
    """Open tickets at the end of the week by state and age."""
    matrix = report.figures["backlog"]["by_state_and_age"]
    ages = tuple(report.figures["backlog"]["by_age"])
    rows = [(state, *(str(n) for n in by_age.values()), str(sum(by_age.values())))
            for state, by_age in matrix.items() if sum(by_age.values())]
    return Table("周末未结 Backlog at week end (state × age)", ("state", *ages, "total"), rows)


def engineers(report: WeeklyReport) -> Table:
    """绩效: per engineer."""
    rows = [(f"{report.names.get(r['engineer'], r['engineer'])} ({r['engineer']})", str(r["handled"]),
             show(r["time_worked_business_minutes"], "minutes"), show(r["fcr_rate"], "rate"),
             show(r["sla_rate"], "rate"), f"{show(r['csat_average'], 'score')} ({r['csat_surveys']})")
            for r in report.figures["engineers"]]
    return Table("工程师绩效 Engineers", ("engineer", "handled", "time worked", "first contact", "SLA met",
                                          "satisfaction (surveys)"), rows)


def faults(report: WeeklyReport, dimension: str, title: str) -> Table:
    """Top values of a fault dimension this week, with the last eight weeks' counts."""
    trend = {f["value"]: f["trend"] for f in report.faults_trend[dimension]}
    weeks = report.faults_trend["weeks"]
    rows = [(f["value"], str(f["count"]), " ".join(str(trend.get(f["value"], {}).get(w, 0)) for w in weeks))
            for f in report.figures["faults"][dimension]]
    return Table(title, ("value", "this week", f"weeks {weeks[0]} … {weeks[-1]}"), rows)


def deflection(report: WeeklyReport) -> Table:
    """Self-service figures."""
    d = report.figures["deflection"]
    rows = [("提交时看到的建议 Suggestions shown", str(d["suggestions_shown"])),
            ("看到建议的工单 Tickets that showed suggestions", str(d["tickets_with_suggestions"])),
            ("自助解决未提单 Solved without a ticket", show(d["solved_without_ticket"], "count")),
            ("文章解决的工单 Tickets solved by an article", str(d["tickets_solved_by_articles"]))]
    rows += [(f"  {a['title']}", str(a["tickets"])) for a in d["top_articles"][:5]]
    return Table("自助与知识库 Self-service and articles", ("", "count"), rows)


def notable(report: WeeklyReport) -> list[Table]:
    """Tickets to look at, one table per kind."""
    tables = []
    for kind, title in NOTABLE_TITLES.items():
        items: list[dict[str, Any]] = report.figures["notable"][kind]
        rows = [(t["number"], t["title"], t["priority"], t["team"] or "", t["assignee"] or "", t["why"])
                for t in items]
        tables.append(Table(title, ("number", "title", "priority", "team", "assignee", "why"), rows))
    return tables


def all_tables(report: WeeklyReport) -> list[Table]:
    """Every table in report order."""
    return [headlines(report), backlog(report), waiting(report), engineers(report),
            faults(report, "categories", "故障分类 Top categories"), faults(report, "products", "产品 Top products"),
            faults(report, "error_codes", "错误码 Top error codes"), deflection(report), *notable(report)]
