"""`casewise bench mix`: concurrent clients mixing suggest, create and transition against a real server.

Each client signs in with its own API token and, back to back for the given time, asks for
suggestions (half the requests), registers tickets and moves its own tickets along
(assigned → in progress → resolved). Afterwards every acknowledged write is looked up in the
database: a ticket whose creation or move was answered 2xx must be there, in that state.
"""

from __future__ import annotations

import random
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from kb.db import Database
from kb.demo_history import play_demo_history
from kb.users import create_token, create_user
from service.bench import Log, latency_summary, query_set, start_server, stop_server
from service.runtime import desk_rules
from service.settings import Settings

NEXT_MOVE = {"new": "assigned", "assigned": "in_progress", "in_progress": "resolved"}


@dataclass
class ClientLog:
    """What one client saw."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    acknowledged: dict[int, str] = field(default_factory=dict)  # ticket id -> state last acknowledged


def prepare(settings: Settings, clients: int, log: Log) -> list[str]:
    """The demo history (played once) and one manager account with a token per client."""
    database = Database(settings.database_path)
    try:
        if not database.read(lambda db: db.execute("SELECT COUNT(*) FROM tickets").fetchone()[0]):
            log("playing the demo history")
            play_demo_history(database, desk_rules(settings), until=datetime.now(UTC))
        return database.write(lambda db: [_account(db, n) for n in range(clients)])
    finally:
        database.close()


def _account(db: Any, n: int) -> str:
    name = f"load.{n}"
    if not db.execute("SELECT 1 FROM users WHERE username = ?", [name]).fetchone():
        create_user(db, name, f"Load client {n}", "manager", None, datetime.now(UTC))
    return create_token(db, name, "bench mix", datetime.now(UTC))[1]


def client_loop(url: str, token: str, queries: list[str], stop_at: float, seed: int) -> ClientLog:
    """Requests back to back until `stop_at`: 50 % suggest, 25 % create, 25 % move an own ticket."""
    rng, record = random.Random(seed), ClientLog()
    with httpx.Client(base_url=url, timeout=60, headers={"Authorization": f"Bearer {token}"}) as http:
        while time.monotonic() < stop_at:
            roll = rng.random()
            if roll < 0.5:
                _timed(record, "suggest", lambda: http.post("/api/v1/suggest", json={"title": rng.choice(queries)}))
            elif roll < 0.75 or not _movable(record):
                _create(http, record, rng.choice(queries))
            else:
                _advance(http, record, rng)
    return record


def _timed(record: ClientLog, kind: str, call) -> httpx.Response | None:
    started = time.perf_counter()
    try:
        response = call()
    except httpx.HTTPError:
        record.statuses[0] += 1
        return None
    record.latencies[kind].append((time.perf_counter() - started) * 1000)
    record.statuses[response.status_code] += 1
    return response


def _create(http: httpx.Client, record: ClientLog, text: str) -> None:
    body = {"title": text[:200], "description": "bench mix", "product": "printer"}
    response = _timed(record, "create", lambda: http.post("/api/v1/tickets", json=body))
    if response is not None and response.status_code == 201:
        record.acknowledged[response.json()["id"]] = "new"


def _movable(record: ClientLog) -> list[int]:
    return [ticket for ticket, state in record.acknowledged.items() if state in NEXT_MOVE]


def _advance(http: httpx.Client, record: ClientLog, rng: random.Random) -> None:
    ticket = rng.choice(_movable(record))
    target = NEXT_MOVE[record.acknowledged[ticket]]
    body = {"to": target, **({"solution": "bench: reinstalled the driver"} if target == "resolved" else {})}
    response = _timed(record, "transition", lambda: http.post(f"/api/v1/tickets/{ticket}/transitions", json=body))
    if response is not None and response.status_code == 200:
        record.acknowledged[ticket] = target


def lost_writes(settings: Settings, acknowledged: dict[int, str]) -> list[int]:
    """Acknowledged tickets missing from the database or in another state than acknowledged."""
    database = Database(settings.database_path)
    try:
        rows = dict(database.read(lambda db: db.execute("SELECT id, status FROM tickets").fetchall()))
    finally:
        database.close()
    return [ticket for ticket, state in acknowledged.items() if rows.get(ticket) != state]


def run_mix_bench(settings: Settings, clients: int, seconds: float, log: Log) -> dict[str, Any]:
    """Run the mixed load and report throughput, latency per kind, status codes and lost writes."""
    tokens = prepare(settings, clients, log)
    queries = query_set(300)
    process, url = start_server(settings, log)
    try:
        stop_at = time.monotonic() + seconds
        logs: list[ClientLog] = []
        threads = [threading.Thread(target=lambda n=n: logs.append(client_loop(url, tokens[n], queries, stop_at, n)))
                   for n in range(clients)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - started
    finally:
        stop_server(process)
    return _figures(settings, logs, clients, wall)


def _figures(settings: Settings, logs: list[ClientLog], clients: int, wall: float) -> dict[str, Any]:
    latencies: dict[str, list[float]] = defaultdict(list)
    statuses: dict[int, int] = defaultdict(int)
    acknowledged: dict[int, str] = {}
    for record in logs:
        for kind, values in record.latencies.items():
            latencies[kind] += values
        for status, count in record.statuses.items():
            statuses[status] += count
        acknowledged.update(record.acknowledged)
    everything = [v for values in latencies.values() for v in values]
    lost = lost_writes(settings, acknowledged)
    return {
        "clients": clients, "seconds": round(wall, 1), "requests": len(everything),
        "throughput_per_s": round(len(everything) / wall, 1),
        "status_codes": dict(sorted(statuses.items())),
        "server_errors": sum(c for s, c in statuses.items() if s >= 500 or s == 0),
        "latency_ms": {kind: latency_summary(values) for kind, values in latencies.items()},
        "latency_all_ms": latency_summary(everything or [0.0]),
        "acknowledged_writes_checked": len(acknowledged), "lost_writes": len(lost),
    }
