"""The search index against a real database and the real model: sync, catch-up, rebuild, drift."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from indexer.index import FolderLock, SearchIndex, verify_saved
from indexer.search import suggest
from indexer.sync import rechunk_pending
from kb.db import Database
from kb.importing import import_article_folder, import_ticket_file
from kb.visibility import Viewer
from tests.conftest import FIXTURES

pytestmark = pytest.mark.slow
AGENT = Viewer("agent", "agent")
REQUESTER = Viewer("customer", "requester")


@pytest.fixture
def loaded(database: Database) -> Database:
    import_ticket_file(database, FIXTURES / "tickets.jsonl", "test", "CW")
    import_article_folder(database, FIXTURES / "articles", "test")
    return database


def test_open_indexes_everything_and_saves(loaded: Database, embedder, tmp_path: Path) -> None:
    index = SearchIndex.open(loaded, embedder, tmp_path / "index")
    assert index.store.count("ticket") == 10  # each ticket: whole text + title alone
    assert index.store.count("article") >= 5
    drift, manifest = verify_saved(loaded, tmp_path / "index")
    assert drift.healthy and manifest.model == embedder.name


def test_suggest_finds_the_matching_case_and_article_in_both_languages(loaded: Database, embedder, tmp_path) -> None:
    index = SearchIndex.open(loaded, embedder, tmp_path / "index")
    zh = suggest(index, "打印机连不上WiFi了", 3, AGENT)
    assert zh.cases[0].entity["title"] == "打印机无法连接无线网络"
    assert zh.articles[0].entity["slug"] == "printer-wifi"
    en = suggest(index, "vpn drops with error 812", 3, AGENT)
    assert en.cases[0].entity["title"].startswith("VPN keeps disconnecting")
    assert en.articles[0].entity["slug"] == "vpn-812"
    assert "812" in en.articles[0].matched_terms


def test_exact_error_code_ranks_first(loaded: Database, embedder, tmp_path) -> None:
    index = SearchIndex.open(loaded, embedder, tmp_path / "index")
    assert suggest(index, "0x0000011b", 3, AGENT).cases[0].entity["title"] == "Shared printer error 0x0000011b"
    assert suggest(index, "ERP-4031", 3, AGENT).cases[0].entity["title"].startswith("报销单提交失败")


def test_requesters_never_get_cases_or_internal_articles(loaded: Database, embedder, tmp_path) -> None:
    index = SearchIndex.open(loaded, embedder, tmp_path / "index")
    found = suggest(index, "restart the SecureLink VPN gateway", 5, REQUESTER)
    assert found.cases == []
    assert all(hit.entity["audience"] == "public" for hit in found.articles)
    staff = suggest(index, "restart the SecureLink VPN gateway", 5, AGENT)
    assert staff.articles[0].entity["slug"] == "internal-notes"


def test_catch_up_after_restart_embeds_only_new_changes(loaded: Database, embedder, tmp_path, monkeypatch) -> None:
    folder = tmp_path / "index"
    SearchIndex.open(loaded, embedder, folder)
    extra = tmp_path / "more.jsonl"
    extra.write_text('{"title": "扫描到邮箱失败 SMTP 535", "resolution": "更新扫描仪 SMTP 密码"}\n', encoding="utf-8")
    import_ticket_file(loaded, extra, "test", "CW")
    encoded = []
    original = embedder.encode_documents
    monkeypatch.setattr(embedder, "encode_documents", lambda texts, **kw: encoded.append(len(texts)) or original(texts, **kw))
    index = SearchIndex.open(loaded, embedder, folder)
    assert index.rebuilt_reason is None and encoded == [1]
    assert suggest(index, "扫描到邮箱 535", 1, AGENT).cases[0].entity["title"].startswith("扫描到邮箱失败")


def test_an_index_saved_with_float32_lists_is_converted_once_without_embedding_again(
        loaded: Database, embedder, tmp_path, monkeypatch) -> None:
    import faiss

    import indexer.vector_store as vector_store

    monkeypatch.setattr(vector_store, "APPROXIMATE_FROM", 10)
    monkeypatch.setattr(vector_store, "_lists_for", lambda size: 4)
    folder = tmp_path / "index"
    SearchIndex.open(loaded, embedder, folder)
    manifest = vector_store.load_manifest(folder)
    path = folder / manifest.files["ticket"]
    half = faiss.read_index(str(path))
    assert isinstance(half, faiss.IndexIVFScalarQuantizer)
    old = faiss.IndexIVFFlat(faiss.clone_index(half.quantizer), half.d, half.nlist, faiss.METRIC_INNER_PRODUCT)
    old.add_with_ids(*reversed(vector_store._ivf_contents(half)))  # the layout saved before float16 lists
    faiss.write_index(old, str(path))
    encoded = []
    original = embedder.encode_documents
    monkeypatch.setattr(embedder, "encode_documents", lambda texts, **kw: encoded.append(len(texts)) or original(texts, **kw))
    index = SearchIndex.open(loaded, embedder, folder)
    assert index.rebuilt_reason is None and encoded == []
    assert isinstance(index.store.indexes["ticket"], faiss.IndexIVFScalarQuantizer)
    saved = vector_store.load_manifest(folder)
    assert saved.generation == manifest.generation + 1  # saved again in the current layout
    assert isinstance(faiss.read_index(str(folder / saved.files["ticket"])), faiss.IndexIVFScalarQuantizer)
    assert suggest(index, "打印机卡纸", 1, AGENT).cases
    assert not SearchIndex.open(loaded, embedder, folder).store.converted
    assert vector_store.load_manifest(folder).generation == saved.generation


def test_crash_between_chunking_and_saving_is_repaired(loaded: Database, embedder, tmp_path) -> None:
    folder = tmp_path / "index"
    SearchIndex.open(loaded, embedder, folder)
    loaded.write(lambda db: db.execute("UPDATE articles SET body = body || '\n\n## New\nmore text' WHERE slug = 'vpn-812'"))
    loaded.write(lambda db: db.execute("INSERT INTO outbox (entity_type, entity_id, created_at) "
                                       "SELECT 'article', id, 'now' FROM articles WHERE slug = 'vpn-812'"))
    rechunk_pending(loaded)  # chunks rewritten, then the process "dies" before the index is saved
    drift, _ = verify_saved(loaded, folder)
    assert not drift.healthy and drift.missing["article"] > 0 and drift.extra["article"] > 0
    SearchIndex.open(loaded, embedder, folder)
    assert verify_saved(loaded, folder)[0].healthy


def test_index_for_another_model_or_database_is_rebuilt(loaded: Database, embedder, tmp_path) -> None:
    folder = tmp_path / "index"
    SearchIndex.open(loaded, embedder, folder)
    other = Database(tmp_path / "other.db")
    try:
        index = SearchIndex.open(other, embedder, folder)
        assert index.rebuilt_reason == "index belongs to another database"
        assert index.store.count("ticket") == 0
    finally:
        other.close()


def test_resolved_ticket_leaves_index_when_reopened(loaded: Database, embedder, tmp_path) -> None:
    index = SearchIndex.open(loaded, embedder, tmp_path / "index")
    loaded.write(lambda db: db.execute("UPDATE tickets SET status = 'in_progress' WHERE title LIKE 'VPN keeps%'"))
    loaded.write(lambda db: db.execute("INSERT INTO outbox (entity_type, entity_id, created_at) "
                                       "SELECT 'ticket', id, 'now' FROM tickets WHERE title LIKE 'VPN keeps%'"))
    assert index.sync() == 2  # its two chunks dropped
    titles = [h.entity["title"] for h in suggest(index, "vpn error 812", 5, AGENT).cases]
    assert not any(t.startswith("VPN keeps") for t in titles)
    assert index.drift().healthy


def test_server_saves_at_most_once_per_interval_and_flushes_on_stop(loaded: Database, embedder, tmp_path) -> None:
    """A change is searchable at once; its files wait for the save interval or for flush (when a server stops)."""
    folder = tmp_path / "index"
    index = SearchIndex.open(loaded, embedder, folder, save_interval=3600)
    assert verify_saved(loaded, folder)[0].healthy  # the first sync always saves
    _reopen_vpn_tickets(loaded)
    assert index.sync() == 2 and index.drift().missing["ticket"] == 0
    saved, _ = verify_saved(loaded, folder)
    assert saved.extra["ticket"] == 2 and saved.manifest_behind > 0  # not written yet
    index.flush()
    assert verify_saved(loaded, folder)[0].healthy


def test_server_does_not_wait_while_another_process_saves(loaded: Database, embedder, tmp_path) -> None:
    """A save due while the folder is locked (another worker saving) is put off, not waited for."""
    folder = tmp_path / "index"
    index = SearchIndex.open(loaded, embedder, folder, save_interval=0.001)
    (folder / ".ticket.crashed.faiss.tmp").write_bytes(b"left by a save that died before its commit")
    other = FolderLock(folder)
    assert other.acquire(blocking=False)
    _reopen_vpn_tickets(loaded)
    assert index.sync() == 2 and index.drift().missing["ticket"] == 0  # searchable at once
    assert verify_saved(loaded, folder)[0].manifest_behind > 0  # the save was put off
    other.release()
    index.sync()
    index.flush()
    assert verify_saved(loaded, folder)[0].healthy
    assert not list(folder.glob("*.tmp")) and not list(folder.glob(".*.tmp"))


def _reopen_vpn_tickets(loaded: Database) -> None:
    loaded.write(lambda db: db.execute("UPDATE tickets SET status = 'in_progress' WHERE title LIKE 'VPN keeps%'"))
    loaded.write(lambda db: db.execute("INSERT INTO outbox (entity_type, entity_id, created_at) "
                                       "SELECT 'ticket', id, 'now' FROM tickets WHERE title LIKE 'VPN keeps%'"))


def test_rebuild_rewrites_chunks_and_changed_chunker_triggers_it(loaded: Database, embedder, tmp_path) -> None:
    from indexer.sync import CHUNKER_VERSION_KEY

    folder = tmp_path / "index"
    SearchIndex.open(loaded, embedder, folder)
    before = loaded.read(lambda db: sync_ids(db))
    index = SearchIndex.open(loaded, embedder, folder, rebuild=True)
    after = loaded.read(lambda db: sync_ids(db))
    assert index.rebuilt_reason == "rebuild requested" and before.isdisjoint(after)
    loaded.write(lambda db: db.execute("UPDATE index_state SET value = 'old' WHERE key = ?", [CHUNKER_VERSION_KEY]))
    SearchIndex.open(loaded, embedder, folder)
    assert loaded.read(lambda db: sync_ids(db)).isdisjoint(after)
    assert verify_saved(loaded, folder)[0].healthy


def sync_ids(db) -> set[int]:
    return {row[0] for row in db.execute("SELECT id FROM chunks")}


def test_english_space_is_indexed_saved_and_weighted_by_language(loaded: Database, embedder, english_embedder,
                                                                 tmp_path) -> None:
    from indexer.search import analyse_query, latin_share

    folder = tmp_path / "index"
    index = SearchIndex.open(loaded, embedder, folder, english=english_embedder)
    assert [s.name for s in index.spaces] == ["dense", "dense_en"]
    english_chunks = loaded.read(lambda db: db.execute(
        "SELECT COUNT(*) FROM chunks WHERE kind = 'ticket' AND latin_share >= 0.3").fetchone()[0])
    assert 0 < index.spaces[1].store.count("ticket") == english_chunks < index.store.count("ticket") == 10
    assert verify_saved(loaded, folder, with_english=True)[0].healthy
    assert "dense_en" not in analyse_query(index, "打印机连不上网络", {"dense": 1, "dense_en": 1}).vectors
    assert latin_share("VPN 掉线") == 0.6
    en = suggest(index, "my vpn drops all the time with error 812", 3, AGENT)
    assert en.cases[0].entity["title"].startswith("VPN keeps disconnecting")
    reopened = SearchIndex.open(loaded, embedder, folder, english=english_embedder)
    assert reopened.rebuilt_reason is None


def test_extra_space_holds_every_chunk_is_fused_saved_and_verified(loaded: Database, embedder, e5_embedder,
                                                                   tmp_path) -> None:
    from indexer.search import FUSION_WEIGHTS, analyse_query

    folder = tmp_path / "index"
    index = SearchIndex.open(loaded, embedder, folder, extra=e5_embedder)
    assert [s.name for s in index.spaces] == ["dense", "dense_extra"]
    extra = index.spaces[1]
    assert extra.store.crowded  # crowding-corrected like the primary space
    assert [extra.store.count(kind) for kind in ("ticket", "article")] == \
        [index.store.count(kind) for kind in ("ticket", "article")]  # every chunk, Chinese ones too
    assert verify_saved(loaded, folder, with_extra=True)[0].healthy
    assert "dense_extra" in analyse_query(index, "打印机连不上网络", FUSION_WEIGHTS).vectors
    query = "打印机连不上WiFi了"
    assert suggest(index, query, 3, AGENT).cases[0].entity["title"] == "打印机无法连接无线网络"
    alone = suggest(index, query, 3, AGENT, weights={"dense_extra": 1.0})
    assert alone.cases[0].entity["title"] == "打印机无法连接无线网络"
    without = suggest(index, query, 3, AGENT, weights={**FUSION_WEIGHTS, "dense_extra": 0.0})
    assert [hit.score for hit in without.cases] != [hit.score for hit in suggest(index, query, 3, AGENT).cases]
    reopened = SearchIndex.open(loaded, embedder, folder, extra=e5_embedder)
    assert reopened.rebuilt_reason is None and reopened.spaces[1].store.count("ticket") == extra.store.count("ticket")

    SearchIndex.open(loaded, embedder, tmp_path / "plain")
    drift = verify_saved(loaded, tmp_path / "plain", with_extra=True)[0]
    assert drift.missing["ticket:dense_extra"] == index.store.count("ticket") and not drift.healthy


def test_chinese_space_holds_chinese_chunks_reads_chinese_queries_and_is_verified(
        loaded: Database, embedder, english_embedder, e5_embedder, tmp_path) -> None:
    """The Chinese model's space holds the chunks with at most 0.7 Latin letters, reads only such queries
    (a mixed query is read by both language models) and is saved, reloaded and verified like the others."""
    from indexer.search import FUSION_WEIGHTS, analyse_query

    folder = tmp_path / "index"
    index = SearchIndex.open(loaded, embedder, folder, english=english_embedder, chinese=e5_embedder)
    assert [s.name for s in index.spaces] == ["dense", "dense_en", "dense_zh"]
    chinese = index.spaces[2]
    assert chinese.store.crowded
    for kind in ("ticket", "article"):
        wanted = loaded.read(lambda db, kind=kind: {row[0] for row in db.execute(
            "SELECT id FROM chunks WHERE kind = ? AND latin_share <= 0.7", [kind])})
        assert set(chinese.store.ids(kind).tolist()) == wanted
    assert 0 < chinese.store.count("ticket") < index.store.count("ticket")
    assert verify_saved(loaded, folder, with_english=True, with_chinese=True)[0].healthy
    assert set(analyse_query(index, "打印机连不上网络", FUSION_WEIGHTS).vectors) == {"dense", "dense_zh"}
    assert set(analyse_query(index, "VPN keeps disconnecting", FUSION_WEIGHTS).vectors) == {"dense", "dense_en"}
    assert set(analyse_query(index, "Outlook 打不开了", FUSION_WEIGHTS).vectors) == {"dense", "dense_en", "dense_zh"}
    query = "打印机连不上WiFi了"
    assert suggest(index, query, 3, AGENT).cases[0].entity["title"] == "打印机无法连接无线网络"
    assert suggest(index, query, 3, AGENT, weights={"dense_zh": 1.0}).cases[0].entity["title"] == "打印机无法连接无线网络"
    without = suggest(index, query, 3, AGENT, weights={**FUSION_WEIGHTS, "dense_zh": 0.0})
    assert [hit.score for hit in without.cases] != [hit.score for hit in suggest(index, query, 3, AGENT).cases]
    english = "my vpn drops all the time with error 812"
    assert [hit.score for hit in suggest(index, english, 3, AGENT, weights={**FUSION_WEIGHTS, "dense_zh": 0.0}).cases] \
        == [hit.score for hit in suggest(index, english, 3, AGENT).cases]  # not read: no weight to take away
    reopened = SearchIndex.open(loaded, embedder, folder, english=english_embedder, chinese=e5_embedder)
    assert reopened.rebuilt_reason is None and reopened.spaces[2].store.count("ticket") == chinese.store.count("ticket")

    SearchIndex.open(loaded, embedder, tmp_path / "plain")
    drift = verify_saved(loaded, tmp_path / "plain", with_chinese=True)[0]
    assert drift.missing["ticket:dense_zh"] == chinese.store.count("ticket") and not drift.healthy


def test_hits_show_their_plain_cosine_though_ranked_with_crowding(loaded: Database, embedder, tmp_path) -> None:
    index = SearchIndex.open(loaded, embedder, tmp_path / "index")
    query = "VPN keeps disconnecting"
    plain = dict(index.store.search("article", embedder.encode_queries([query])[0], 1000))
    hits = suggest(index, query, 5, AGENT).articles
    assert hits and all(abs(hit.similarity - plain[hit.chunk_id]) < 1e-5 for hit in hits if hit.similarity is not None)
    assert all(r > 0 for r in index.store.crowding_of("article", np.array([hit.chunk_id for hit in hits])))


def test_feedback_scores_deeper_candidates_as_a_search_from_the_moved_query_would(
        loaded: Database, embedder, tmp_path, monkeypatch) -> None:
    """With `feedback`, each kind's dense list is searched twice as deep, once, and its candidates are scored
    as a search from the query vector moved toward the best fused chunks would score them (the fixture's
    kinds hold fewer chunks than that depth, so the two must agree). A hit's similarity stays the plain
    cosine of the query itself."""
    import indexer.search as search
    from indexer.feedback import moved_vector

    index = SearchIndex.open(loaded, embedder, tmp_path / "index")
    text = "VPN keeps disconnecting"
    depths: list[tuple[str, list[int]]] = []
    dense_lists = search._dense_lists

    def recording(index, queries, candidates, kind, crowding):
        depths.append((kind, list(candidates)))
        return dense_lists(index, queries, candidates, kind, crowding)

    monkeypatch.setattr(search, "_dense_lists", recording)
    without = {**search.FUSION_WEIGHTS, "feedback": 0.0}
    suggest(index, text, 5, AGENT, weights=without)
    assert depths == [("ticket", [100]), ("article", [100])]
    depths.clear()
    found = suggest(index, text, 5, AGENT)
    assert depths == [("ticket", [200]), ("article", [200])]

    query, ask = search.analyse_query(index, text, without), search.Ask(text, 5, AGENT)
    vector = query.vectors["dense"]
    first = search.fused_rankings_many(index, [query], [ask], without)[0]
    for kind in ("ticket", "article"):
        top = dict(first[kind][0][:3])
        ids, best = index.store.vectors_of(kind, list(top))
        moved = moved_vector(vector, best, np.array([top[chunk_id] for chunk_id in ids]), 0.3)
        assert moved @ best[0] > vector @ best[0] and moved @ vector > 0.9  # toward the best chunk, still the query
        scored = index.store.search_many(kind, vector[None, :], 200, 0.5)[0]
        rescored = search._rescored(index.store, kind, scored, vector, top, 0.3, 0.5)
        searched = index.store.search_many(kind, moved[None, :], 200, 0.5)[0]
        assert [chunk_id for chunk_id, _ in rescored] == [chunk_id for chunk_id, _ in searched]
        assert np.allclose([score for _, score in rescored], [score for _, score in searched], atol=1e-5)
    shown = [hit for hit in found.cases + found.articles if hit.similarity is not None]
    assert shown
    for hit in shown:
        assert abs(hit.similarity - float(index.store.vectors_of(hit.kind, [hit.chunk_id])[1][0] @ vector)) < 1e-5


def test_exact_search_matches_faiss_flat_search() -> None:
    """The numpy path for exact kinds returns FAISS IndexFlatIP's ranking, after removals too."""
    import faiss

    from indexer.vector_store import VectorStore

    rng = np.random.default_rng(3)
    vectors = rng.standard_normal((500, 32)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = np.arange(1000, 1500, dtype=np.int64)
    store = VectorStore(32)
    store.add("article", ids, vectors)
    store.remove("article", ids[::7])
    reference = faiss.IndexIDMap2(faiss.IndexFlatIP(32))
    keep = np.ones(500, dtype=bool)
    keep[::7] = False
    reference.add_with_ids(vectors[keep], ids[keep])
    for query in vectors[:20]:
        scores, found = reference.search(query.reshape(1, -1), 10)
        ours = store.search("article", query, 10)
        assert [i for i, _ in ours] == found[0].tolist()
        assert np.allclose([s for _, s in ours], scores[0], atol=1e-5)
    assert len(store.search("article", vectors[0], 1000)) == keep.sum()

    together = store.search_many("article", vectors[:20], 10)  # a matrix product: same up to float rounding
    for both, alone in zip(together, [store.search("article", query, 10) for query in vectors[:20]], strict=True):
        assert [i for i, _ in both] == [i for i, _ in alone]
        assert np.allclose([s for _, s in both], [s for _, s in alone], atol=1e-6)


def test_queries_answered_together_get_the_same_answers_as_alone(loaded: Database, embedder, english_embedder,
                                                                 e5_embedder, tmp_path) -> None:
    """A batch mixing staff and requesters, k, languages (each read by its language's models) and codes:
    each answer is its own suggest()'s (the same hits, explained the same way; scores equal up to float
    rounding)."""
    from indexer.search import Ask, suggest_many

    index = SearchIndex.open(loaded, embedder, tmp_path / "index", english=english_embedder, chinese=e5_embedder)
    asks = [Ask("VPN keeps disconnecting error 812", 3, AGENT), Ask("打印机连不上网络", 5, REQUESTER),
            Ask("打印机连不上网络", 2, AGENT), Ask("outlook 0x800ccc0e 无法发送邮件", 30, AGENT)]
    together = suggest_many(index, asks)
    alone = [suggest(index, ask.text, ask.k, ask.viewer) for ask in asks]
    for both, single in zip(together, alone, strict=True):
        for ours, reference in zip((both.cases, both.articles), (single.cases, single.articles), strict=True):
            assert [_shown(hit) for hit in ours] == [_shown(hit) for hit in reference]
            assert np.allclose([hit.score for hit in ours], [hit.score for hit in reference], atol=1e-5)
    assert together[1].cases == [] and together[1].articles and together[0].cases


def _shown(hit) -> tuple:
    return hit.kind, hit.entity_id, hit.chunk_id, hit.snippet_html, hit.matched_terms, hit.heading_path
