"""What support metrics are computed from: the filtered tickets and their audit trail.

`MetricSource` reads, once, the ticket columns and the audit events the metrics need and turns
each ticket's events into a timeline of states (with the assignee and waiting reason of each
stretch). Every metric in `kb.metrics` is a function of a source, so a figure shown on the
dashboard, in the CSV export, in the weekly report and in the notebook is the same number.

Filters: the date range is applied by each metric (its docstring says to which moment);
product, category, priority and channel match the ticket's current values; team and engineer
match tickets the team or engineer held at any point (from the audit trail). Tickets that cannot
touch the range (created after it, or finished and unchanged before it) are not read at all.
Times are POSIX seconds, converted from the stored ISO 8601 text by SQLite.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

import sqlite_utils

from kb.calendar import BusinessCalendar
from kb.desk import iso
from kb.errors import InvalidInput
from kb.lifecycle_defaults import OPEN_STATES
from kb.metrics_time import BusinessClock
from kb.metrics_timeline import Event, TicketFacts, Timeline
from kb.tickets import CHANNELS, PRIORITIES

# The longest range a metric request may cover.
MAX_RANGE_DAYS = 3 * 366
# Only these events change a ticket's state, owner, team or SLA fields (the rest are not read).
TIMELINE_ACTIONS = ("created", "imported", "triaged", "transition", "sla_check", "commented")


@dataclass(frozen=True)
class MetricFilter:
    """Which tickets and which period a metric covers: [start, end), None means any."""

    start: datetime
    end: datetime
    team: str | None = None
    engineer: str | None = None
    product: str | None = None
    category: str | None = None
    priority: str | None = None
    channel: str | None = None

    def describe(self) -> dict[str, Any]:
        """The filter as plain data (times as UTC ISO 8601)."""
        return {"start": iso(self.start), "end": iso(self.end), "team": self.team, "engineer": self.engineer,
                "product": self.product, "category": self.category, "priority": self.priority,
                "channel": self.channel}


def validate_filter(db: sqlite_utils.Database, flt: MetricFilter) -> None:
    """Raise InvalidInput naming every problem: bad range, unknown priority, channel, team or engineer."""
    problems = []
    if flt.start.tzinfo is None or flt.end.tzinfo is None:
        problems.append("start and end must carry a timezone")
    elif flt.end <= flt.start:
        problems.append(f"the range is empty: end {iso(flt.end)} is not after start {iso(flt.start)}")
    elif (flt.end - flt.start).days > MAX_RANGE_DAYS:
        problems.append(f"the range covers {(flt.end - flt.start).days} days; the limit is {MAX_RANGE_DAYS}")
    if flt.priority is not None and flt.priority not in PRIORITIES:
        problems.append(f"priority is {flt.priority!r}; allowed: {', '.join(PRIORITIES)}")
    if flt.channel is not None and flt.channel not in CHANNELS:
        problems.append(f"channel is {flt.channel!r}; allowed: {', '.join(CHANNELS)}")
    problems += _unknown(db, "team", flt.team, "SELECT name FROM teams ORDER BY name")
    problems += _unknown(db, "engineer", flt.engineer, "SELECT username FROM members ORDER BY username")
    if problems:
        raise InvalidInput("the metric filter has invalid values", problems)


def _unknown(db: sqlite_utils.Database, name: str, value: str | None, query: str) -> list[str]:
    if value is None:
        return []
    known = [r[0] for r in db.execute(query)]
    return [] if value in known else [f"{name} {value!r} does not exist; known: {', '.join(known) or 'none'}"]


class MetricSource:
    """The filtered tickets and their timelines, read once from one database snapshot."""

    def __init__(self, db: sqlite_utils.Database, flt: MetricFilter, calendar: BusinessCalendar) -> None:
        self.db = db
        self.filter = flt
        self.calendar = calendar
        self.clock = BusinessClock(calendar)
        self.start = flt.start.timestamp()
        self.end = flt.end.timestamp()
        self._memo: dict[str, Any] = {}

    def in_range(self, moment: float | None) -> bool:
        """Whether a moment falls in [start, end)."""
        return moment is not None and self.start <= moment < self.end

    @cached_property
    def _candidates(self) -> dict[int, TicketFacts]:
        return _load_tickets(self.db, self.filter)

    @cached_property
    def tickets(self) -> dict[int, TicketFacts]:
        """Tickets matching the filter that can matter to its range, by id."""
        if self.filter.team is None and self.filter.engineer is None:
            return self._candidates
        return {tid: t for tid, t in self._candidates.items()
                if _held_by(self.timelines.get(tid), t, self.filter)}

    @cached_property
    def timelines(self) -> dict[int, Timeline]:
        """Timelines by ticket id (every filtered ticket has one; extra ids may be present)."""
        return _load_timelines(self.db, self.filter, self._candidates)

    @cached_property
    def surveys(self) -> dict[int, tuple[int, float]]:
        """Satisfaction (score, when) of filtered tickets; imported scores count at closing (or resolution)."""
        found = {r[0]: (r[1], r[2] or 0.0) for r in self.db.execute(
            f"SELECT ticket_id, score, {_epoch('created_at')} FROM surveys") if r[0] in self.tickets}
        for ticket in self.tickets.values():
            imported = ticket.satisfaction and ticket.id not in found and self.timeline(ticket.id).imported
            when = ticket.closed or ticket.resolved
            if imported and when is not None:
                found[ticket.id] = (ticket.satisfaction, when)
        return found

    @cached_property
    def followups(self) -> list[tuple[int, float, float | None, float]]:
        """Follow-up calls of filtered tickets: (ticket id, due, done or None, scheduled)."""
        rows = self.db.execute(f"SELECT ticket_id, {_epoch('due_at')}, {_epoch('done_at')}, {_epoch('created_at')}"
                               " FROM followups")
        return [(r[0], r[1] or 0.0, r[2], r[3] or 0.0) for r in rows if r[0] in self.tickets]

    def memo(self, key: str, compute: Any) -> Any:
        """A value derived from the source, computed once and shared by the metrics that need it."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    def has_table(self, name: str) -> bool:
        """Whether the database has this table (optional tables of later migrations)."""
        return self.db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                               [name]).fetchone() is not None

    def timeline(self, ticket_id: int) -> Timeline:
        """One ticket's timeline (empty when it has no events)."""
        return self.timelines.get(ticket_id) or Timeline()

    def business_minutes(self, start: float, end: float) -> float:
        """Open minutes of the calendar in [start, end)."""
        return self.clock.minutes(start, end)


def source_for(db: sqlite_utils.Database, flt: MetricFilter, calendar: BusinessCalendar,
               source: MetricSource | None = None) -> MetricSource:
    """The given source, or a new one over this connection."""
    return source or MetricSource(db, flt, calendar)


def _held_by(timeline: Timeline | None, ticket: TicketFacts, flt: MetricFilter) -> bool:
    teams, people = timeline.holders() if timeline else (set(), set())
    teams.add(ticket.team or "")
    people.add(ticket.assignee or "")
    return (flt.team is None or flt.team in teams) and (flt.engineer is None or flt.engineer in people)


def _epoch(column: str) -> str:
    """SQL for a stored ISO 8601 time as POSIX seconds (any offset; NULL stays NULL)."""
    return f"CAST(strftime('%s', {column}) AS INTEGER)"


_TICKET_COLUMNS = ", ".join([
    "id", "number", "title", "status", "priority", "product", "category", "channel", "team", "assignee", "escalated",
    "reopen_count", *(_epoch(c) for c in ("created_at", "first_response_at", "resolved_at", "closed_at")),
    "response_sla", "resolution_sla", "satisfaction", "error_codes", "shown_suggestions"])
_OPEN = ", ".join(f"'{state}'" for state in OPEN_STATES)
# A ticket matters to a range if it existed before its end and changed after its start, is still
# open, or has a follow-up call not made before the start; the rest cannot touch any figure.
_IN_SCOPE = (f"{_epoch('created_at')} < ? AND ({_epoch('updated_at')} >= ? OR status IN ({_OPEN})"
             f" OR id IN (SELECT ticket_id FROM followups WHERE done_at IS NULL OR {_epoch('done_at')} >= ?))")


def _scope(flt: MetricFilter) -> tuple[str, list[Any]]:
    """SQL condition and parameters selecting the tickets a filter can concern."""
    where, params = [_IN_SCOPE], [flt.end.timestamp(), flt.start.timestamp(), flt.start.timestamp()]
    for column in ("product", "category", "priority", "channel"):
        value = getattr(flt, column)
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    return " AND ".join(where), params


def _load_tickets(db: sqlite_utils.Database, flt: MetricFilter) -> dict[int, TicketFacts]:
    where, params = _scope(flt)
    rows = db.execute(f"SELECT {_TICKET_COLUMNS} FROM tickets WHERE {where}", params)
    return {row[0]: _facts(row) for row in rows}


def _json_list(text: str | None) -> list[Any]:
    value = json.loads(text) if text and text != "[]" else []
    return value if isinstance(value, list) else []


def _facts(row: Any) -> TicketFacts:
    return TicketFacts(
        id=row[0], number=row[1], title=row[2], status=row[3], priority=row[4], product=row[5], category=row[6],
        channel=row[7], team=row[8], assignee=row[9], escalated=bool(row[10]), reopen_count=row[11],
        created=row[12] or 0.0, first_response=row[13], resolved=row[14], closed=row[15],
        response_sla=row[16], resolution_sla=row[17], satisfaction=row[18],
        error_codes=_json_list(row[19]), shown_suggestions=len(_json_list(row[20])))


_MOVES = "action IN ('created', 'imported', 'triaged', 'transition')"
_SLA = "action IN ('sla_check', 'transition', 'commented')"
# JSON is read only where the action can hold the field (the costly part on a million events).
_EVENT_QUERY = f"""
SELECT entity_id, {_epoch('at')}, action,
       CASE WHEN {_MOVES} THEN json_extract(changes, '$.status[1]') END,
       CASE WHEN {_MOVES} THEN json_type(changes, '$.assignee') IS NOT NULL ELSE 0 END,
       CASE WHEN {_MOVES} THEN json_extract(changes, '$.assignee[1]') END,
       CASE WHEN {_MOVES} THEN json_extract(changes, '$.team[1]') END,
       CASE WHEN {_SLA} THEN json_extract(changes, '$.response_sla[1]') END,
       CASE WHEN {_SLA} THEN json_extract(changes, '$.resolution_sla[1]') END,
       CASE WHEN action = 'transition' THEN json_extract(data, '$.waiting_reason') END,
       CASE WHEN action = 'transition' THEN json_extract(data, '$.tier[1]') END
FROM audit_events
WHERE entity_type = 'ticket' AND action IN ({', '.join(repr(a) for a in TIMELINE_ACTIONS)})
  AND entity_id IN (SELECT id FROM tickets WHERE {{where}})
ORDER BY entity_id, id
"""
_IMPORTED_QUERY = f"""
SELECT {', '.join(_epoch(f"json_extract(changes, '$.{c}[1]')") for c in ("created_at", "resolved_at", "closed_at"))}
FROM audit_events WHERE entity_type = 'ticket' AND entity_id = ? AND action = 'imported'
"""


def _load_timelines(db: sqlite_utils.Database, flt: MetricFilter,
                    tickets: dict[int, TicketFacts]) -> dict[int, Timeline]:
    where, params = _scope(flt)
    timelines: dict[int, Timeline] = {}
    current, events = None, []
    for tid, at, action, status, has_assignee, assignee, team, response, resolution, reason, tier in db.execute(
            _EVENT_QUERY.format(where=where), params):
        if tid != current:
            current, events = tid, timelines.setdefault(tid, Timeline()).events
        if action == "imported":
            events.extend(_imported_events(db, tid, status, assignee if has_assignee else None, team))
        else:
            events.append(Event(at, action, status, (assignee,) if has_assignee else None, team, response,
                                resolution, reason, tier))
    return {tid: timeline for tid, timeline in timelines.items() if tid in tickets}


def _imported_events(db: sqlite_utils.Database, ticket_id: int, status: str | None, assignee: str | None,
                     team: str | None) -> list[Event]:
    """An imported ticket's history from its recorded times: new, then resolved, then closed."""
    created, resolved, closed = db.execute(_IMPORTED_QUERY, [ticket_id]).fetchone()
    events = [Event(at=created or 0.0, action="imported", status="new", assignee=(assignee,), team=team)]
    if resolved is not None:
        events.append(Event(at=resolved, action="imported", status="resolved"))
    if closed is not None and status == "closed":
        events.append(Event(at=closed, action="imported", status="closed"))
    return events


def is_first_contact(src: MetricSource, ticket_id: int) -> bool:
    """First-contact resolution of one ticket: resolved by its first assignee, never escalated or reopened."""
    ticket = src.tickets[ticket_id]
    first = src.timeline(ticket_id).first_assignee()
    return first is not None and first == ticket.assignee and not ticket.escalated and ticket.reopen_count == 0


def sla_marks(src: MetricSource, ticket_id: int) -> set[tuple[str, str]]:
    """(target, 'warning' or 'breached') pairs a ticket's events recorded inside the range."""
    return src.memo("sla_marks", lambda: {tid: _marks(src, tid) for tid in src.tickets}).get(ticket_id, set())


def _marks(src: MetricSource, ticket_id: int) -> set[tuple[str, str]]:
    marks: set[tuple[str, str]] = set()
    for event in src.timeline(ticket_id).events:
        if (event.response_sla or event.resolution_sla) and src.in_range(event.at):
            marks.update((t, v) for t, v in (("response", event.response_sla), ("resolution", event.resolution_sla))
                         if v in ("warning", "breached"))
    return marks

