"""Benchmarks run by `casewise bench`: a large corpus, a real server, real HTTP clients.

Every figure that is compared with another is measured in the same run, on the
same machine, seconds apart, because the machine is shared and noisy.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import numpy as np
import sqlite_utils

from indexer.vector_store import MANIFEST, VectorStore
from kb.articles import read_article_folder, save_article
from kb.db import Database
from kb.errors import InvalidInput
from kb.importing import demo_article_folder, demo_ticket_files, load_demo_desk
from kb.ticket_files import read_ticket_file
from kb.tickets import import_resolved_tickets
from kb.users import create_token, create_user
from service.settings import Settings

Log = Callable[[str], None]
# Authorization of the bench account, set once the corpus database exists.
HEADERS: dict[str, str] = {}
# warm-up queries per server process before measuring, drawn like the measured ones with another seed
WARM_UP_QUERIES, WARM_UP_SEED = 50, 29
FILLERS = ["又出现了", "今天早上", "急", "again", "urgent", "第二次", "还是不行", "please help", "同事也一样"]


def percentile(values: list[float], share: float) -> float:
    """The value below which `share` of the sorted values fall (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(share * len(ordered))) - 1))]


def latency_summary(values_ms: list[float]) -> dict[str, float]:
    """p50/p95/p99 and mean of latencies in milliseconds."""
    return {"n": len(values_ms), "p50": round(percentile(values_ms, 0.50), 2),
            "p95": round(percentile(values_ms, 0.95), 2), "p99": round(percentile(values_ms, 0.99), 2),
            "mean": round(statistics.fmean(values_ms), 2)}


def perturbed_tickets(count: int, seed: int = 7) -> list[dict]:
    """`count` distinct resolved tickets made by varying the demo history."""
    rng = random.Random(seed)
    base = [record for path in demo_ticket_files() for record in read_ticket_file(path)]
    tickets = []
    for n in range(count):
        source, other = base[n % len(base)], rng.choice(base)
        words = other["description"].split("，")[0][:40]
        tickets.append({
            "id": f"bench-{n}", "title": f"{source['title']} {rng.choice(FILLERS)} #{n}",
            "description": f"{source.get('description', '')} {words}",
            "resolution": source["resolution"], "product": source.get("product"),
            "category": source.get("category"), "error_codes": source.get("error_codes") or [],
        })
    return tickets


def build_corpus(database: Database, tickets: int, article_copies: int, log: Log) -> None:
    """Import perturbed tickets and copies of the demo articles (about 500 sections per copy)."""
    drafts = read_article_folder(demo_article_folder())
    for copy in range(article_copies):
        database.write(lambda db, copy=copy: [
            save_article(db, _copy_of(draft, copy), "bench") for draft in drafts])
    log(f"imported {article_copies} copies of {len(drafts)} demo articles")
    records = perturbed_tickets(tickets)
    for start in range(0, len(records), 20_000):
        part = records[start:start + 20_000]
        database.write(lambda db, part=part: import_resolved_tickets(db, part, "bench", "BN"))
    log(f"imported {tickets} tickets")


def _copy_of(draft, copy: int):
    from dataclasses import replace

    return replace(draft, slug=f"{draft.slug}-{copy}", title=f"{draft.title} ({copy})",
                   status="published", body=draft.body + f"\n\n<!-- copy {copy} -->\n")


@dataclass
class BuildFigures:
    """Index build throughput next to the bare model's batch encode throughput."""

    chunks: int
    seconds: float
    embed_seconds: float
    bare_texts_per_s: float
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        chunks_per_s = self.chunks / self.seconds
        embed_rate = self.chunks / self.embed_seconds
        return {"chunks": self.chunks, "build_seconds": round(self.seconds, 1),
                "build_chunks_per_s": round(chunks_per_s, 1),
                "embed_phase_chunks_per_s": round(embed_rate, 1),
                "bare_batch_encode_texts_per_s": round(self.bare_texts_per_s, 1),
                "ratio_build_to_bare": round(chunks_per_s / self.bare_texts_per_s, 3),
                "ratio_embed_phase_to_bare": round(embed_rate / self.bare_texts_per_s, 3), **self.extra}


def measure_build(settings: Settings, log: Log) -> BuildFigures:
    """Build the index from the database and time it; then time the bare models on a sample.

    The bare figure encodes the sample the way the index does: every chunk with the
    multilingual model (and the extra model, if set), each language's model the chunks of its
    language (indexer.index.LATIN_SHARES).
    """
    from indexer.index import SearchIndex
    from service.runtime import open_chinese_embedder, open_embedder, open_english_embedder, open_extra_embedder

    embedder = open_embedder(settings)
    english, extra_model, chinese = (open_english_embedder(settings), open_extra_embedder(settings),
                                     open_chinese_embedder(settings))
    models = [m for m in (embedder, english, extra_model, chinese) if m is not None]
    database = Database(settings.database_path)
    embed_time = [0.0]
    originals = {id(m): m.encode_documents for m in models}
    for model in models:
        model.encode_documents = _timed(model.encode_documents, embed_time)  # type: ignore[method-assign]
    started = time.perf_counter()
    index = SearchIndex.open(database, embedder, settings.index_dir, rebuild=True, english=english,
                             extra=extra_model, chinese=chinese)
    seconds = time.perf_counter() - started
    chunks = sum(index.store.count(kind) for kind in ("ticket", "article"))
    log(f"index built: {chunks} chunks in {seconds:.1f}s")
    sample = database.read(lambda db: [(r[0], r[1]) for r in db.execute(
        "SELECT text, latin_share FROM chunks ORDER BY (id * 2654435761) % 4294967296 LIMIT 4096")])
    started = time.perf_counter()
    for space in index.spaces:
        originals[id(space.embedder)]([text for text, share in sample if space.reads(share)])
    bare = len(sample) / (time.perf_counter() - started)
    extra = {"approximate_index": {kind: index.store.is_approximate(kind) for kind in ("ticket", "article")},
             "models": [s.embedder.name for s in index.spaces],
             **{f"{s.name}_vectors": sum(s.store.count(k) for k in ("ticket", "article"))
                for s in index.spaces if s.name != "dense"}}
    database.close()
    return BuildFigures(chunks, seconds, embed_time[0], bare, extra)


def _timed(encode: Callable, total: list[float]) -> Callable:
    def timed(texts, **kwargs):
        started = time.perf_counter()
        try:
            return encode(texts, **kwargs)
        finally:
            total[0] += time.perf_counter() - started
    return timed


def bare_encode_latencies(settings: Settings, queries: list[str]) -> list[float]:
    """Single-query encode times (ms) outside the server, with the models the pipeline uses for it."""
    from indexer.analysis import latin_share
    from indexer.index import reads
    from service.runtime import open_chinese_embedder, open_embedder, open_english_embedder, open_extra_embedder

    models = [(name, model) for name, model in (
        ("dense", open_embedder(settings)), ("dense_en", open_english_embedder(settings)),
        ("dense_zh", open_chinese_embedder(settings)), ("dense_extra", open_extra_embedder(settings)),
    ) if model is not None]
    for _, model in models:
        model.encode_queries(queries[:5])
    times = []
    for query in queries:
        share = latin_share(query)
        started = time.perf_counter()
        for name, model in models:
            if reads(name, share):
                model.encode_queries([query])
        times.append((time.perf_counter() - started) * 1000)
    return times


def start_server(settings: Settings, log: Log) -> tuple[subprocess.Popen, str]:
    """`casewise serve` in its own process on the bench data folder; waits until healthy."""
    # the per-user rate limit would cap the load test itself, so it is lifted for the bench server
    env = {**os.environ, "CASEWISE_DATA_DIR": str(settings.data_dir), "HF_HUB_OFFLINE": "1",
           "CASEWISE_WORKERS": str(settings.workers),
           "CASEWISE_MAX_BODY_BYTES": str(settings.max_body_bytes), "CASEWISE_SUGGEST_RATE_PER_MINUTE": "100000000"}
    port = _free_port()
    process = subprocess.Popen([sys.executable, "-m", "service.cli", "serve", "--port", str(port)],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            httpx.get(f"{url}/healthz", timeout=5).raise_for_status()
            log(f"server ready at {url}")
            return process, url
        except httpx.HTTPError:
            time.sleep(0.5)
    process.kill()
    raise RuntimeError("server did not become healthy")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop_server(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()


def bench_headers(settings: Settings) -> dict[str, str]:
    """A 'bench' manager account (with the demo desk for the lifecycle probe) and its API token."""
    database = Database(settings.database_path)
    now = datetime.now(UTC)

    def write(db: sqlite_utils.Database) -> str:
        if not db.execute("SELECT 1 FROM users WHERE username = 'bench'").fetchone():
            create_user(db, "bench", "Benchmark", "manager", None, now)
        return create_token(db, "bench", "bench", now)[1]
    try:
        load_demo_desk(database)
        token = database.write(write)
    finally:
        database.close()
    return {"Authorization": f"Bearer {token}"}


class SuggestClient:
    """A thin keep-alive HTTP client for the suggest endpoint.

    The bench client shares the cores with the server it measures, so it is kept
    light (http.client, about a tenth of httpx's cost per request): its own work
    would otherwise show up as server latency.
    """

    def __init__(self, url: str) -> None:
        address = urlsplit(url)
        self._connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
        self._headers = {**HEADERS, "Content-Type": "application/json"}
        self.reconnects = 0  # answers that closed the connection (a server process over its share)

    def suggest(self, title: str) -> int:
        """POST /api/v1/suggest; returns the status code (the body is read and dropped)."""
        try:
            self._connection.request("POST", "/api/v1/suggest", json.dumps({"title": title}).encode(), self._headers)
            response = self._connection.getresponse()
            response.read()
            self.reconnects += response.will_close
            return response.status
        except (OSError, http.client.HTTPException):
            self._connection.close()  # reconnects on the next request
            raise

    def close(self) -> None:
        self._connection.close()


def single_client(url: str, queries: list[str]) -> list[float]:
    """Sequential suggest requests; latency of each in ms."""
    times = []
    client = SuggestClient(url)
    try:
        client.suggest(queries[0])
        for query in queries:
            started = time.perf_counter()
            status = client.suggest(query)
            times.append((time.perf_counter() - started) * 1000)
            if status != 200:
                raise RuntimeError(f"suggest answered {status} for {query!r}")
    finally:
        client.close()
    return times


def concurrent_clients(url: str, queries: list[str], clients: int, seconds: float) -> dict:
    """`clients` threads sending suggest requests back to back for `seconds`."""
    latencies: list[float] = []
    per_client: list[list[float]] = [[] for _ in range(clients)]
    reconnects = [0] * clients
    errors: list[str] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def worker(offset: int) -> None:
        client = SuggestClient(url)
        n = offset
        while time.monotonic() < stop_at:
            started = time.perf_counter()
            try:
                status = client.suggest(queries[n % len(queries)])
                outcome = "ok" if status == 200 else f"status {status}"
            except (OSError, http.client.HTTPException) as error:
                outcome = repr(error)
            elapsed = (time.perf_counter() - started) * 1000
            with lock:
                (latencies.append(elapsed) if outcome == "ok" else errors.append(outcome))
            per_client[offset].append(elapsed)
            n += clients
        reconnects[offset] = client.reconnects
        client.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    return {"clients": clients, "seconds": round(wall, 1), "requests": len(latencies),
            "throughput_per_s": round(len(latencies) / wall, 1), "errors": len(errors),
            "first_errors": errors[:3], "reconnects": sum(reconnects),
            # each client keeps one connection: with several server processes, how evenly the load spread
            "client_mean_ms_min_max": [round(min(statistics.fmean(t) for t in per_client if t), 1),
                                       round(max(statistics.fmean(t) for t in per_client if t), 1)],
            **{f"latency_{k}": v for k, v in latency_summary(latencies or [0.0]).items()}}


def time_to_suggestible(url: str, workers: int, log: Log) -> float:
    """Seconds from resolving a new ticket through the API until every server process suggests it."""
    marker = f"基准测试 XQ{random.randint(100000, 999999)} 扫描仪报错"
    clients = clients_per_worker(url, workers)
    if len(clients) < workers:
        log(f"reached {len(clients)} of {workers} server processes for the freshness probe")
    try:
        first = clients[0]
        ticket = first.post("/api/v1/tickets", json={"title": marker, "description": "bench probe"}).json()
        first.post(f"/api/v1/tickets/{ticket['id']}/transitions", json={"to": "assigned"}).raise_for_status()
        started = time.perf_counter()
        first.post(f"/api/v1/tickets/{ticket['id']}/transitions",
                   json={"to": "resolved", "solution": "probe"}).raise_for_status()
        waiting = list(clients)
        while waiting and time.perf_counter() - started < 60:
            waiting = [client for client in waiting if not _suggests(client, marker)]
            time.sleep(0.02)
        return float("inf") if waiting else time.perf_counter() - started
    finally:
        for client in clients:
            client.close()


def clients_per_worker(url: str, workers: int, wait_s: float = 10.0) -> list[httpx.Client]:
    """Keep-alive clients, one connected to each server process (told apart by /healthz's pid).

    Tries new connections for up to `wait_s` seconds: a process still loading the index answers none.
    """
    found: dict[int, httpx.Client] = {}
    until = time.monotonic() + wait_s
    while len(found) < workers and time.monotonic() < until:
        client = httpx.Client(base_url=url, timeout=30, headers=HEADERS)
        pid = client.get("/healthz").json()["pid"]
        if pid in found:
            client.close()
            time.sleep(0.01)
        else:
            found[pid] = client
    return list(found.values())


def warm_up(url: str, workers: int, queries: list[str], log: Log) -> None:
    """Wait until every server process answers, then send each the warm-up queries.

    `casewise serve` answers as soon as its first process is up; the others may still be
    loading the index, and a fresh process's first queries fault in index pages and caches.
    The bench measures a server that is up and running; the warm-up queries are drawn with another seed.
    """
    clients = clients_per_worker(url, workers, wait_s=600)
    if len(clients) < workers:
        raise RuntimeError(f"only {len(clients)} of {workers} server processes answered within 600 s")
    try:
        for client in clients:
            for query in queries:
                client.post("/api/v1/suggest", json={"title": query}).raise_for_status()
    finally:
        for client in clients:
            client.close()
    log(f"{workers} server processes up; each answered {len(queries)} warm-up queries")


def _suggests(client: httpx.Client, title: str) -> bool:
    cases = client.post("/api/v1/suggest", json={"title": title, "k": 3}).json()["cases"]
    return any(case["title"] == title for case in cases)


def query_set(count: int, seed: int = 11) -> list[str]:
    """Realistic typed queries: demo ticket titles, sometimes with the start of the description."""
    rng = random.Random(seed)
    base = [record for path in demo_ticket_files() for record in read_ticket_file(path)]
    picks = [rng.choice(base) for _ in range(count)]
    return [p["title"] if n % 2 else f"{p['title']} {p.get('description', '')[:60]}" for n, p in enumerate(picks)]


def run_suggest_bench(settings: Settings, tickets: int, article_copies: int, clients: int,
                      seconds: float, log: Log, reuse_index: bool = False) -> dict:
    """Build the corpus and index, then measure the suggest endpoint; returns all figures.

    With `reuse_index`, the saved index is served as it is (no build figures), for repeated serving runs.
    """
    if not settings.database_path.exists():
        database = Database(settings.database_path)
        try:
            build_corpus(database, tickets, article_copies, log)
        finally:
            database.close()
    if reuse_index and not (settings.index_dir / MANIFEST).exists():
        raise InvalidInput(f"--reuse-index: no saved index in {settings.index_dir}; run once without it")
    build = {"skipped": "reused the saved index"} if reuse_index else measure_build(settings, log).as_dict()
    queries = query_set(300)
    HEADERS.update(bench_headers(settings))
    process, url = start_server(settings, log)
    try:
        warm_up(url, settings.workers, query_set(WARM_UP_QUERIES, seed=WARM_UP_SEED), log)
        bare = bare_encode_latencies(settings, queries)
        single = single_client(url, queries)
        log("single client done")
        load = concurrent_clients(url, queries, clients, seconds)
        log("concurrent clients done")
        fresh = time_to_suggestible(url, settings.workers, log)
    finally:
        stop_server(process)
    bare_summary, single_summary = latency_summary(bare), latency_summary(single)
    target = 1.3 * bare_summary["p95"] + 5
    return {
        "corpus": {"tickets": tickets, "article_copies": article_copies},
        "server_workers": settings.workers,
        # what the figures depend on besides the machine
        "served_with": {"embedding_model": settings.embedding_model,
                        "english_embedding_model": settings.english_embedding_model,
                        "chinese_embedding_model": settings.chinese_embedding_model,
                        "extra_embedding_model": settings.extra_embedding_model,
                        "feedback_weight": settings.feedback_weight},
        "build": build,
        "bare_encode_ms": bare_summary,
        "single_client_ms": single_summary,
        "single_client_target_p95_ms": round(target, 2),
        "single_client_meets_target": single_summary["p95"] <= target,
        "concurrent": load,
        "seconds_until_new_ticket_suggestible": round(fresh, 3),
    }


def run_ann_bench(vectors: int, dim: int, queries: int, log: Log) -> dict:
    """Recall@10 and search latency of the approximate index against exact search at scale.

    Vectors are real embeddings of demo texts (USE) plus small noise to reach the size, so the
    neighbourhood structure is that of real data rather than random points.
    """
    import faiss

    data = _embedding_like(vectors, dim, log)
    rng = np.random.default_rng(3)
    probe = data[rng.choice(len(data), size=queries, replace=False)]
    probe = probe + rng.normal(scale=0.02, size=probe.shape).astype(np.float32)
    probe /= np.linalg.norm(probe, axis=1, keepdims=True)
    store = VectorStore(dim)
    started = time.perf_counter()
    for start in range(0, len(data), 100_000):
        store.add("ticket", np.arange(start, min(start + 100_000, len(data))), data[start:start + 100_000])
    build_seconds = time.perf_counter() - started
    log(f"approximate index built in {build_seconds:.1f}s")
    exact = faiss.IndexFlatIP(dim)
    exact.add(data)
    _, truth = exact.search(probe, 10)
    found, times = [], []
    for row in probe:
        started = time.perf_counter()
        found.append([i for i, _ in store.search("ticket", row, 10)])
        times.append((time.perf_counter() - started) * 1000)
    recall = statistics.fmean(len(set(f) & set(t)) / 10 for f, t in zip(found, truth.tolist(), strict=True))
    index = store.indexes["ticket"]
    memory = len(faiss.serialize_index(index)) / len(data) * 1_000_000 / 2**20
    return {"vectors": len(data), "dim": dim, "approximate": store.is_approximate("ticket"),
            "lists": int(getattr(index, "nlist", 0)), "nprobe": int(getattr(index, "nprobe", 0)),
            "build_seconds": round(build_seconds, 1), "recall_at_10": round(recall, 4),
            "search_ms": latency_summary(times), "mib_per_million_vectors": round(memory, 1),
            "with_crowding": _crowding_search_figures(store, data, probe),
            "crowding_mib_per_million_vectors": round(
                len(store.crowding["ticket"].to_bytes()) / len(data) * 1_000_000 / 2**20, 1)}


def _crowding_search_figures(store: VectorStore, data: np.ndarray, probe: np.ndarray) -> dict:
    """The suggestion path's vector search: crowding-corrected (FUSION_WEIGHTS), as many nearest as a
    dense list takes (100 candidates, twice as many with feedback).

    Recall@10 is against the exact top 10 by the same corrected score over every vector.
    """
    from indexer.search import FUSION_WEIGHTS, MIN_CANDIDATES, dense_depth

    weight = FUSION_WEIGHTS["crowding"]
    depth = dense_depth(MIN_CANDIDATES, FUSION_WEIGHTS)
    crowding = store.crowding_of("ticket", np.arange(len(data)))
    recalls, times = [], []
    for row in probe:
        started = time.perf_counter()
        found = store.search_many("ticket", row.reshape(1, -1), depth, crowding=weight)[0]
        times.append((time.perf_counter() - started) * 1000)
        truth = np.argpartition(-(data @ row - weight * crowding), 10)[:10]
        recalls.append(len({i for i, _ in found[:10]} & set(truth.tolist())) / 10)
    return {"candidates": depth, "weight": weight, "recall_at_10": round(statistics.fmean(recalls), 4),
            "search_ms": latency_summary(times)}


def _embedding_like(count: int, dim: int, log: Log) -> np.ndarray:
    from indexer.embedder import DEFAULT_MODEL, Embedder

    texts = query_set(4000) + [t["title"] for t in perturbed_tickets(4000)]
    embedder = Embedder(DEFAULT_MODEL, Settings().model_cache_dir)
    base = embedder.encode_documents(texts)[:, :dim]
    log(f"embedded {len(base)} demo texts")
    rng = np.random.default_rng(5)
    picks = base[rng.integers(0, len(base), size=count)]
    # mixing each point with a second one gives new, realistic-looking points (not just noise)
    partners = base[rng.integers(0, len(base), size=count)]
    weights = rng.uniform(0.0, 0.5, size=(count, 1)).astype(np.float32)
    data = (1 - weights) * picks + weights * partners
    data += rng.normal(scale=0.05, size=data.shape).astype(np.float32)
    data /= np.linalg.norm(data, axis=1, keepdims=True)
    return np.ascontiguousarray(data, dtype=np.float32)


def write_json(figures: dict, path: Path | None) -> str:
    """The figures as JSON, also written to `path` when given."""
    text = json.dumps(figures, indent=2, ensure_ascii=False)
    if path:
        path.write_text(text + "\n", encoding="utf-8")
    return text
