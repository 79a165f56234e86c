"""Who may see which ticket. Every ticket read for a person goes through here, so no route can forget it.

- `tickets.read.all` (managers, admins): every ticket.
- everyone: the tickets they raised or that name them as requester.
- `tickets.read.organisation` (optional for requesters): their organisation's tickets.
- `tickets.read.team` (agents, senior agents, R&D): their team's tickets, those assigned to them and
  those they have worked on (an L1 engineer keeps sight of a ticket they escalated or re-routed).
- `tickets.read.resolved` (support staff, KB authors and reviewers): resolved and closed tickets,
  the team's shared knowledge (they are what suggestions show).
Anything else is "not found", so nobody learns that a ticket exists.
"""

from __future__ import annotations

from typing import Any

import sqlite_utils

from kb.errors import NotFound
from kb.ticket_changes import load_ticket
from kb.visibility import Viewer

RESOLVED = ("resolved", "closed")


def can_see(ticket: dict[str, Any], viewer: Viewer) -> bool:
    """Whether the viewer may see this ticket at all."""
    if viewer.can("tickets.read.all"):
        return True
    if viewer.name in (ticket.get("requester"), ticket.get("created_by")):
        return True
    if viewer.can("tickets.read.organisation") and viewer.organisation and \
            ticket.get("organisation") == viewer.organisation:
        return True
    if viewer.can("tickets.read.team") and (ticket.get("team") in viewer.teams or ticket.get("assignee") == viewer.name):
        return True
    return viewer.can("tickets.read.resolved") and ticket.get("status") in RESOLVED


def visible_ticket(db: sqlite_utils.Database, ticket_id: int, viewer: Viewer) -> dict[str, Any]:
    """The ticket if the viewer may see it; NotFound otherwise (not 'forbidden': no existence leak)."""
    try:
        ticket = load_ticket(db, ticket_id)
    except NotFound:
        raise NotFound(f"ticket {ticket_id} does not exist") from None
    if not (can_see(ticket, viewer) or _worked_on(db, ticket_id, viewer)):
        raise NotFound(f"ticket {ticket_id} does not exist")
    return ticket


def _worked_on(db: sqlite_utils.Database, ticket_id: int, viewer: Viewer) -> bool:
    if not viewer.can("tickets.read.team"):
        return False
    return db.execute("SELECT 1 FROM audit_events WHERE actor = ? AND entity_type = 'ticket' AND entity_id = ?"
                      " LIMIT 1", [viewer.name, ticket_id]).fetchone() is not None


def visibility_clause(viewer: Viewer) -> tuple[str, list[Any]]:
    """SQL condition and parameters equal to `can_see`, for lists."""
    if viewer.can("tickets.read.all"):
        return "1 = 1", []
    parts, params = ["requester = ?", "created_by = ?"], [viewer.name, viewer.name]
    if viewer.can("tickets.read.organisation") and viewer.organisation:
        parts.append("organisation = ?")
        params.append(viewer.organisation)
    if viewer.can("tickets.read.team"):
        marks = ",".join("?" * len(viewer.teams))
        parts.append(f"(team IN ({marks}) OR assignee = ?)" if viewer.teams else "assignee = ?")
        parts.append("id IN (SELECT entity_id FROM audit_events WHERE actor = ? AND entity_type = 'ticket')")
        params += [*viewer.teams, viewer.name, viewer.name]
    if viewer.can("tickets.read.resolved"):
        parts.append("status IN ('resolved', 'closed')")
    return "(" + " OR ".join(parts) + ")", params
