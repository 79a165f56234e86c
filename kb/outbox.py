"""The index outbox: each indexable change enqueues its entity in the same transaction."""

from __future__ import annotations

from dataclasses import dataclass

import sqlite_utils

from kb.clock import now_iso


@dataclass(frozen=True)
class OutboxRow:
    id: int
    entity_type: str
    entity_id: int


def enqueue(db: sqlite_utils.Database, entity_type: str, entity_id: int) -> None:
    """Ask the indexer to (re)index one ticket or article."""
    db.execute(
        "INSERT INTO outbox (entity_type, entity_id, created_at) VALUES (?, ?, ?)",
        [entity_type, entity_id, now_iso()],
    )


def rows_after(db: sqlite_utils.Database, after_id: int, limit: int) -> list[OutboxRow]:
    """Outbox rows with id > `after_id`, oldest first."""
    rows = db.execute(
        "SELECT id, entity_type, entity_id FROM outbox WHERE id > ? ORDER BY id LIMIT ?",
        [after_id, limit],
    ).fetchall()
    return [OutboxRow(*row) for row in rows]


def last_id(db: sqlite_utils.Database) -> int:
    """The newest outbox row id (0 when empty)."""
    return db.execute("SELECT COALESCE(MAX(id), 0) FROM outbox").fetchone()[0]


def get_state(db: sqlite_utils.Database, key: str, default: str) -> str:
    """Read a value from the `index_state` table."""
    row = db.execute("SELECT value FROM index_state WHERE key = ?", [key]).fetchone()
    return row[0] if row else default


def set_state(db: sqlite_utils.Database, key: str, value: str) -> None:
    """Write a value to the `index_state` table."""
    db.execute(
        "INSERT INTO index_state (key, value) VALUES (?, ?)"
        " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        [key, value],
    )
