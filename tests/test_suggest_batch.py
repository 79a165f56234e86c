"""Suggestion queries waiting for a search thread are answered together, each as if alone."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from starlette.exceptions import HTTPException

import service.suggest_batch as batching
from indexer.analysis import latin_share
from indexer.index import SearchIndex, reads
from indexer.search import Ask, suggest, suggest_many
from kb.db import Database
from kb.importing import import_article_folder, import_ticket_file
from kb.visibility import Viewer
from service.suggest_batch import SuggestBatcher
from tests.conftest import FIXTURES

pytestmark = pytest.mark.slow
AGENT = Viewer("agent", "agent")
REQUESTER = Viewer("customer", "requester")
QUERIES = [("VPN keeps disconnecting", 3, AGENT), ("打印机连不上网络", 5, REQUESTER), ("蓝屏 0x0000011b", 2, AGENT),
           ("outlook cannot send mail", 4, REQUESTER), ("报销单提交失败", 5, AGENT)]


class BrokenViewer(Viewer):
    """A viewer whose permission check fails, to break one query of a batch."""

    def can(self, permission: str) -> bool:
        raise RuntimeError("permission store unavailable")


@pytest.fixture
def index(database: Database, embedder, tmp_path: Path) -> SearchIndex:
    import_ticket_file(database, FIXTURES / "tickets.jsonl", "test", "CW")
    import_article_folder(database, FIXTURES / "articles", "test")
    return SearchIndex.open(database, embedder, tmp_path / "index")


def test_waiting_queries_are_answered_in_one_batch_each_as_alone(index: SearchIndex, monkeypatch) -> None:
    batches = _record_batch_sizes(monkeypatch)
    with ThreadPoolExecutor(1) as pool:
        release = _hold(pool)
        batcher = SuggestBatcher(index, pool)
        futures = [batcher.submit(*query) for query in QUERIES]
        release.set()
        answers = [future.result(timeout=60) for future in futures]
    assert batches == [len(QUERIES)]
    for (text, k, viewer), answer in zip(QUERIES, answers, strict=True):
        alone = suggest(index, text, k, viewer)
        assert [h.entity_id for h in answer.cases] == [h.entity_id for h in alone.cases]
        assert [h.chunk_id for h in answer.articles] == [h.chunk_id for h in alone.articles]
        assert np.allclose([h.score for h in answer.articles], [h.score for h in alone.articles], atol=1e-5)
    assert answers[1].cases == [] and answers[0].cases


def test_a_failing_query_fails_alone_and_a_cancelled_one_is_skipped(index: SearchIndex, monkeypatch) -> None:
    batches = _record_batch_sizes(monkeypatch)
    batcher_queries = [("VPN keeps disconnecting", 3, AGENT), ("打印机", 3, BrokenViewer("x", "agent")),
                       ("蓝屏", 3, AGENT), ("报销", 3, AGENT)]
    with ThreadPoolExecutor(1) as pool:
        release = _hold(pool)
        batcher = SuggestBatcher(index, pool)
        futures = [batcher.submit(*query) for query in batcher_queries]
        assert futures[3].cancel()
        release.set()
        assert futures[0].result(timeout=60).cases and futures[2].result(timeout=60).cases
        with pytest.raises(RuntimeError, match="permission store unavailable"):
            futures[1].result(timeout=60)
    assert futures[3].cancelled()
    assert batches == [3, 1, 1, 1]  # the batch failed, then each query was answered alone


def test_batches_never_exceed_the_limit(index: SearchIndex, monkeypatch) -> None:
    batches = _record_batch_sizes(monkeypatch)
    with ThreadPoolExecutor(1) as pool:
        release = _hold(pool)
        batcher = SuggestBatcher(index, pool, max_batch=2)
        futures = [batcher.submit("VPN", 1, AGENT) for _ in range(5)]
        release.set()
        assert all(future.result(timeout=60).cases for future in futures)
    assert batches == [2, 2, 1]


def test_after_a_batch_the_next_one_waits_briefly_for_the_queries_just_answered(index: SearchIndex,
                                                                              monkeypatch) -> None:
    """Under steady load, the clients just answered come back within milliseconds: the next batch waits
    while they keep arriving, instead of starting with the first one back. A lone query answered after
    a lone query never waits."""
    batches = _record_batch_sizes(monkeypatch)
    monkeypatch.setattr(batching, "GATHER_GAP_SECONDS", 0.5)  # generous: a busy test machine is slow
    monkeypatch.setattr(batching, "GATHER_MAX_SECONDS", 5.0)
    with ThreadPoolExecutor(1) as pool:
        release = _hold(pool)
        batcher = SuggestBatcher(index, pool)
        first = [batcher.submit(*query) for query in QUERIES[:3]]
        release.set()
        assert all(future.result(timeout=60).articles for future in first)
        again = []
        for query in QUERIES[:3]:  # they come back one by one, 50 ms apart
            again.append(batcher.submit(*query))
            time.sleep(0.05)
        assert all(future.result(timeout=60).articles for future in again)
        started = time.monotonic()
        assert batcher.answer(*QUERIES[0], timeout=60).articles  # no other comes: it waited one gap
        assert time.monotonic() - started >= 0.5
        monkeypatch.setattr(batching, "GATHER_GAP_SECONDS", 30.0)
        monkeypatch.setattr(batching, "GATHER_MAX_SECONDS", 30.0)
        assert batcher.answer(*QUERIES[1], timeout=10).articles  # after a lone answer: no waiting
    assert batches == [3, 3, 1, 1]


def test_clients_back_before_their_batch_is_done_are_not_waited_for_twice(index: SearchIndex, monkeypatch) -> None:
    """Each client sends its next query the moment it has its answer (before the search thread is done
    with the batch): the next batch starts with them, without waiting a gap for queries never coming."""
    batches = _record_batch_sizes(monkeypatch)
    monkeypatch.setattr(batching, "GATHER_GAP_SECONDS", 30.0)
    monkeypatch.setattr(batching, "GATHER_MAX_SECONDS", 30.0)
    with ThreadPoolExecutor(1) as pool:
        release = _hold(pool)
        batcher = SuggestBatcher(index, pool)
        again: list = []
        first = [batcher.submit(*query) for query in QUERIES[:3]]
        for query, future in zip(QUERIES[:3], first, strict=True):
            future.add_done_callback(lambda _, query=query: again.append(batcher.submit(*query)))
        started = time.monotonic()
        release.set()
        assert all(future.result(timeout=60).articles for future in first)
        assert len(again) == 3 and all(future.result(timeout=20).articles for future in again)
        assert time.monotonic() - started < 20
    assert batches == [3, 3]


def test_a_caller_waiting_past_the_timeout_gets_a_503_and_its_query_is_dropped(index: SearchIndex,
                                                                             monkeypatch) -> None:
    batches = _record_batch_sizes(monkeypatch)
    with ThreadPoolExecutor(1) as pool:
        release = _hold(pool)
        batcher = SuggestBatcher(index, pool)
        with pytest.raises(HTTPException) as refused:
            batcher.answer("VPN keeps disconnecting", 3, AGENT, timeout=0.05)
        assert refused.value.status_code == 503 and refused.value.headers == {"Retry-After": "1"}
        assert "CASEWISE_QUERY_TIMEOUT_SECONDS" in refused.value.detail
        release.set()
        assert batcher.answer("打印机连不上网络", 3, AGENT, timeout=60).cases
    assert batches == [1]  # the query given up on was never answered


def test_over_http_a_query_is_dropped_when_its_client_leaves_or_its_wait_runs_out(tmp_path: Path, embedder,
                                                                                  monkeypatch) -> None:
    """A real server: while its one search thread is busy, a query whose client disconnects (a page that
    sent a newer one) is dropped, and one waiting past CASEWISE_QUERY_TIMEOUT_SECONDS gets a 503; neither
    is ever run, and the next query is answered."""
    import httpx

    from service.app import create_app
    from service.runtime import open_database, open_runtime
    from service.settings import Settings
    from tests.conftest import make_account
    from tests.server import running_server

    settings = Settings(data_dir=tmp_path / "data", english_embedding_model="", chinese_embedding_model="",
                        max_concurrent_encodes=1, query_timeout_seconds=3.0)
    database = open_database(settings)
    import_ticket_file(database, FIXTURES / "tickets.jsonl", "test", "CW")
    headers = make_account(database, "agent1", "agent")
    database.close()
    runtime = open_runtime(settings, embedder_factory=lambda _: embedder)
    batches = _record_batch_sizes(monkeypatch)
    release = _hold(runtime.search_pool)
    try:
        with running_server(create_app(settings, runtime)) as url:
            def ask(title: str, timeout: float) -> httpx.Response:
                return httpx.post(f"{url}/api/v1/suggest", json={"title": title}, headers=headers, timeout=timeout)

            with pytest.raises(httpx.ReadTimeout):
                ask("VPN keeps disconnecting", timeout=0.3)  # the client gives up and closes the connection
            (_, gone), = runtime.suggester._waiting
            assert _soon(gone.cancelled, seconds=2)  # dropped long before its 3 s were up
            refused = ask("打印机连不上网络", timeout=30)
            assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
            assert "CASEWISE_QUERY_TIMEOUT_SECONDS" in refused.json()["detail"]
            (_, first), (_, late) = runtime.suggester._waiting
            assert first is gone and _soon(late.cancelled, seconds=1)  # cancelled as the 503 goes out
            release.set()
            answered = ask("outlook cannot send mail", timeout=30)
            assert answered.status_code == 200 and answered.json()["cases"]
            assert httpx.get(f"{url}/healthz").json()["suggestions_dropped"] == 2
    finally:
        release.set()
        runtime.close()
    assert batches == [1]  # only the last query was run


def test_a_lone_query_on_an_idle_server_shares_its_work_with_a_helper_thread(index: SearchIndex,
                                                                           monkeypatch) -> None:
    """The helper scores the keywords, and searches the articles' vectors when the ask sees tickets too;
    not when a batch is answered, nor when a sibling server process has requests in flight."""
    work = _record_work_threads(monkeypatch)
    with ThreadPoolExecutor(1, "search") as pool, ThreadPoolExecutor(1, "helper") as helper:
        batcher = SuggestBatcher(index, pool, helper=helper)
        for text, k, viewer in QUERIES:
            work.clear()
            answer = batcher.answer(text, k, viewer, timeout=60)
            if viewer is AGENT:
                assert sorted(work) == [("article vectors", "helper"), ("keywords", "helper"),
                                        ("ticket vectors", "search")]
            else:  # a requester sees articles only: their vectors are searched on the search thread
                assert sorted(work) == [("article vectors", "search"), ("keywords", "helper")]
            alone = suggest(index, text, k, viewer)
            assert [(h.kind, h.chunk_id) for h in answer.cases + answer.articles] == \
                   [(h.kind, h.chunk_id) for h in alone.cases + alone.articles]
            assert np.allclose([h.score for h in answer.cases + answer.articles],
                               [h.score for h in alone.cases + alone.articles], atol=1e-6)
        work.clear()
        batcher.server_busy = lambda: True  # requests in flight in a sibling server process
        assert batcher.answer("VPN keeps disconnecting", 3, AGENT, timeout=60).cases
        assert sorted(work) == _all_on("search")
        batcher.server_busy = lambda: False
        work.clear()
        release = _hold(pool)
        futures = [batcher.submit(*query) for query in QUERIES]
        release.set()
        assert all(future.result(timeout=60).articles for future in futures)
    assert sorted(set(work)) == _all_on("search")  # one batch, searched on the search thread itself


@pytest.mark.parametrize("e5_as", [None, "extra", "chinese"])
def test_a_lone_query_gives_its_costliest_other_model_to_the_helper_thread(e5_as: str | None, database: Database,
                                                                          embedder, english_embedder, tmp_path: Path,
                                                                          monkeypatch, request) -> None:
    """USE + MiniLM: MiniLM is encoded on the helper. With e5 as well (for every text, or for Chinese
    ones), the costlier of the models reading the query by its measured encode time (set here: timings
    of a shared test machine vary) is encoded on the helper and any other on the search thread, after USE."""
    import_ticket_file(database, FIXTURES / "tickets.jsonl", "test", "CW")
    import_article_folder(database, FIXTURES / "articles", "test")
    e5 = request.getfixturevalue("e5_embedder") if e5_as else None
    index = SearchIndex.open(database, embedder, tmp_path / "index", english=english_embedder,
                             **({e5_as: e5} if e5_as else {}))
    e5_space = {"extra": "dense_extra", "chinese": "dense_zh", None: None}[e5_as]
    assert english_embedder.query_ms > 0 and (e5 is None or e5.query_ms > 0)
    encoders = _record_encoders(index, monkeypatch)
    with ThreadPoolExecutor(1, "helper") as helper:
        for text, k, viewer in QUERIES + [("Outlook 打不开了", 3, AGENT)]:
            encoders.clear()
            if e5 is not None:  # e5 has twice MiniLM's layers; each encode moves the averages again
                monkeypatch.setattr(e5, "query_ms", 10.0)
                monkeypatch.setattr(english_embedder, "query_ms", 5.0)
            answer = suggest_many(index, [Ask(text, k, viewer)], helper=helper)[0]
            others = [name for name in ("dense_en", e5_space) if name and reads(name, latin_share(text))]
            helper_side = others[-1:]  # e5 is the costlier
            assert sorted(encoders) == sorted([("dense", "MainThread")]
                                              + [(name, "helper" if name in helper_side else "MainThread")
                                                 for name in others])
            _assert_answered_as_by_suggest(index, answer, text, k, viewer)


def test_a_failing_keyword_side_on_the_helper_fails_the_query_after_the_vector_searches(index: SearchIndex,
                                                                                        monkeypatch) -> None:
    events = _fail_beside_a_slow_side(index, monkeypatch, slow="_search_space", broken="_keyword_lists")
    assert events == ["slow side done", "slow side done", "failed"]  # tickets here, articles on the helper


def test_a_failing_vector_search_waits_for_the_helper_before_leaving_the_search_lock(index: SearchIndex,
                                                                                    monkeypatch) -> None:
    events = _fail_beside_a_slow_side(index, monkeypatch, slow="_keyword_lists_of_kinds", broken="_search_space")
    assert events == ["slow side done", "failed"]  # the keywords, scored on the helper


def _fail_beside_a_slow_side(index: SearchIndex, monkeypatch, slow: str, broken: str) -> list[str]:
    """A lone query whose `broken` step (a function of indexer.search) fails while its `slow` step takes 0.3 s.

    Returns what happened, in order; the error must leave the search lock free, and only after the slow step.
    """
    import indexer.search as search

    events: list[str] = []
    slow_step = getattr(search, slow)

    def slowly(*args, **kwargs):
        time.sleep(0.3)
        events.append("slow side done")
        return slow_step(*args, **kwargs)

    def failing(*args, **kwargs):
        raise RuntimeError(f"{broken} unavailable")

    monkeypatch.setattr(search, slow, slowly)
    monkeypatch.setattr(search, broken, failing)
    with ThreadPoolExecutor(1) as helper:
        with pytest.raises(RuntimeError, match=f"{broken} unavailable"):
            search.suggest_many(index, [search.Ask("VPN keeps disconnecting", 3, AGENT)], helper=helper)
        events.append("failed")
    assert index.search_lock.acquire(timeout=1)
    index.search_lock.release()
    return events


def _all_on(thread: str) -> list[tuple[str, str]]:
    return [("article vectors", thread), ("keywords", thread), ("ticket vectors", thread)]


def _record_work_threads(monkeypatch) -> list[tuple[str, str]]:
    """(work, thread name up to the first '_') for each keyword side scored and each kind's vectors searched."""
    import indexer.search as search
    from indexer.vector_store import VectorStore

    work: list[tuple[str, str]] = []
    search_many, keyword_lists = VectorStore.search_many, search._keyword_lists_of_kinds

    def thread() -> str:
        return threading.current_thread().name.split("_")[0]

    def recording_vectors(self, kind, *args, **kwargs):
        work.append((f"{kind} vectors", thread()))
        return search_many(self, kind, *args, **kwargs)

    def recording_keywords(*args, **kwargs):
        work.append(("keywords", thread()))
        return keyword_lists(*args, **kwargs)

    monkeypatch.setattr(VectorStore, "search_many", recording_vectors)
    monkeypatch.setattr(search, "_keyword_lists_of_kinds", recording_keywords)
    return work


def _soon(condition: Callable[[], bool], seconds: float) -> bool:
    """Whether `condition` holds within `seconds` (checked every 10 ms)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def _hold(pool: ThreadPoolExecutor) -> threading.Event:
    """Keep the pool's only thread busy until the returned event is set, so queries pile up."""
    release = threading.Event()
    pool.submit(release.wait, 60)
    return release


def _record_batch_sizes(monkeypatch) -> list[int]:
    sizes: list[int] = []
    answer = batching.suggest_many

    def recording(index, asks, *args, **kwargs):
        sizes.append(len(asks))
        return answer(index, asks, *args, **kwargs)

    monkeypatch.setattr(batching, "suggest_many", recording)
    return sizes


def _record_encoders(index: SearchIndex, monkeypatch) -> list[tuple[str, str]]:
    """(space, thread) of each query encode from now on."""
    encoders: list[tuple[str, str]] = []
    for space in index.spaces:
        encode = space.embedder.encode_queries

        def recording(texts, name=space.name, encode=encode):
            encoders.append((name, threading.current_thread().name.split("_")[0]))
            return encode(texts)

        monkeypatch.setattr(space.embedder, "encode_queries", recording)
    return encoders


def _assert_answered_as_by_suggest(index: SearchIndex, answer, text: str, k: int, viewer: Viewer) -> None:
    alone = suggest(index, text, k, viewer)
    assert [(h.kind, h.chunk_id) for h in answer.cases + answer.articles] == \
           [(h.kind, h.chunk_id) for h in alone.cases + alone.articles]
    assert np.allclose([h.score for h in answer.articles], [h.score for h in alone.articles], atol=1e-6)


def test_the_feedback_setting_weighs_what_the_server_suggests(tmp_path: Path, embedder, monkeypatch) -> None:
    """CASEWISE_FEEDBACK_WEIGHT reaches the suggestions a server answers: 0 turns feedback off; out of 0..1
    is refused."""
    from indexer.search import FUSION_WEIGHTS, fusion_weights
    from service.runtime import open_database, open_runtime
    from service.settings import Settings

    monkeypatch.setenv("CASEWISE_FEEDBACK_WEIGHT", "0")
    settings = Settings(data_dir=tmp_path / "data", english_embedding_model="", chinese_embedding_model="")
    database = open_database(settings)
    import_ticket_file(database, FIXTURES / "tickets.jsonl", "test", "CW")
    import_article_folder(database, FIXTURES / "articles", "test")
    database.close()
    runtime = open_runtime(settings, embedder_factory=lambda _: embedder)
    try:
        assert runtime.weights == {**FUSION_WEIGHTS, "feedback": 0.0} == fusion_weights(0.0)
        off_scores, on_scores = [], []
        for text, k, viewer in QUERIES:
            answer = runtime.suggester.answer(text, k, viewer, timeout=60)
            off, on = (suggest(runtime.index, text, k, viewer, weights)
                       for weights in (runtime.weights, FUSION_WEIGHTS))
            assert [(h.kind, h.chunk_id) for h in answer.cases + answer.articles] == \
                   [(h.kind, h.chunk_id) for h in off.cases + off.articles]
            off_scores += [h.score for h in off.articles]
            on_scores += [h.score for h in on.articles]
            assert np.allclose([h.score for h in answer.articles], [h.score for h in off.articles], atol=1e-6)
        assert not np.allclose(off_scores, on_scores, atol=1e-6)  # the setting changed something
    finally:
        runtime.close()
    with pytest.raises(ValueError, match="outside 0..1"):
        fusion_weights(1.5)
    monkeypatch.setenv("CASEWISE_FEEDBACK_WEIGHT", "1.5")
    with pytest.raises(ValueError, match="feedback_weight"):
        Settings(data_dir=tmp_path / "data")
