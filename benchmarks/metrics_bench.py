"""Benchmark: every support metric over the demo history and over a large synthetic desk.

    .venv/bin/python benchmarks/metrics_bench.py [--tickets 100000] [--repeat 3] [--output figures.json]

1. The demo history is played into a fresh database (kb.demo_history, the real lifecycle), then
   `compute_all` runs over its whole range, and once more for its last week.
2. The large desk is made by cloning the played demo history with bulk `INSERT ... SELECT`
   statements, inside SQLite: every ticket row and every one of its audit events, surveys,
   follow-ups and article links is copied with a new id and its times moved by whole quarters
   (13 weeks) plus a few minutes, so each clone keeps the real shape of a lifecycle (states,
   waits, escalations, SLA marks) and the weekday and hour of its events. 100k tickets become
   one year of a large desk. `compute_all` then runs over the whole year and over one week.
Times are wall-clock seconds of one process (the metrics are single-threaded).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kb.db import Database  # noqa: E402
from kb.demo_history import play_demo_history  # noqa: E402
from kb.desk import DeskRules  # noqa: E402
from kb.metrics import compute_all  # noqa: E402
from kb.metrics_data import MetricFilter  # noqa: E402

QUARTER_MINUTES = 13 * 7 * 24 * 60
TIME_COLUMNS = {"created_at", "updated_at", "resolved_at", "closed_at", "first_response_at", "response_due_at",
                "resolution_due_at", "sla_paused_since", "happened_at", "last_service_at"}


def timed(fn: Any, repeat: int) -> tuple[float, Any]:
    """Median seconds over `repeat` runs, and the last result."""
    times, result = [], None
    for _ in range(repeat):
        began = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - began)
    return statistics.median(times), result


def counts(database: Database) -> dict[str, int]:
    """Tickets and ticket events in the database."""
    return database.read(lambda db: {
        "tickets": db.execute("SELECT COUNT(*) FROM tickets").fetchone()[0],
        "events": db.execute("SELECT COUNT(*) FROM audit_events WHERE entity_type = 'ticket'").fetchone()[0]})


def span(database: Database) -> tuple[datetime, datetime]:
    """From the first ticket's creation to a day after the last event."""
    low, high = database.read(lambda db: db.execute(
        "SELECT MIN(created_at), MAX(at) FROM audit_events JOIN tickets ON tickets.id = audit_events.entity_id"
        " WHERE entity_type = 'ticket'").fetchone())
    return datetime.fromisoformat(low), datetime.fromisoformat(high) + timedelta(days=1)


def measure(database: Database, rules: DeskRules, repeat: int) -> dict[str, Any]:
    """compute_all over the whole history and over its last week."""
    start, end = span(database)
    whole = MetricFilter(start=start, end=end)
    week = MetricFilter(start=end - timedelta(days=7), end=end)
    all_seconds, results = timed(lambda: database.read(lambda db: compute_all(db, whole, rules.calendar)), repeat)
    week_seconds, _ = timed(lambda: database.read(lambda db: compute_all(db, week, rules.calendar)), repeat)
    return {**counts(database), "whole_range_seconds": round(all_seconds, 3),
            "last_week_seconds": round(week_seconds, 3), "metrics": len(results) - 2,
            "range": [start.isoformat(), end.isoformat()]}


def _columns(database: Database, table: str) -> list[str]:
    return database.read(lambda db: [r[1] for r in db.execute(f"PRAGMA table_info({table})")])


def _shifted(column: str) -> str:
    return (f"CASE WHEN {column} IS NULL THEN NULL ELSE "
            f"strftime('%Y-%m-%dT%H:%M:%S+00:00', {column}, :shift) END")


def clone_history(database: Database, target: int) -> int:
    """Copy every ticket with its events, surveys, follow-ups and article links until `target` tickets exist."""
    base = counts(database)["tickets"]
    top = database.read(lambda db: db.execute("SELECT MAX(id) FROM tickets").fetchone()[0])
    ticket_cols = _columns(database, "tickets")
    expressions = {c: _shifted(c) for c in ticket_cols if c in TIME_COLUMNS}
    expressions.update(id="id + :offset", number="number || '-' || :copy", external_ref="NULL", merged_into="NULL")
    select = ", ".join(expressions.get(c, c) for c in ticket_cols)
    statements = [
        f"INSERT INTO tickets ({', '.join(ticket_cols)}) SELECT {select} FROM tickets WHERE id <= :top",
        "INSERT INTO audit_events (entity_type, entity_id, action, actor, at, changes, data) SELECT entity_type,"
        f" entity_id + :offset, action, actor, {_shifted('at')}, changes, data FROM audit_events"
        " WHERE entity_type = 'ticket' AND entity_id <= :top",
        f"INSERT INTO surveys SELECT ticket_id + :offset, score, comment, {_shifted('created_at')} FROM surveys"
        " WHERE ticket_id <= :top",
        "INSERT INTO followups (ticket_id, due_at, assignee, done_at, notes, created_at) SELECT ticket_id + :offset,"
        f" {_shifted('due_at')}, assignee, {_shifted('done_at')}, notes, {_shifted('created_at')} FROM followups"
        " WHERE ticket_id <= :top",
        "INSERT INTO ticket_articles SELECT ticket_id + :offset, article_id, relation, "
        f"{_shifted('created_at')} FROM ticket_articles WHERE ticket_id <= :top",
    ]
    copies = -(-target // base) - 1

    def write(db: Any) -> None:
        for copy in range(1, copies + 1):
            minutes = (copy % 4) * QUARTER_MINUTES + copy // 4
            params = {"offset": copy * top, "copy": copy, "top": top, "shift": f"+{minutes} minutes"}
            for statement in statements:
                db.execute(statement, params)

    database.write(write)
    return copies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tickets", type=int, default=100_000, help="size of the synthetic desk")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (median reported)")
    parser.add_argument("--output", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args()
    rules = DeskRules()
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="casewise-metrics-bench-") as folder:
        database = Database(Path(folder) / "casewise.db")
        began = time.perf_counter()
        report = play_demo_history(database, rules)
        played = round(time.perf_counter() - began, 2)
        figures["demo"] = {"play_seconds": played, **measure(database, rules, args.repeat)}
        print(f"demo: {json.dumps(figures['demo'])}", flush=True)
        began = time.perf_counter()
        copies = clone_history(database, args.tickets)
        figures["large"] = {"clone_seconds": round(time.perf_counter() - began, 2), "copies": copies,
                            **measure(database, rules, args.repeat)}
        figures["large"]["max_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        print(f"large: {json.dumps(figures['large'])}", flush=True)
        database.close()
        assert report.played
    if args.output:
        args.output.write_text(json.dumps(figures, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
