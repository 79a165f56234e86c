"""The SQLite layer: migrations, pragmas, transactions, append-only audit."""

from __future__ import annotations

import sqlite3

import pytest

from kb.audit import events_for, record_event
from kb.db import Database


def test_migrations_apply_once_and_set_pragmas(database: Database) -> None:
    assert database.migrate() == []
    pragmas = database.read(lambda db: [
        db.execute("PRAGMA journal_mode").fetchone()[0],
        db.execute("PRAGMA foreign_keys").fetchone()[0],
        db.execute("PRAGMA synchronous").fetchone()[0],
    ])
    assert pragmas == ["wal", 1, 2]  # 2 = FULL
    tables = set(database.read(lambda db: db.table_names()))
    assert {"tickets", "articles", "article_versions", "chunks", "outbox", "audit_events"} <= tables


def test_chunk_ids_use_autoincrement(database: Database) -> None:
    sql = database.read(lambda db: db.execute(
        "SELECT sql FROM sqlite_master WHERE name = 'chunks'").fetchone()[0])
    assert "AUTOINCREMENT" in sql


def test_failed_write_rolls_back_everything(database: Database) -> None:
    def write_then_fail(db):
        record_event(db, "ticket", 1, "created", "test", {})
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        database.write(write_then_fail)
    assert database.read(lambda db: events_for(db, "ticket", 1)) == []


def test_audit_events_are_append_only(database: Database) -> None:
    database.write(lambda db: record_event(db, "ticket", 1, "created", "test", {"title": [None, "x"]}))
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        database.write(lambda db: db.execute("UPDATE audit_events SET actor = 'someone'"))
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        database.write(lambda db: db.execute("DELETE FROM audit_events"))
    assert len(database.read(lambda db: events_for(db, "ticket", 1))) == 1


def test_readers_are_read_only(database: Database) -> None:
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        database.read(lambda db: db.execute("DELETE FROM tickets"))


def test_reopening_keeps_identity(tmp_path) -> None:
    first = Database(tmp_path / "a.db")
    identity = first.identity()
    first.close()
    second = Database(tmp_path / "a.db")
    assert second.identity() == identity
    second.close()


def test_backup_is_a_consistent_copy(database: Database, tmp_path) -> None:
    database.write(lambda db: record_event(db, "ticket", 7, "created", "test", {}))
    database.backup_to(tmp_path / "backup.db")
    copy = Database(tmp_path / "backup.db")
    assert len(copy.read(lambda db: events_for(db, "ticket", 7))) == 1
    assert copy.integrity_check() == "ok"
    copy.close()
