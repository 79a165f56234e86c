"""`casewise serve --workers 2`: two real server processes on one port, one database, one saved index."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from service import bench
from service.app import SchedulerLease
from service.balancing import WorkerLoad
from service.settings import Settings
from tests.conftest import FIXTURES
from tests.server import free_port
from tests.test_cli import CASEWISE, _wait_healthy, run

ROOT = Path(__file__).resolve().parents[1]


def test_scheduler_lease_is_held_by_one_process_at_a_time(tmp_path: Path) -> None:
    first, second = SchedulerLease(tmp_path / "scheduler.lock"), SchedulerLease(tmp_path / "scheduler.lock")
    ran: list[str] = []
    first.guard(lambda: ran.append("first"))()
    second.guard(lambda: ran.append("second"))()
    assert ran == ["first"] and first.held() and not second.held()
    first.release()
    assert second.held() and not first.held()
    second.release()


@pytest.mark.slow
def test_two_workers_share_the_port_and_each_suggests_a_ticket_resolved_through_the_other(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run(tmp_path, "import-tickets", str(FIXTURES / "tickets.jsonl"))
    run(tmp_path, "import-articles", str(FIXTURES / "articles"))
    # the bench's manager account on the demo desk (teams and members, so a ticket can be assigned)
    monkeypatch.setattr(bench, "HEADERS", bench.bench_headers(Settings(data_dir=tmp_path)))
    port = free_port()
    # the rate limit lifted as for the bench: 8 clients for 2 s exceed one user's default
    env = {**os.environ, "CASEWISE_DATA_DIR": str(tmp_path), "HF_HUB_OFFLINE": "1",
           "CASEWISE_SUGGEST_RATE_PER_MINUTE": "100000000"}
    server = subprocess.Popen([*CASEWISE, "serve", "--port", str(port), "--workers", "2"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, server)
        clients = bench.clients_per_worker(url, 2)
        assert len(clients) == 2  # both processes answer on the one port
        for client in clients:
            client.close()
        # resolved through one process, suggested by every process within the 2 s target
        assert bench.time_to_suggestible(url, 2, print) < 2.0
        # the bench's load phase, briefly: every answer a 200, each client's reconnects counted
        load = bench.concurrent_clients(url, ["打印机连不上 WiFi", "VPN keeps disconnecting"], clients=8, seconds=2)
        assert load["errors"] == 0 and load["requests"] >= 8 and isinstance(load["reconnects"], int)
        second = run(tmp_path, "serve", "--port", str(free_port()), check=False)
        assert second.returncode == 2 and "already running" in second.stderr
        answer = httpx.post(f"{url}/api/v1/suggest", json={"title": "打印机连不上 WiFi"},
                            headers=bench.HEADERS, timeout=30)
        assert answer.status_code == 200 and answer.json()["articles"]
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=120)
    assert server.returncode == 0, output
    assert "Traceback" not in output, output
    report = json.loads(run(tmp_path, "verify", "--json").stdout)
    assert report["healthy"], report  # the workers flushed the probe ticket's vectors when they stopped


def test_worker_load_slots_are_per_process_and_counts_are_shared(tmp_path: Path) -> None:
    """Each process claims its own slot; one sees the other's requests in flight and sheds above its share."""
    path = tmp_path / "workers.load"
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys, pathlib; from service.balancing import WorkerLoad\n"
         "load = WorkerLoad(pathlib.Path(sys.argv[1])); [load.enter() for _ in range(3)]\n"
         "print(load.slot, flush=True); sys.stdin.read()", str(path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "0"
        load = WorkerLoad(path)
        assert load.slot == 1
        load.enter()
        assert load.in_flight() == 4  # the other process's 3 and this one's
        assert not load.over_share(2)  # 1 of 4 in flight: under its share
        for _ in range(3):
            load.enter()
        assert not load.over_share(2)  # 4 of 7 is its share, ceil(7 / 2)
        load.enter()
        assert load.over_share(2)  # 5 of 8
        load.close()
    finally:
        child.communicate("")


def _gone(pid: int) -> bool:
    """The process has exited (a zombie not yet reaped by init counts as exited)."""
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return True
    return "\nState:\tZ" in state


@pytest.mark.slow
def test_workers_stop_when_the_serve_process_is_killed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """kill -9 of `casewise serve` ends its workers too: none keeps the port or the database."""
    run(tmp_path, "import-tickets", str(FIXTURES / "tickets.jsonl"))
    monkeypatch.setattr(bench, "HEADERS", bench.bench_headers(Settings(data_dir=tmp_path)))
    port = free_port()
    env = {**os.environ, "CASEWISE_DATA_DIR": str(tmp_path), "HF_HUB_OFFLINE": "1"}
    server = subprocess.Popen([*CASEWISE, "serve", "--port", str(port), "--workers", "2"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, server)
        clients = bench.clients_per_worker(url, 2)
        pids = [client.get("/healthz").json()["pid"] for client in clients]
        for client in clients:
            client.close()
    finally:
        server.kill()
        server.wait()
    deadline = time.monotonic() + 60
    while not all(_gone(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert all(_gone(pid) for pid in pids), pids
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{url}/healthz", timeout=2)
