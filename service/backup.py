"""Online backup and restore of the database (the index is a cache and is rebuilt after a restore)."""

from __future__ import annotations

import fcntl
import os
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from kb.db import Database
from kb.errors import Conflict, InvalidInput
from service.settings import Settings

SERVER_LOCK = "server.lock"


@contextmanager
def server_lock(settings: Settings) -> Iterator[None]:
    """Held while a server runs on a data folder, so a restore cannot pull the database from under it."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with open(settings.data_dir / SERVER_LOCK, "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Conflict(f"a Casewise server is already running on {settings.data_dir}") from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def backup(settings: Settings, target: Path) -> dict[str, object]:
    """A consistent copy of the live database (safe while the server writes); checked before it is kept."""
    if not settings.database_path.exists():
        raise InvalidInput(f"there is no database at {settings.database_path}; nothing to back up")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    source = sqlite3.connect(f"file:{settings.database_path}?mode=ro", uri=True)
    dest = sqlite3.connect(str(partial))
    try:
        source.backup(dest)  # one step: a single read snapshot, whatever other processes write meanwhile
        report = _describe(dest)
    finally:
        dest.close()
        source.close()
    if report["integrity_check"] != "ok":
        partial.unlink()
        raise InvalidInput(f"the copy failed its integrity check ({report['integrity_check']}); nothing was kept")
    _fsync(partial)
    os.replace(partial, target)
    return {**report, "file": str(target), "bytes": target.stat().st_size}


def restore(settings: Settings, source: Path) -> dict[str, object]:
    """Replace the database with a backup (the current one is kept aside); the index is rebuilt on next start."""
    report = _check_backup(source)
    with server_lock(settings):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        incoming = settings.database_path.with_name("casewise.db.restoring")
        shutil.copyfile(source, incoming)
        _fsync(incoming)
        kept = _set_aside(settings.database_path)
        os.replace(incoming, settings.database_path)
        shutil.rmtree(settings.index_dir, ignore_errors=True)
        Database(settings.database_path).close()  # migrate an older backup forward now
    return {**report, "previous_database_kept_as": str(kept) if kept else None}


def _check_backup(source: Path) -> dict[str, object]:
    if not source.is_file():
        raise InvalidInput(f"{source} is not a file; give a file written by `casewise backup`")
    try:
        conn = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        try:
            report = _describe(conn)
        finally:
            conn.close()
    except sqlite3.DatabaseError as error:
        raise InvalidInput(f"{source} is not a Casewise backup ({error})") from None
    if report["integrity_check"] != "ok":
        raise InvalidInput(f"{source} is damaged: {report['integrity_check']}")
    return report


def _describe(conn: sqlite3.Connection) -> dict[str, object]:
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if "tickets" not in tables or "_sqlite_migrations" not in tables:
        raise InvalidInput("the file is an SQLite database but not a Casewise one (no tickets table)")
    return {"integrity_check": conn.execute("PRAGMA integrity_check").fetchone()[0],
            "tickets": conn.execute("SELECT COUNT(*) FROM tickets").fetchone()[0],
            "articles": conn.execute("SELECT COUNT(*) FROM articles").fetchone()[0],
            "audit_events": conn.execute("SELECT COUNT(*) FROM audit_events").fetchone()[0]}


def _set_aside(database: Path) -> Path | None:
    if not database.exists():
        return None
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    kept = database.with_name(f"casewise.db.before-restore-{stamp}")
    Database(database).close()  # checkpoint the WAL into the file before moving it
    os.replace(database, kept)
    for suffix in ("-wal", "-shm"):
        Path(str(database) + suffix).unlink(missing_ok=True)
    return kept


def _fsync(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())
