"""Benchmark: people typing problems into the ticket form of a busy server.

    .venv/bin/python benchmarks/typing_bench.py --data-dir DIR [--typists 16] [--seconds 30] [--output F]

DIR is a data folder with an index already built, e.g. one `casewise bench suggest` made (it has
the `bench` account this script takes a token for). A real `casewise serve` (CASEWISE_WORKERS,
default 2) is started on it from this checkout. Each typist types the bench's queries
(`service.bench.query_set`) in up to five stops 150 ms apart (word by word, or three characters at
a time for Chinese): at every stop but the last the page sends the text so far and gives up on the
request still on its way when the next one is due (the client closes it, as the form's
AbortController does); the last stop's answer is waited for. Reported: requests sent, answered
and given up on, how many of those the server dropped before searching (`suggestions_dropped` of
each worker's /healthz), and the latency of the last stop of each query (what a person waits for)
with its p50 / p95 / p99.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from service.bench import query_set, start_server  # noqa: E402
from service.settings import Settings  # noqa: E402

STOP_SECONDS = 0.15
MOST_STOPS = 5


def typing_stops(text: str) -> list[str]:
    """The text as typed so far at each pause: word by word, or every three characters of a short
    (Chinese) text; the last few stops only."""
    words = text.split()
    if len(words) >= 3:
        stops = [" ".join(words[:i]) for i in range(1, len(words) + 1)]
    else:
        stops = [text[:i] for i in range(2, len(text), 3)] + [text]
    return stops[-MOST_STOPS:]


class Tally:
    """Counts and final-stop latencies shared by the typists."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts = {"sent": 0, "answered": 0, "given_up": 0, "errors": 0}
        self.final_ms: list[float] = []

    def add(self, outcome: str, final_ms: float | None = None) -> None:
        with self.lock:
            self.counts["sent"] += 1
            self.counts[outcome] += 1
            if final_ms is not None:
                self.final_ms.append(final_ms)


def type_queries(url: str, headers: dict[str, str], queries: list[str], seed: int, until: float,
                 tally: Tally) -> None:
    """One typist: queries typed stop by stop until `until` (time.monotonic)."""
    rng = random.Random(seed)
    with httpx.Client(headers=headers) as client:
        while time.monotonic() < until:
            stops = typing_stops(rng.choice(queries))
            for position, typed in enumerate(stops):
                last = position == len(stops) - 1
                started = time.perf_counter()
                try:
                    response = client.post(f"{url}/api/v1/suggest", json={"title": typed},
                                           timeout=30 if last else STOP_SECONDS)
                except httpx.TimeoutException:
                    tally.add("given_up")  # the next keystroke came first: the request is closed
                    continue
                took = time.perf_counter() - started
                ok = response.status_code == 200
                tally.add("answered" if ok else "errors", took * 1000 if last and ok else None)
                if not last:
                    time.sleep(max(0.0, STOP_SECONDS - took))


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def dropped_by_workers(url: str, workers: int) -> int:
    """`suggestions_dropped` summed over the server's processes (each /healthz is answered by one)."""
    seen: dict[int, int] = {}
    for _ in range(200):
        health = httpx.get(f"{url}/healthz", timeout=10).json()
        seen[health["pid"]] = health["suggestions_dropped"]
        if len(seen) == workers:
            break
    return sum(seen.values())


def api_token(data_dir: Path, username: str) -> str:
    """A fresh API token for `username`, from `casewise create-token`."""
    env = {**os.environ, "CASEWISE_DATA_DIR": str(data_dir)}
    done = subprocess.run([sys.executable, "-m", "service.cli", "create-token", username], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=True)
    return done.stdout.strip().split()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True, help="data folder with a built index")
    parser.add_argument("--typists", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--user", default="bench", help="account the typists act as")
    parser.add_argument("--output", type=Path, help="also write the figures here as JSON")
    args = parser.parse_args()
    settings = Settings(data_dir=args.data_dir)
    headers = {"Authorization": f"Bearer {api_token(args.data_dir, args.user)}"}
    server, url = start_server(settings, print)
    try:
        queries = query_set(400, seed=7)
        with httpx.Client(headers=headers) as client:  # each process's first queries are slower
            for text in queries[:60]:
                client.post(f"{url}/api/v1/suggest", json={"title": text}, timeout=30).raise_for_status()
        tally = Tally()
        until = time.monotonic() + args.seconds
        typists = [threading.Thread(target=type_queries, args=(url, headers, queries, seed, until, tally))
                   for seed in range(args.typists)]
        for typist in typists:
            typist.start()
        for typist in typists:
            typist.join()
        dropped = dropped_by_workers(url, settings.workers)
    finally:
        server.terminate()
        server.wait(60)
    finals = tally.final_ms
    figures = {**tally.counts, "dropped_by_server": dropped, "typists": args.typists, "seconds": args.seconds,
               "queries_typed": len(finals),
               **{f"final_p{p}_ms": round(percentile(finals, p / 100), 1) for p in (50, 95, 99)}}
    print(json.dumps(figures, indent=2))
    if args.output:
        args.output.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
