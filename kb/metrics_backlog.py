"""Metrics about work in hand and faults: backlog, waiting by delay reason, fault statistics, notable tickets."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import sqlite_utils

from kb.calendar import BusinessCalendar
from kb.lifecycle_defaults import OPEN_STATES, WAITING_REASONS
from kb.metrics_data import MetricFilter, MetricSource, sla_marks, source_for
from kb.metrics_timeline import TicketFacts

DAY = 86_400.0
# Backlog age buckets: (label, lower bound in days); a ticket goes in the last bucket it reaches.
AGE_BUCKETS = (("<1d", 0.0), ("1-3d", 1.0), ("3-7d", 3.0), ("7-14d", 7.0), (">14d", 14.0))
TOP_FAULTS = 10
NOTABLE_LIMIT = 10


def age_bucket(days: float) -> str:
    """The backlog age bucket of a ticket open for this many days."""
    return [label for label, low in AGE_BUCKETS if days >= low][-1]


def open_at_end(src: MetricSource) -> list[tuple[TicketFacts, str]]:
    """Tickets open just before the end of the range, with their state then (computed once per source)."""
    return src.memo("open_at_end", lambda: [
        (ticket, state) for ticket in src.tickets.values() if ticket.created < src.end
        and (state := src.timeline(ticket.id).status_at(src.end)) in OPEN_STATES])


def backlog(db: sqlite_utils.Database, flt: MetricFilter, calendar: BusinessCalendar,
            source: MetricSource | None = None) -> dict[str, Any]:
    """Open tickets at the end of the range (state from the audit trail), by state and by age
    (wall-clock days since creation): <1d, 1-3d, 3-7d, 7-14d, >14d."""
    src = source_for(db, flt, calendar, source)
    found = open_at_end(src)
    by_state = Counter(state for _, state in found)
    by_age = Counter(age_bucket((src.end - t.created) / DAY) for t, _ in found)
    matrix = {state: Counter() for state in OPEN_STATES}
    for ticket, state in found:
        matrix[state][age_bucket((src.end - ticket.created) / DAY)] += 1
    labels = [label for label, _ in AGE_BUCKETS]
    return {"open": len(found), "by_state": {s: by_state[s] for s in OPEN_STATES},
            "by_age": {label: by_age[label] for label in labels},
            "by_state_and_age": {s: {label: matrix[s][label] for label in labels} for s in OPEN_STATES},
            "oldest_days": round(max(((src.end - t.created) / DAY for t, _ in found), default=0.0), 2)}


def waiting_time(db: sqlite_utils.Database, flt: MetricFilter, calendar: BusinessCalendar,
                 source: MetricSource | None = None) -> dict[str, Any]:
    """拖延原因 A–D: per waiting reason, the waits that overlap the range, how many began in it, and
    the waiting time inside the range in wall-clock and business minutes."""
    src = source_for(db, flt, calendar, source)
    figures = {reason: {"waits": 0, "started": 0, "wall_minutes": 0.0, "business_minutes": 0.0}
               for reason in WAITING_REASONS}
    for ticket_id in src.tickets:
        for stretch in src.timeline(ticket_id).stretches:
            if stretch.status != "waiting" or stretch.waiting_reason not in figures:
                continue
            start, end = max(stretch.start, src.start), min(stretch.end, src.end)
            if start >= end:
                continue
            row = figures[stretch.waiting_reason]
            row["waits"] += 1
            row["started"] += src.in_range(stretch.start)
            row["wall_minutes"] += (end - start) / 60.0
            row["business_minutes"] += src.business_minutes(start, end)
    for row in figures.values():
        row["wall_minutes"], row["business_minutes"] = round(row["wall_minutes"], 2), round(row["business_minutes"], 2)
    return figures


def fault_statistics(db: sqlite_utils.Database, flt: MetricFilter, calendar: BusinessCalendar,
                     source: MetricSource | None = None, top: int = TOP_FAULTS) -> dict[str, Any]:
    """故障统计分析: the `top` most frequent categories, products and error codes of tickets created
    in the range (ties by name), each with its count per ISO week (local time) as the trend."""
    src = source_for(db, flt, calendar, source)
    created = [t for t in src.tickets.values() if src.in_range(t.created)]
    weeks = iso_weeks(flt.start, flt.end, calendar)
    week_of = {t.id: _week_label(datetime.fromtimestamp(t.created, calendar.zone)) for t in created}
    dimensions = {
        "categories": [(t.id, t.category or "unknown") for t in created],
        "products": [(t.id, t.product or "unknown") for t in created],
        "error_codes": [(t.id, code) for t in created for code in dict.fromkeys(t.error_codes)],
    }
    return {"weeks": weeks, **{name: _ranked(pairs, week_of, weeks, top) for name, pairs in dimensions.items()}}


def _ranked(pairs: list[tuple[int, str]], week_of: dict[int, str], weeks: list[str],
            top: int) -> list[dict[str, Any]]:
    counts = Counter(value for _, value in pairs)
    per_week = Counter((value, week_of[tid]) for tid, value in pairs)
    return [{"value": value, "count": counts[value], "trend": {w: per_week[(value, w)] for w in weeks}}
            for value in sorted(counts, key=lambda v: (-counts[v], v))[:top]]


def iso_weeks(start: datetime, end: datetime, calendar: BusinessCalendar) -> list[str]:
    """ISO week labels (2026-W47) of the local days in [start, end)."""
    day, last = start.astimezone(calendar.zone).date(), (end.astimezone(calendar.zone) - timedelta(seconds=1)).date()
    labels: list[str] = []
    while day <= last:
        label = _week_label(day)
        if label not in labels:
            labels.append(label)
        day += timedelta(days=1)
    return labels


def _week_label(moment: Any) -> str:
    year, week, _ = moment.isocalendar()
    return f"{year}-W{week:02d}"


def notable_tickets(db: sqlite_utils.Database, flt: MetricFilter, calendar: BusinessCalendar,
                    source: MetricSource | None = None) -> dict[str, list[dict[str, Any]]]:
    """Tickets a manager should look at: SLA breaches recorded in the range, reopens in the range,
    the lowest satisfaction scores given in the range (3 or less) and the oldest open tickets at its end."""
    src = source_for(db, flt, calendar, source)
    breaches, reopens = [], []
    for ticket in src.tickets.values():
        marks = sla_marks(src, ticket.id)
        targets = [t for t in ("response", "resolution") if (t, "breached") in marks]
        if targets:
            breaches.append(_brief(ticket, "breached: " + ", ".join(targets)))
        if any(e.status == "reopened" and src.in_range(e.at) for e in src.timeline(ticket.id).events):
            reopens.append(_brief(ticket, f"reopened ({ticket.reopen_count}×)"))
    low = sorted((score, at, tid) for tid, (score, at) in src.surveys.items() if src.in_range(at) and score <= 3)
    oldest = sorted(open_at_end(src), key=lambda pair: pair[0].created)[:NOTABLE_LIMIT]
    return {
        "breaches": sorted(breaches, key=lambda b: b["number"])[:NOTABLE_LIMIT],
        "reopens": sorted(reopens, key=lambda b: b["number"])[:NOTABLE_LIMIT],
        "lowest_satisfaction": [_brief(src.tickets[tid], f"satisfaction {score}/5")
                                for score, _, tid in low[:NOTABLE_LIMIT]],
        "oldest_open": [_brief(t, f"{state}, {round((src.end - t.created) / DAY, 1)} days") for t, state in oldest],
    }


def _brief(ticket: TicketFacts, why: str) -> dict[str, Any]:
    return {"number": ticket.number, "title": ticket.title, "priority": ticket.priority, "team": ticket.team,
            "assignee": ticket.assignee, "why": why}
