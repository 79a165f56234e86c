"""SQLite access: one serialised writer, read-only readers per thread.

Writes are functions that receive the writer's `sqlite_utils.Database` inside
one `BEGIN IMMEDIATE` transaction; a write is acknowledged only after COMMIT.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import sqlite_utils

from kb.migrations import MIGRATIONS

T = TypeVar("T")

BUSY_TIMEOUT_MS = 10_000


def _connect(path: Path, read_only: bool) -> sqlite3.Connection:
    if read_only:
        conn = sqlite3.connect(
            f"file:{path}?mode=ro", uri=True, check_same_thread=False, isolation_level=None
        )
    else:
        conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    conn.row_factory = sqlite3.Row
    return conn


class Database:
    """The Casewise database file: migrations, one writer, per-thread readers."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = sqlite_utils.Database(_connect(self.path, read_only=False))
        self._write_lock = threading.RLock()
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self.migrate()

    def migrate(self) -> list[str]:
        """Apply pending numbered migrations; returns the names applied."""
        with self._write_lock:
            pending = [m.name for m in MIGRATIONS.pending(self._writer)]
            MIGRATIONS.apply(self._writer)
            return pending

    def write(self, fn: Callable[[sqlite_utils.Database], T]) -> T:
        """Run `fn` in one immediate transaction on the single writer connection."""
        with self._write_lock:
            conn = self._writer.conn
            if conn.in_transaction:  # nested write: a savepoint inside the outer one
                with self._writer.atomic():
                    return fn(self._writer)
            conn.execute("BEGIN IMMEDIATE")
            try:
                with self._writer.atomic():
                    result = fn(self._writer)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            return result

    def read(self, fn: Callable[[sqlite_utils.Database], T]) -> T:
        """Run `fn` with this thread's read-only connection, in one snapshot."""
        reader = self._reader()
        reader.conn.execute("BEGIN")
        try:
            return fn(reader)
        finally:
            reader.conn.execute("COMMIT")

    def _reader(self) -> sqlite_utils.Database:
        reader = getattr(self._local, "reader", None)
        if reader is None:
            conn = _connect(self.path, read_only=True)
            with self._readers_lock:
                self._readers.append(conn)
            reader = sqlite_utils.Database(conn)
            self._local.reader = reader
        return reader

    def identity(self) -> str:
        """A random id set when the database was created; an index records it to know its source."""
        return self.read(
            lambda db: db.execute("SELECT value FROM index_state WHERE key = 'database_id'").fetchone()[0]
        )

    def integrity_check(self) -> str:
        """`PRAGMA integrity_check` result ('ok' when healthy)."""
        return self.read(lambda db: db.execute("PRAGMA integrity_check").fetchone()[0])

    def backup_to(self, target: Path) -> None:
        """Write a consistent online copy of the database to `target`."""
        dest = sqlite3.connect(str(target))
        try:
            with self._write_lock:
                self._writer.conn.backup(dest)
        finally:
            dest.close()

    def close(self) -> None:
        """Close every connection this object opened."""
        with self._readers_lock:
            for conn in self._readers:
                conn.close()
            self._readers.clear()
        self._local = threading.local()
        self._writer.conn.close()
