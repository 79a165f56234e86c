"""Numbered schema migrations, each applied in its own transaction."""

from __future__ import annotations

import sqlite_utils
from sqlite_utils.migrations import Migrations

MIGRATIONS = Migrations("casewise")


def _run_each(db: sqlite_utils.Database, script: str) -> None:
    """Execute statements one by one: `executescript` would COMMIT the migration's transaction."""
    for statement in _split_statements(script):
        db.execute(statement)


def _split_statements(script: str) -> list[str]:
    statements, current = [], []
    for line in script.strip().splitlines():
        current.append(line)
        text = "\n".join(current).strip()
        inside_trigger = text.upper().startswith("CREATE TRIGGER") and not text.upper().endswith("END;")
        if text.endswith(";") and not inside_trigger:
            statements.append(text)
            current = []
    if "".join(current).strip():
        statements.append("\n".join(current))
    return statements


@MIGRATIONS(name="0001_initial")
def m0001_initial(db: sqlite_utils.Database) -> None:
    """Tickets, articles and versions, chunks, the index outbox and the audit trail."""
    _run_each(
        db,
        """
        CREATE TABLE tickets (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            number TEXT NOT NULL UNIQUE,
            external_ref TEXT UNIQUE,
            title TEXT NOT NULL,
            description TEXT NOT NULL DEFAULT '',
            product TEXT,
            module TEXT,
            version TEXT,
            category TEXT,
            problem_type TEXT,
            priority TEXT NOT NULL DEFAULT 'normal',
            impact TEXT,
            urgency TEXT,
            status TEXT NOT NULL DEFAULT 'new',
            channel TEXT,
            requester TEXT,
            contact TEXT,
            organisation TEXT,
            asset_model TEXT,
            asset_serial TEXT,
            error_codes TEXT NOT NULL DEFAULT '[]',
            team TEXT,
            assignee TEXT,
            escalated INTEGER NOT NULL DEFAULT 0,
            onsite_visit INTEGER NOT NULL DEFAULT 0,
            language TEXT,
            resolution TEXT,
            root_cause TEXT,
            satisfaction INTEGER,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            resolved_at TEXT,
            closed_at TEXT
        );
        CREATE INDEX tickets_status ON tickets(status);
        CREATE TABLE ticket_sequences (
            day TEXT PRIMARY KEY,
            last_value INTEGER NOT NULL
        );
        CREATE TABLE articles (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            slug TEXT NOT NULL UNIQUE,
            title TEXT NOT NULL,
            product TEXT,
            category TEXT,
            tags TEXT NOT NULL DEFAULT '[]',
            language TEXT,
            status TEXT NOT NULL DEFAULT 'draft',
            audience TEXT NOT NULL DEFAULT 'public',
            body TEXT NOT NULL,
            current_version INTEGER NOT NULL DEFAULT 1,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE TABLE article_versions (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            article_id INTEGER NOT NULL REFERENCES articles(id),
            version INTEGER NOT NULL,
            title TEXT NOT NULL,
            body TEXT NOT NULL,
            front_matter TEXT NOT NULL DEFAULT '{}',
            created_at TEXT NOT NULL,
            UNIQUE(article_id, version)
        );
        CREATE TABLE chunks (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            kind TEXT NOT NULL CHECK (kind IN ('ticket', 'article')),
            entity_id INTEGER NOT NULL,
            position INTEGER NOT NULL,
            heading_path TEXT NOT NULL DEFAULT '[]',
            anchor TEXT,
            line_start INTEGER,
            line_end INTEGER,
            text TEXT NOT NULL,
            terms TEXT NOT NULL
        );
        CREATE INDEX chunks_entity ON chunks(kind, entity_id);
        CREATE TABLE outbox (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            entity_type TEXT NOT NULL CHECK (entity_type IN ('ticket', 'article')),
            entity_id INTEGER NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE TABLE index_state (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        CREATE TABLE audit_events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            entity_type TEXT NOT NULL,
            entity_id INTEGER NOT NULL,
            action TEXT NOT NULL,
            actor TEXT NOT NULL,
            at TEXT NOT NULL,
            changes TEXT NOT NULL DEFAULT '{}'
        );
        CREATE INDEX audit_entity ON audit_events(entity_type, entity_id);
        CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
        BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
        CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
        BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
        INSERT INTO index_state (key, value) VALUES ('database_id', lower(hex(randomblob(16))));
        """,
    )


@MIGRATIONS(name="0002_chunk_latin_share")
def m0002_chunk_latin_share(db: sqlite_utils.Database) -> None:
    """Share of Latin letters per chunk: only chunks with English text get English-model vectors."""
    db.execute("ALTER TABLE chunks ADD COLUMN latin_share REAL NOT NULL DEFAULT 0")
