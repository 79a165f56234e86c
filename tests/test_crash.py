"""Crash safety: SIGKILL during concurrent ticket writes and during index saves, round after round.

Acknowledged means committed: the child prints a line only after COMMIT returned (the API
answers only after that too). After every kill the database must hold every acknowledged
write and pass `PRAGMA integrity_check`; the index must load (or rebuild) and match the database.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from indexer.index import SearchIndex, verify_saved
from kb.audit import events_for, replay
from kb.db import Database
from kb.ticket_changes import encode

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent
WRITE_ROUNDS = 50
INDEX_ROUNDS = 30


def _child(mode: str, target: Path) -> subprocess.Popen:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "tests.crash_child", mode, str(target)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def _read_until_killed(child: subprocess.Popen, kill_after: float, wanted: str) -> list[str]:
    """Collect the child's acknowledgements; SIGKILL it `kill_after` seconds after the first one."""
    lines: list[str] = []
    first = threading.Event()

    def reader() -> None:
        for line in child.stdout:
            if line.startswith(wanted):
                lines.append(line.split()[1:])
                first.set()

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    assert first.wait(120), "the child never acknowledged anything"
    time.sleep(kill_after)
    child.send_signal(signal.SIGKILL)
    child.wait()
    thread.join(timeout=10)
    return lines


def test_kill_9_during_concurrent_ticket_writes_loses_no_acknowledged_write(tmp_path: Path) -> None:
    path = tmp_path / "casewise.db"
    rng = random.Random(7)
    acknowledged: dict[str, str] = {}
    for _ in range(WRITE_ROUNDS):
        acks = _read_until_killed(_child("writes", path), rng.uniform(0.05, 0.6), "ACK")
        acknowledged.update({number: status for number, status in acks if status != "new" or number not in
                             acknowledged})
        database = Database(path)
        try:
            assert database.integrity_check() == "ok"
            stored = dict(database.read(lambda db: db.execute("SELECT number, status FROM tickets").fetchall()))
        finally:
            database.close()
        lost = [n for n, status in acknowledged.items() if n not in stored or (status != "new" and stored[n] != status)]
        assert not lost, f"acknowledged writes lost: {lost[:5]}"
    database = Database(path)
    try:
        rows = database.read(lambda db: [dict(r) for r in db.execute("SELECT * FROM tickets ORDER BY random() LIMIT 50")])
        for row in rows:
            replayed = encode(replay(database.read(lambda db, i=row["id"]: events_for(db, "ticket", i))))
            assert {k: replayed.get(k) for k in row if k != "id"} == {k: v for k, v in row.items() if k != "id"}
    finally:
        database.close()
    print(f"\n{WRITE_ROUNDS} kill -9 rounds during writes: {len(acknowledged)} acknowledged tickets, 0 lost, "
          "integrity ok every round")


def test_kill_9_during_index_saves_always_loads_and_matches(tmp_path: Path, embedder) -> None:
    rng = random.Random(11)
    for _ in range(INDEX_ROUNDS):
        _read_until_killed(_child("indexes", tmp_path), rng.uniform(0.0, 1.5), "SAVED")
        database = Database(tmp_path / "casewise.db")
        try:
            assert database.integrity_check() == "ok"
            SearchIndex.open(database, embedder, tmp_path / "index")
            drift, _ = verify_saved(database, tmp_path / "index")
            assert drift.healthy, drift
        finally:
            database.close()
    print(f"\n{INDEX_ROUNDS} kill -9 rounds during index saves: index loaded and matched the database every round")
