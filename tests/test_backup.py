"""Online backup while writes go on, and restore into an instance that serves the same tickets and suggestions."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from indexer.search import suggest
from kb.desk import DeskRules
from kb.errors import Conflict, InvalidInput
from kb.importing import import_article_folder, import_ticket_file
from kb.intake import register_ticket
from kb.visibility import Viewer
from service.backup import backup, restore, server_lock
from service.runtime import open_database, open_runtime
from service.settings import Settings
from tests.conftest import FIXTURES

pytestmark = pytest.mark.slow
AGENT = Viewer("tester", "agent")


def _settings(folder: Path) -> Settings:
    return Settings(data_dir=folder, english_embedding_model="", chinese_embedding_model="")


def test_backup_during_writes_then_restore_serves_the_same(tmp_path: Path, embedder) -> None:
    live = _settings(tmp_path / "live")
    database = open_database(live)
    import_ticket_file(database, FIXTURES / "tickets.jsonl", "test", "CW")
    import_article_folder(database, FIXTURES / "articles", "test")
    stop = threading.Event()

    def keep_writing() -> None:
        while not stop.is_set():
            database.write(lambda db: register_ticket(db, {"title": "写入中 writing"}, AGENT, DeskRules(),
                                                      datetime.now(UTC)))

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        report = backup(live, tmp_path / "backup.db")
    finally:
        stop.set()
        writer.join()
        database.close()
    assert report["integrity_check"] == "ok" and report["tickets"] >= 5

    restored = _settings(tmp_path / "restored")
    restore(restored, tmp_path / "backup.db")
    runtime = open_runtime(restored, embedder_factory=lambda _: embedder, english_factory=lambda _: None)
    try:
        count = runtime.database.read(lambda db: db.execute("SELECT COUNT(*) FROM tickets").fetchone()[0])
        assert count == report["tickets"]
        found = suggest(runtime.index, "打印机无法连接网络", 3, AGENT)
        assert found.cases[0].entity["title"] == "打印机无法连接无线网络"
    finally:
        runtime.close()


def test_restore_refuses_while_a_server_runs_and_rejects_non_backups(tmp_path: Path) -> None:
    settings = _settings(tmp_path / "data")
    (tmp_path / "junk.db").write_bytes(b"not a database at all" * 100)
    with pytest.raises(InvalidInput, match="not a Casewise backup"):
        restore(settings, tmp_path / "junk.db")
    database = open_database(settings)
    database.close()
    backup(settings, tmp_path / "good.db")
    with server_lock(settings), pytest.raises(Conflict, match="already running"):
        restore(settings, tmp_path / "good.db")
    kept = restore(settings, tmp_path / "good.db")["previous_database_kept_as"]
    assert kept and Path(kept).exists()
