"""Support metrics (统计分析 / 工作报表 / 绩效考核): each figure defined once, here and in kb/metrics_*.py.

Every metric is a function `metric(db, flt, calendar, source=None) -> dict` over a read
connection, a `MetricFilter` and the SLA `BusinessCalendar`; pass one `MetricSource` to share
the loaded rows between metrics (the figures are the same either way). Times are minutes,
"business" minutes count only the calendar's opening hours (pauses are not subtracted) and
"wall" minutes count the clock. Averages, medians and p90 (nearest rank) are rounded to 2
decimals, rates to 4. Each docstring says which tickets a figure covers ("cohort").
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any

import sqlite_utils

from kb.calendar import BusinessCalendar
from kb.metrics_backlog import backlog, fault_statistics, notable_tickets, waiting_time
from kb.metrics_data import MetricFilter, MetricSource, is_first_contact, sla_marks, source_for, validate_filter
from kb.metrics_people import deflection, engineer_performance, followup_calls, satisfaction
from kb.metrics_time import rate, summary

Metric = Callable[..., Any]
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
SLA_TARGETS = ("response", "resolution")


def ticket_volume(db: sqlite_utils.Database, flt: MetricFilter, calendar: BusinessCalendar,
                  source: MetricSource | None = None) -> dict[str, Any]:
    """Tickets received (created in range), resolved (latest resolution in range), closed (closed in
    range); arrivals by local weekday, hour of day, day and channel."""
    src = source_for(db, flt, calendar, source)
    created = [t for t in src.tickets.values() if src.in_range(t.created)]
    local = [datetime.fromtimestamp(t.created, calendar.zone) for t in created]
    weekdays, hours = Counter(m.weekday() for m in local), Counter(m.hour for m in local)
    return {
        "created": len(created),
        "resolved": sum(src.in_range(t.resolved) for t in src.tickets.values()),
        "closed": sum(src.in_range(t.closed) for t in src.tickets.values()),
        "by_weekday": {name: weekdays[i] for i, name in enumerate(WEEKDAYS)},
        "by_hour": {f"{h:02d}": hours[h] for h in range(24)},
        "by_day": dict(sorted(Counter(m.date().isoformat() for m in local).items())),
        "by_channel": dict(sorted(Counter(t.channel or "unknown" for t in created).items())),
    }


def first_response_time(db: sqlite_utils.Database, flt: MetricFilter, calendar: BusinessCalendar,
                        source: MetricSource | None = None) -> dict[str, Any]:
    """Creation to first response (平均响应时间), for tickets first answered in the range."""
    src = source_for(db, flt, calendar, source)
    pairs = [(t.created, t.first_response) for t in src.tickets.values() if src.in_range(t.first_response)]
    return _durations(src, pairs)


def resolution_time(db: sqlite_utils.Database, flt: MetricFilter, calendar: BusinessCalendar,
                    source: MetricSource | None = None) -> dict[str, Any]:
    """Creation to resolution (平均解决时间), for tickets whose latest resolution is in the range."""
    src = source_for(db, flt, calendar, source)
    pairs = [(t.created, t.resolved) for t in src.tickets.values() if src.in_range(t.resolved)]
    return _durations(src, pairs)


def _durations(src: MetricSource, pairs: list[tuple[float, Any]]) -> dict[str, Any]:
    business = [src.business_minutes(a, b) for a, b in pairs]
    wall = [max(b - a, 0.0) / 60.0 for a, b in pairs]
    return {"count": len(pairs), "business_minutes": _stats(business), "wall_minutes": _stats(wall)}


def _stats(values: list[float]) -> dict[str, Any]:
    figures = summary(values)
    figures.pop("count")
    return figures


def sla_compliance(db: sqlite_utils.Database, flt: MetricFilter, calendar: BusinessCalendar,
                   source: MetricSource | None = None) -> dict[str, Any]:
    """Share of targets met: response for tickets first answered in the range, resolution for
    tickets whose latest resolution is in the range (met / (met + breached))."""
    src = source_for(db, flt, calendar, source)
    tickets = src.tickets.values()
    outcomes = {
        "response": Counter(t.response_sla for t in tickets if src.in_range(t.first_response)),
        "resolution": Counter(t.resolution_sla for t in tickets if src.in_range(t.resolved)),
    }
    return {target: {"met": c["met"], "breached": c["breached"], "rate": rate(c["met"], c["met"] + c["breached"])}
            for target, c in outcomes.items()}


def sla_breaches(db: sqlite_utils.Database, flt: MetricFilter, calendar: BusinessCalendar,
                 source: MetricSource | None = None) -> dict[str, Any]:
    """Breaches recorded in the range (a target turned 'breached': by the SLA watch, or by a late
    first response or resolution), warnings recorded in the range, and near-breaches: targets
    warned in the range that are not (yet) breached."""
    src = source_for(db, flt, calendar, source)
    figures = {target: {"breaches": 0, "warnings": 0, "near_breaches": 0} for target in SLA_TARGETS}
    for ticket in src.tickets.values():
        marks = sla_marks(src, ticket.id)
        for target, final in (("response", ticket.response_sla), ("resolution", ticket.resolution_sla)):
            figures[target]["breaches"] += (target, "breached") in marks
            figures[target]["warnings"] += (target, "warning") in marks
            figures[target]["near_breaches"] += (target, "warning") in marks and final != "breached"
    return figures


def first_contact_resolution(db: sqlite_utils.Database, flt: MetricFilter, calendar: BusinessCalendar,
                             source: MetricSource | None = None) -> dict[str, Any]:
    """一次问题解决率: of tickets whose latest resolution is in the range, those resolved by their
    first assignee, never escalated and never reopened."""
    src = source_for(db, flt, calendar, source)
    resolved = [t for t in src.tickets.values() if src.in_range(t.resolved)]
    first = sum(is_first_contact(src, t.id) for t in resolved)
    return {"resolved": len(resolved), "first_contact": first, "rate": rate(first, len(resolved))}


def resolution_rate(db: sqlite_utils.Database, flt: MetricFilter, calendar: BusinessCalendar,
                    source: MetricSource | None = None) -> dict[str, Any]:
    """问题解决率: of tickets created in the range (not cancelled or merged by its end), the share
    resolved or closed at the end of the range."""
    src = source_for(db, flt, calendar, source)
    states = [src.timeline(t.id).status_at(src.end) for t in src.tickets.values() if src.in_range(t.created)]
    counted = [s for s in states if s not in ("cancelled", "merged")]
    done = sum(s in ("resolved", "closed") for s in counted)
    return {"created": len(counted), "resolved": done, "rate": rate(done, len(counted))}


def reopen_rate(db: sqlite_utils.Database, flt: MetricFilter, calendar: BusinessCalendar,
                source: MetricSource | None = None) -> dict[str, Any]:
    """Of tickets resolved at least once in the range, those reopened after that resolution
    (at any later time)."""
    src = source_for(db, flt, calendar, source)
    resolved = reopened = 0
    for ticket in src.tickets.values():
        events = src.timeline(ticket.id).events
        first = next((e.at for e in events if e.status == "resolved" and src.in_range(e.at)), None)
        if first is None:
            continue
        resolved += 1
        reopened += any(e.status == "reopened" and e.at >= first for e in events)
    return {"resolved": resolved, "reopened": reopened, "rate": rate(reopened, resolved)}


def escalation_rate(db: sqlite_utils.Database, flt: MetricFilter, calendar: BusinessCalendar,
                    source: MetricSource | None = None) -> dict[str, Any]:
    """Of tickets created in the range, those escalated (事件升级) at any time: to second line
    (L1→L2) and to R&D (→RND); imported tickets count by their escalated flag."""
    src = source_for(db, flt, calendar, source)
    created = [t for t in src.tickets.values() if src.in_range(t.created)]
    to_l2 = to_rnd = escalated = 0
    for ticket in created:
        tiers = {e.tier_to for e in src.timeline(ticket.id).events if e.status == "escalated"}
        to_l2 += "L2" in tiers
        to_rnd += "RND" in tiers
        escalated += bool(tiers) or ticket.escalated
    return {"created": len(created), "escalated": escalated, "to_l2": to_l2, "to_rnd": to_rnd,
            "rate": rate(escalated, len(created)), "rate_to_l2": rate(to_l2, len(created)),
            "rate_to_rnd": rate(to_rnd, len(created))}


METRICS: dict[str, Metric] = {
    "volume": ticket_volume,
    "first_response_time": first_response_time,
    "resolution_time": resolution_time,
    "sla_compliance": sla_compliance,
    "sla_breaches": sla_breaches,
    "first_contact_resolution": first_contact_resolution,
    "resolution_rate": resolution_rate,
    "reopen_rate": reopen_rate,
    "escalation_rate": escalation_rate,
    "satisfaction": satisfaction,
    "followups": followup_calls,
    "backlog": backlog,
    "waiting_time": waiting_time,
    "deflection": deflection,
    "engineers": engineer_performance,
    "faults": fault_statistics,
}


def compute_all(db: sqlite_utils.Database, flt: MetricFilter, calendar: BusinessCalendar) -> dict[str, Any]:
    """Every metric for one filter, from one read of the data; validates the filter first."""
    validate_filter(db, flt)
    src = MetricSource(db, flt, calendar)
    figures = {name: metric(db, flt, calendar, src) for name, metric in METRICS.items()}
    return {"filter": {**flt.describe(), "timezone": calendar.timezone}, **figures,
            "notable": notable_tickets(db, flt, calendar, src)}


def metric_rows(results: dict[str, Any]) -> list[tuple[str, str, Any]]:
    """Flatten computed metrics into (metric, figure, value) rows: one row per figure (CSV export)."""
    rows: list[tuple[str, str, Any]] = []
    for name, value in results.items():
        if name not in ("filter", "notable"):
            rows += [(name, path, leaf) for path, leaf in _leaves(value, "")]
    return rows


def _leaves(value: Any, path: str) -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        return [leaf for key, item in value.items() for leaf in _leaves(item, _join(path, str(key)))]
    if isinstance(value, list):
        return [leaf for index, item in enumerate(value)
                for leaf in _leaves(_without_key(item), _join(path, _key(item, index)))]
    return [(path, value)]


_ITEM_KEYS = ("engineer", "value", "slug", "number")


def _key(item: Any, index: int) -> str:
    """A list item's name in a figure path: its engineer, value, slug or number, else its position."""
    if isinstance(item, dict):
        for name in _ITEM_KEYS:
            if item.get(name) is not None:
                return str(item[name])
    return str(index)


def _without_key(item: Any) -> Any:
    if not isinstance(item, dict):
        return item
    named = next((name for name in _ITEM_KEYS if item.get(name) is not None), None)
    return {k: v for k, v in item.items() if k != named}


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def csv_text(results: dict[str, Any]) -> str:
    """CSV of computed metrics: header metric,figure,value; the filter first, then one row per figure."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["metric", "figure", "value"])
    writer.writerows(("filter", key, "" if value is None else value) for key, value in results["filter"].items())
    writer.writerows((metric, figure, "" if value is None else value) for metric, figure, value in metric_rows(results))
    return buffer.getvalue()
