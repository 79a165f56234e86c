"""The append-only audit trail; every change writes its event in the same transaction."""

from __future__ import annotations

import json
from typing import Any

import sqlite_utils

from kb.clock import now_iso


def record_event(
    db: sqlite_utils.Database,
    entity_type: str,
    entity_id: int,
    action: str,
    actor: str,
    changes: dict[str, Any],
    at: str | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    """Append one event; `changes` maps field -> [old, new], `data` holds what is not a field."""
    db.execute(
        "INSERT INTO audit_events (entity_type, entity_id, action, actor, at, changes, data)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        [entity_type, entity_id, action, actor, at or now_iso(), json.dumps(changes, ensure_ascii=False),
         json.dumps(data or {}, ensure_ascii=False)],
    )


def events_for(db: sqlite_utils.Database, entity_type: str, entity_id: int) -> list[dict[str, Any]]:
    """The entity's events, oldest first."""
    rows = db.execute(
        "SELECT id, action, actor, at, changes, data FROM audit_events"
        " WHERE entity_type = ? AND entity_id = ? ORDER BY id",
        [entity_type, entity_id],
    ).fetchall()
    return [{**dict(row), "changes": json.loads(row["changes"]), "data": json.loads(row["data"])}
            for row in rows]


def replay(events: list[dict[str, Any]]) -> dict[str, Any]:
    """Rebuild an entity's fields by applying each event's new values in order."""
    state: dict[str, Any] = {}
    for event in events:
        for field, (_, new) in event["changes"].items():
            state[field] = new
    return state
