"""Who may see which ticket. Every ticket read for a person goes through here, so no route can forget it."""

from __future__ import annotations

from typing import Any

import sqlite_utils

from kb.errors import NotFound
from kb.ticket_changes import load_ticket
from kb.visibility import Viewer


def can_see(ticket: dict[str, Any], viewer: Viewer) -> bool:
    """Staff see every ticket; a requester sees only the tickets they raised."""
    if viewer.is_staff or viewer.role == "system":
        return True
    return viewer.name in (ticket.get("requester"), ticket.get("created_by"))


def visible_ticket(db: sqlite_utils.Database, ticket_id: int, viewer: Viewer) -> dict[str, Any]:
    """The ticket if the viewer may see it; NotFound otherwise (not 'forbidden': no existence leak)."""
    try:
        ticket = load_ticket(db, ticket_id)
    except NotFound:
        raise NotFound(f"ticket {ticket_id} does not exist") from None
    if not can_see(ticket, viewer):
        raise NotFound(f"ticket {ticket_id} does not exist")
    return ticket


def visibility_clause(viewer: Viewer) -> tuple[str, list[Any]]:
    """SQL condition and parameters limiting a ticket query to what the viewer may see."""
    if viewer.is_staff or viewer.role == "system":
        return "1 = 1", []
    return "(requester = ? OR created_by = ?)", [viewer.name, viewer.name]
