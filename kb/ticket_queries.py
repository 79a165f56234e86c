"""Reading tickets for people: filtered, paged lists and the fields each role may see."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlite_utils

from kb.audit import events_for
from kb.lifecycle import allowed_moves
from kb.lifecycle_defaults import OPEN_STATES
from kb.ticket_access import visibility_clause, visible_ticket
from kb.ticket_changes import decode
from kb.visibility import Viewer

# Internal working fields a requester never sees on their own ticket.
STAFF_ONLY_FIELDS = ("priority_reason", "escalation_reason", "rnd_request", "shown_suggestions", "tier",
                     "sla_paused_minutes", "sla_paused_since", "external_ref")


@dataclass(frozen=True)
class TicketFilter:
    """List filters; None means any."""

    status: str | None = None
    team: str | None = None
    assignee: str | None = None
    breached: bool | None = None
    q: str | None = None
    open_only: bool = False
    unassigned: bool = False
    at_risk: bool = False
    by_due: bool = False


def for_viewer(ticket: dict[str, Any], viewer: Viewer) -> dict[str, Any]:
    """The ticket with the fields the viewer may see."""
    if viewer.is_staff:
        return ticket
    return {k: v for k, v in ticket.items() if k not in STAFF_ONLY_FIELDS}


def ticket_for(db: sqlite_utils.Database, ticket_id: int, viewer: Viewer) -> dict[str, Any]:
    """One ticket as the viewer may see it, with the moves the viewer may make."""
    ticket = visible_ticket(db, ticket_id, viewer)
    moves = [m.to_status for m in allowed_moves(db, ticket["status"], viewer.role)]
    return {**for_viewer(ticket, viewer), "allowed_moves": moves}


def list_tickets(db: sqlite_utils.Database, viewer: Viewer, filters: TicketFilter, page: int,
                 page_size: int) -> tuple[list[dict[str, Any]], int]:
    """One page of the tickets the viewer may see, newest first, and the total count."""
    where, params = _where(viewer, filters)
    total = db.execute(f"SELECT COUNT(*) FROM tickets WHERE {where}", params).fetchone()[0]
    order = "resolution_due_at IS NULL, resolution_due_at, id" if filters.by_due else "created_at DESC, id DESC"
    rows = db.execute(f"SELECT * FROM tickets WHERE {where} ORDER BY {order} LIMIT ? OFFSET ?",
                      [*params, page_size, (page - 1) * page_size]).fetchall()
    return [for_viewer(decode(dict(r)), viewer) for r in rows], total


def _where(viewer: Viewer, filters: TicketFilter) -> tuple[str, list[Any]]:
    clause, params = visibility_clause(viewer)
    parts = [clause]
    for column in ("status", "team", "assignee"):
        value = getattr(filters, column)
        if value:
            parts.append(f"{column} = ?")
            params.append(value)
    if filters.breached is not None:
        breached = "(response_sla = 'breached' OR resolution_sla = 'breached')"
        parts.append(breached if filters.breached else f"NOT {breached}")
    if filters.open_only:
        parts.append(f"status IN ({','.join(repr(s) for s in OPEN_STATES)})")
    if filters.unassigned:
        parts.append("assignee IS NULL")
    if filters.at_risk:
        parts.append("(response_sla IN ('warning', 'breached') AND first_response_at IS NULL"
                     " OR resolution_sla IN ('warning', 'breached'))")
    if filters.q:
        parts.append("(number LIKE ? ESCAPE '\\' OR title LIKE ? ESCAPE '\\' OR description LIKE ? ESCAPE '\\')")
        params += [f"%{_escape_like(filters.q)}%"] * 3
    return " AND ".join(parts), params


def _escape_like(text: str) -> str:
    """User text is matched literally: LIKE wildcards become plain characters."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def timeline_for(db: sqlite_utils.Database, ticket_id: int, viewer: Viewer) -> list[dict[str, Any]]:
    """The ticket's audit events the viewer may see (requesters: no internal notes or staff-only fields)."""
    visible_ticket(db, ticket_id, viewer)
    events = events_for(db, "ticket", ticket_id)
    if viewer.is_staff:
        return events
    shown = [e for e in events if e["data"].get("visibility") != "internal"]
    for event in shown:
        event["changes"] = {k: v for k, v in event["changes"].items() if k not in STAFF_ONLY_FIELDS}
        event["data"] = {k: v for k, v in event["data"].items() if k in ("from", "to", "visibility", "comment_id")}
    return shown
