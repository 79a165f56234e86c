"""Child processes for the crash tests; the parent kills them with SIGKILL at random moments.

    python -m tests.crash_child writes DB_PATH      # concurrent ticket writes; prints 'ACK <number>' after COMMIT
    python -m tests.crash_child indexes DATA_DIR    # imports tickets and saves the index again and again
"""

from __future__ import annotations

import os
import sys
import threading
from datetime import UTC, datetime
from itertools import count
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from kb.db import Database  # noqa: E402
from kb.desk import DeskRules  # noqa: E402
from kb.intake import register_ticket  # noqa: E402
from kb.lifecycle import TransitionRequest, transition  # noqa: E402
from kb.visibility import SYSTEM, Viewer  # noqa: E402

WRITERS = 4
_print_lock = threading.Lock()


def _ack(line: str) -> None:
    with _print_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def writes(path: Path) -> None:
    """Threads registering tickets and moving them; each line is printed only after its COMMIT."""
    database = Database(path)
    agent = Viewer("crash.agent", "manager")

    def worker(n: int) -> None:
        for i in count():
            fields = {"title": f"崩溃测试 writer {n} ticket {i}", "impact": "medium", "urgency": "high"}
            ticket = database.write(lambda db: register_ticket(db, fields, agent, DeskRules(), datetime.now(UTC)))
            _ack(f"ACK {ticket['number']} new")
            moved = database.write(lambda db: transition(db, ticket["id"], TransitionRequest(
                to="cancelled", reason="crash test"), agent, DeskRules(), datetime.now(UTC)))
            _ack(f"ACK {moved['number']} {moved['status']}")

    threads = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def indexes(data_dir: Path) -> None:
    """Resolved tickets arrive in batches; each batch is embedded and the index saved (then 'SAVED')."""
    from kb.tickets import import_resolved_tickets
    from service.runtime import open_runtime
    from service.settings import Settings

    # interval 0: every sync writes its files, so the kills land in saves
    runtime = open_runtime(Settings(data_dir=data_dir, english_embedding_model="", chinese_embedding_model="",
                                    index_save_interval_seconds=0))
    for batch in count():
        records = [{"id": f"crash-{os.getpid()}-{batch}-{i}", "title": f"索引崩溃测试 {batch}-{i} 打印机脱机",
                    "resolution": f"重新安装驱动 {i}"} for i in range(40)]
        runtime.database.write(lambda db: import_resolved_tickets(db, records, SYSTEM.name, "CR"))
        runtime.index.sync()
        _ack(f"SAVED {batch}")


if __name__ == "__main__":
    {"writes": writes, "indexes": indexes}[sys.argv[1]](Path(sys.argv[2]))
