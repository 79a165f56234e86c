"""The one place a ticket row changes: the row, its audit event and its outbox entry together.

Call these inside a write transaction (`Database.write`), so the change, its event and
its index notice commit or roll back as one.
"""

from __future__ import annotations

import json
from typing import Any

import sqlite_utils

from kb import outbox
from kb.audit import record_event
from kb.errors import NotFound
from kb.visibility import Viewer

# Changes to these fields (or to the status) of a resolved ticket change what the index holds.
INDEXED_FIELDS = {"status", "title", "description", "resolution", "root_cause", "product", "category",
                  "error_codes", "module", "version"}
JSON_FIELDS = ("error_codes", "shown_suggestions")
# Written explicitly on insert so that replaying the events reproduces every column.
COLUMN_DEFAULTS = {"description": "", "escalated": 0, "onsite_visit": 0, "reopen_count": 0, "sla_paused_minutes": 0.0,
                   "error_codes": []}


def load_ticket(db: sqlite_utils.Database, ticket_id: int) -> dict[str, Any]:
    """The stored row (JSON fields decoded); NotFound when there is no such ticket."""
    row = db.execute("SELECT * FROM tickets WHERE id = ?", [ticket_id]).fetchone()
    if row is None:
        raise NotFound(f"ticket {ticket_id} does not exist")
    return decode(dict(row))


def decode(row: dict[str, Any]) -> dict[str, Any]:
    """Turn stored JSON columns into lists."""
    for field in JSON_FIELDS:
        if field in row:
            row[field] = json.loads(row[field]) if row[field] else ([] if field == "error_codes" else None)
    return row


def encode(values: dict[str, Any]) -> dict[str, Any]:
    """Turn list values into the JSON text stored in their columns."""
    return {k: (json.dumps(v, ensure_ascii=False) if k in JSON_FIELDS and v is not None else v)
            for k, v in values.items()}


def insert_ticket(db: sqlite_utils.Database, row: dict[str, Any], actor: Viewer, at: str,
                  data: dict[str, Any] | None = None, action: str = "created") -> int:
    """Insert a new ticket with a `created` event carrying every set field."""
    row = {**COLUMN_DEFAULTS, **row}
    table = db.table("tickets")
    table.insert(encode(row))
    ticket_id = table.last_pk
    changes = {k: [None, v] for k, v in row.items() if v is not None and k != "id"}
    record_event(db, "ticket", ticket_id, action, actor.name, changes, at=at, data=_with_role(data, actor))
    outbox.enqueue(db, "ticket", ticket_id)
    return ticket_id


def change_ticket(db: sqlite_utils.Database, ticket: dict[str, Any], values: dict[str, Any], action: str,
                  actor: Viewer, at: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
    """Apply `values` to the ticket; record old/new of each changed field. Returns the new row."""
    changed = {k: [ticket.get(k), v] for k, v in values.items() if ticket.get(k) != v}
    if changed:
        changed["updated_at"] = [ticket["updated_at"], at]
        new_values = {k: new for k, (_, new) in changed.items()}
        db.table("tickets").update(ticket["id"], encode(new_values))
    record_event(db, "ticket", ticket["id"], action, actor.name, changed, at=at, data=_with_role(data, actor))
    if INDEXED_FIELDS & set(changed):
        outbox.enqueue(db, "ticket", ticket["id"])
    return {**ticket, **{k: new for k, (_, new) in changed.items()}}


def _with_role(data: dict[str, Any] | None, actor: Viewer) -> dict[str, Any]:
    return {**(data or {}), "role": actor.role}
