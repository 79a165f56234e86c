"""Importing resolved tickets from JSONL and CSV: validation, all-or-nothing, numbering."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kb.db import Database
from kb.errors import InvalidInput
from kb.importing import import_ticket_file
from kb.tickets import next_number
from tests.conftest import FIXTURES


def _count(database: Database, table: str) -> int:
    return database.read(lambda db: db.table(table).count)


def test_jsonl_import_writes_tickets_events_and_outbox(database: Database) -> None:
    report = import_ticket_file(database, FIXTURES / "tickets.jsonl", "test", "CW")
    assert report.created == 5
    assert _count(database, "tickets") == 5
    assert _count(database, "audit_events") == 5
    assert _count(database, "outbox") == 5
    numbers = database.read(lambda db: [r[0] for r in db.execute("SELECT number FROM tickets ORDER BY id")])
    assert numbers[0] == "CW-20261005-0001"


def test_reimport_adds_nothing(database: Database) -> None:
    import_ticket_file(database, FIXTURES / "tickets.jsonl", "test", "CW")
    report = import_ticket_file(database, FIXTURES / "tickets.jsonl", "test", "CW")
    assert (report.created, report.skipped_existing) == (0, 5)
    assert _count(database, "tickets") == 5


def test_numbers_follow_a_daily_sequence_and_are_never_reused(database: Database) -> None:
    numbers = database.write(lambda db: [next_number(db, "CW", "2026-11-23T10:00:00+08:00") for _ in range(3)])
    assert numbers == ["CW-20261123-0001", "CW-20261123-0002", "CW-20261123-0003"]
    database.write(lambda db: db.execute("DELETE FROM tickets"))
    assert database.write(lambda db: next_number(db, "CW", "2026-11-23T12:00:00Z")) == "CW-20261123-0004"


def test_csv_import(database: Database, tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text(
        "title,description,resolution,priority,error_codes,escalated\n"
        "VPN 掉线,每小时断一次,更新客户端到 5.2,high,SL-809;812,true\n", encoding="utf-8")
    assert import_ticket_file(database, path, "test", "CW").created == 1
    row = database.read(lambda db: dict(db.execute("SELECT * FROM tickets").fetchone()))
    assert (row["priority"], json.loads(row["error_codes"]), row["escalated"]) == ("high", ["SL-809", "812"], 1)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("bad.jsonl", '{"title": "ok", "resolution": "x"}\n{"title": broken\n', "line 2: malformed JSON"),
        ("unknown.jsonl", '{"title": "a", "resolution": "b", "colour": "red"}\n', "unknown field(s) colour"),
        ("noresolution.jsonl", '{"title": "a"}\n', "'resolution' is required"),
        ("badprio.jsonl", '{"title": "a", "resolution": "b", "priority": "asap"}\n', "allowed: urgent"),
        ("badtime.jsonl", '{"title": "a", "resolution": "b", "created_at": "yesterday"}\n', "not an ISO 8601"),
        ("cols.csv", "title,body\nx,y\n", "missing column(s) description, resolution"),
        ("empty.jsonl", "\n", "holds no tickets"),
        ("ticket.txt", "x", "unsupported file type"),
        ("list.jsonl", "[1, 2]\n", "expected an object"),
    ],
)
def test_bad_files_are_refused_and_write_nothing(
    database: Database, tmp_path: Path, name: str, content: str, message: str
) -> None:
    import_ticket_file(database, FIXTURES / "tickets.jsonl", "test", "CW")
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InvalidInput) as error:
        import_ticket_file(database, path, "test", "CW")
    assert message in str(error.value)
    assert _count(database, "tickets") == 5


def test_invalid_utf8_is_refused(database: Database, tmp_path: Path) -> None:
    path = tmp_path / "latin1.jsonl"
    path.write_bytes('{"title": "caf\u00e9", "resolution": "x"}\n'.encode("latin-1"))
    with pytest.raises(InvalidInput, match="not valid UTF-8"):
        import_ticket_file(database, path, "test", "CW")
    assert _count(database, "tickets") == 0


def test_one_bad_line_among_good_ones_writes_nothing(database: Database, tmp_path: Path) -> None:
    good = (FIXTURES / "tickets.jsonl").read_text(encoding="utf-8")
    path = tmp_path / "mixed.jsonl"
    path.write_text(good + '{"title": "", "resolution": "x"}\n', encoding="utf-8")
    with pytest.raises(InvalidInput, match="line 6: 'title' is empty"):
        import_ticket_file(database, path, "test", "CW")
    assert _count(database, "tickets") == 0
