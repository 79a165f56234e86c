"""Pure ranking parts: analysis, fusion, highlighting, BM25, FAISS store."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from indexer.analysis import highlight_terms, index_terms
from indexer.fusion import zscore_fusion, zscore_ranking
from indexer.highlight import make_snippet
from indexer.keyword_index import KeywordIndex, top_positive
from indexer.vector_store import MANIFEST, Manifest, VectorStore


def test_highlights_segment_chinese_into_words() -> None:
    terms = highlight_terms("打印机无法连接网络")
    assert {"打印机", "连接", "网络"} <= set(terms)


def test_index_terms_are_chinese_unigrams_and_bigrams() -> None:
    assert index_terms("连不上网") == ["连", "不", "上", "网", "连不", "不上", "上网"]


def test_error_codes_stay_whole_and_parts_are_added() -> None:
    text = "共享打印机报错0x0000011b，E-1023 和 ERP-4031，版本 5.2.1"
    for terms in (index_terms(text), highlight_terms(text)):
        assert {"0x0000011b", "e-1023", "1023", "erp-4031", "4031", "5.2.1"} <= set(terms)


def test_full_width_and_case_are_normalised() -> None:
    assert "vpn" in index_terms("ＶＰＮ 掉线") and "vpn" in highlight_terms("ＶＰＮ 掉线")


def test_stop_words_and_punctuation_are_dropped() -> None:
    assert "的" not in highlight_terms("我的 the 打印机，是 不是 坏了？！")
    assert not {"the", "，", "？"} & set(index_terms("the printer，坏了？"))


def test_zscore_fusion_prefers_items_strong_in_both_lists() -> None:
    lists = {"dense": [(1, 0.9), (2, 0.8), (3, 0.1)], "keyword": [(2, 12.0), (1, 3.0), (4, 2.0)]}
    fused = zscore_ranking(lists, {"dense": 1.0, "keyword": 1.0}, depth=3)
    assert [item for item, _ in fused][:2] == [2, 1]


def test_zscore_fusion_keeps_the_margin_of_a_clear_winner() -> None:
    # Rank fusion would tie 1 and 2 (ranks 1+2 each); 1's dense lead is large, 2's keyword lead tiny.
    lists = {"dense": [(1, 0.95), (2, 0.50), (3, 0.49), (4, 0.48)],
             "keyword": [(2, 3.0), (1, 2.9), (3, 1.0), (4, 0.9)]}
    assert zscore_ranking(lists, {"dense": 1.0, "keyword": 1.0}, depth=4)[0][0] == 1


def test_zscore_fusion_ignores_unweighted_and_empty_lists() -> None:
    fused = zscore_fusion({"dense": [(1, 0.5), (2, 0.4)], "codes": [], "keyword": [(9, 3.0)]},
                          {"dense": 1.0}, depth=10)
    assert set(fused) == {1, 2}


def test_zscore_fusion_gives_ids_a_short_dense_list_lacks_its_floor_and_a_short_keyword_list_zero() -> None:
    # A language's space holding two chunks (deviation 0.005): the chunks it lacks score as its last one,
    # not as 0 would, (0 - 0.895) / 0.005 = -179.
    lists = {"dense_zh": [(1, 0.90), (2, 0.89)], "dense": [(1, 0.5), (2, 0.4), (3, 0.6), (4, 0.3)],
             "keyword": [(3, 2.0), (4, 1.0)]}
    fused = zscore_fusion(lists, {"dense_zh": 1.0, "dense": 1.0, "keyword": 1.0}, depth=100, sparse={"keyword"})
    assert fused[3] == pytest.approx(-1.0 + 1.342 + 1.0, abs=1e-3)  # dense_zh floor, dense 0.6, keyword top
    assert fused[2] == pytest.approx(-1.0 - 0.447 + (0 - 1.5) / 0.5, abs=1e-3)  # keyword: no term matched
    assert max(abs(score) for score in fused.values()) < 5


@given(st.dictionaries(st.sampled_from(["a", "b", "c"]),
                       st.lists(st.tuples(st.integers(0, 40), st.floats(-5, 50)), max_size=15,
                                unique_by=lambda pair: pair[0]), min_size=1))
def test_zscore_fusion_scores_every_candidate_and_is_monotone_in_one_list(lists) -> None:
    weights = {name: 1.0 for name in lists}
    fused = zscore_fusion(lists, weights, depth=15)
    assert set(fused) == {item for scored in lists.values() for item, _ in scored}
    if len(lists) == 1:
        (scored,) = lists.values()
        order = [item for item, _ in zscore_ranking(lists, weights, depth=15)]
        by_score = sorted(scored, key=lambda pair: (-pair[1], pair[0]))
        assert [fused[i] for i in order] == sorted((fused[i] for i, _ in by_score), reverse=True)


@given(st.dictionaries(st.sampled_from(["a", "b", "keyword"]),
                       st.lists(st.tuples(st.integers(0, 40), st.sampled_from([0.0, 0.5, 1.0, 2.5, -1.0])),
                                max_size=15, unique_by=lambda pair: pair[0]), min_size=1))
def test_zscore_ranking_is_the_fused_scores_ranked_ties_by_id(lists) -> None:
    """The ranking a suggestion uses is `zscore_fusion`'s scores, best first, equal scores by id
    (few distinct scores, so ties are common)."""
    weights = {name: 1.0 for name in lists}
    fused = zscore_fusion(lists, weights, 15, {"keyword"})
    assert zscore_ranking(lists, weights, 15, {"keyword"}) == sorted(fused.items(), key=lambda pair: (-pair[1], pair[0]))


def test_snippet_marks_terms_and_escapes_html() -> None:
    snippet = make_snippet("<b>打印机</b> 连不上网络", ["打印机", "网络"])
    assert snippet.html == "&lt;b&gt;<mark>打印机</mark>&lt;/b&gt; 连不上<mark>网络</mark>"
    assert snippet.matched_terms == ["打印机", "网络"]


def test_snippet_window_moves_to_the_matches() -> None:
    text = "无关内容。" * 80 + "最后重启 spooler 服务解决"
    snippet = make_snippet(text, ["spooler"])
    assert "spooler" in snippet.text and snippet.text.startswith("…")


@given(st.text(max_size=400), st.lists(st.text(min_size=1, max_size=5), max_size=5))
def test_snippet_never_emits_unescaped_markup(text: str, terms: list[str]) -> None:
    html = make_snippet(text, [t.lower() for t in terms]).html
    stripped = html.replace("<mark>", "").replace("</mark>", "")
    assert "<" not in stripped and ">" not in stripped


def test_bm25_ranks_rare_terms_higher_and_forgets_removed() -> None:
    index = KeywordIndex()
    index.add(1, ["打印机", "网络"])
    index.add(2, ["打印机", "卡纸"])
    index.add(3, ["vpn", "网络"])
    assert index.search(["卡纸"], 5)[0][0] == 2
    index.remove(2)
    assert all(i != 2 for i, _ in index.search(["卡纸", "打印机"], 5))
    assert len(index) == 2


def _fresh(docs: dict[int, list[str]]) -> KeywordIndex:
    index = KeywordIndex()
    index.add_many(docs.items())
    return index


@given(st.lists(st.tuples(st.booleans(), st.integers(0, 400), st.lists(st.sampled_from("甲乙丙丁戊己"), min_size=1,
                                                                       max_size=6)), max_size=40))
def test_bm25_cache_follows_changes_like_a_fresh_index(changes: list[tuple[bool, int, list[str]]]) -> None:
    """Weights cached before additions and removals give the scores of an index built afresh."""
    rng = np.random.default_rng(1)
    docs = {n: list(rng.choice(list("甲乙丙丁戊己庚辛"), size=5)) for n in range(400)}
    index = _fresh(docs)
    queries = [["甲", "乙"], ["丙"], ["丁", "戊", "己"], ["庚", "辛", "甲"]]
    for query in queries:
        index.search(query, 10)  # weights cached now
    for add, chunk_id, terms in changes:
        if add:
            docs[chunk_id] = terms
            index.add(chunk_id, terms)
        else:
            docs.pop(chunk_id, None)
            index.remove(chunk_id)
    fresh = _fresh(docs)
    for query in queries:
        ours, theirs = dict(index.search(query, 500)), dict(fresh.search(query, 500))
        assert ours.keys() == theirs.keys()  # nothing removed comes back, everything added is found
        # between refreshes (1 % of the rows changed) idf and length norm of cached terms lag slightly
        assert all(abs(ours[i] - theirs[i]) <= 0.05 * theirs[i] + 1e-6 for i in ours)


@given(st.lists(st.tuples(st.integers(0, 300), st.lists(st.sampled_from("甲乙丙丁戊己庚"), min_size=1, max_size=8)),
                max_size=300), st.lists(st.integers(0, 300), max_size=40),
       st.lists(st.sampled_from("甲乙丙丁戊己庚辛"), min_size=1, max_size=6), st.integers(1, 50))
def test_bm25_summed_outside_the_interpreter_lock_gives_the_same_answer(
        docs: list[tuple[int, list[str]]], removed: list[int], query: list[str], k: int) -> None:
    """torch's index_add_ (release_gil) adds the same float32 numbers in the same order as numpy's add.at."""
    index = KeywordIndex()
    index.add_many(docs)
    index.search(query, k)  # weights cached before some rows go
    for chunk_id in removed:
        index.remove(chunk_id)
    assert index.search(query, k, release_gil=True) == index.search(query, k)


@given(st.lists(st.integers(0, 6), min_size=0, max_size=3000), st.integers(1, 120))
def test_top_positive_equals_a_full_sort(values: list[int], k: int) -> None:
    """Exact top k of the positive scores, ties in row order, whether or not the sampled threshold applies."""
    scores = np.asarray(values, dtype=np.float32) / 3
    expected = [row for row in sorted(range(len(values)), key=lambda r: (-scores[r], r)) if scores[row] > 0][:k]
    assert top_positive(scores, k).tolist() == expected


def test_vector_store_saves_atomically_and_loads(tmp_path: Path) -> None:
    store = VectorStore(4)
    vectors = np.eye(4, dtype=np.float32)
    store.add("ticket", np.array([10, 11, 12, 13]), vectors)
    store.add("article", np.array([20]), vectors[:1])
    store.remove("ticket", np.array([13]))
    store.save(tmp_path, Manifest(model="m", dim=4, counts={}, last_outbox_id=7, database_id="x"))
    loaded, manifest = VectorStore.load(tmp_path)
    assert sorted(loaded.ids("ticket").tolist()) == [10, 11, 12]
    assert manifest.last_outbox_id == 7 and manifest.counts == {"ticket": 3, "article": 1}
    assert loaded.search("ticket", vectors[1], 1)[0][0] == 11
    assert not list(tmp_path.glob("*.tmp"))


def test_vector_store_keeps_previous_generation_until_manifest_switches(tmp_path: Path) -> None:
    store = VectorStore(2)
    store.add("ticket", np.array([1]), np.array([[1, 0]], dtype=np.float32))
    first = store.save(tmp_path, Manifest(model="m", dim=2, counts={}, last_outbox_id=1))
    store.add("ticket", np.array([2]), np.array([[0, 1]], dtype=np.float32))
    second = store.save(tmp_path, Manifest(model="m", dim=2, counts={}, last_outbox_id=2))
    assert second.generation == first.generation + 1
    assert not (tmp_path / first.files["ticket"]).exists()
    assert VectorStore.load(tmp_path)[0].count("ticket") == 2


def test_damaged_or_mismatched_index_is_not_loaded(tmp_path: Path) -> None:
    store = VectorStore(2)
    store.add("ticket", np.array([1]), np.array([[1, 0]], dtype=np.float32))
    manifest = store.save(tmp_path, Manifest(model="m", dim=2, counts={}, last_outbox_id=1))
    (tmp_path / manifest.files["ticket"]).write_bytes(b"garbage")
    assert VectorStore.load(tmp_path) is None
    (tmp_path / MANIFEST).write_text("{not json")
    assert VectorStore.load(tmp_path) is None
    data = {"model": "m", "dim": 2, "counts": {"ticket": 5, "article": 0}, "last_outbox_id": 1,
            "files": manifest.files}
    (tmp_path / MANIFEST).write_text(json.dumps(data))
    assert VectorStore.load(tmp_path) is None


def test_large_kinds_switch_to_an_approximate_index_that_keeps_ids(tmp_path: Path, monkeypatch) -> None:
    import indexer.vector_store as vector_store

    monkeypatch.setattr(vector_store, "APPROXIMATE_FROM", 3000)
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(4000, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    store = VectorStore(16)
    store.add("ticket", np.arange(1000, 3000), vectors[:2000])
    assert not store.is_approximate("ticket")
    store.add("ticket", np.arange(3000, 5000), vectors[2000:])
    assert store.is_approximate("ticket") and store.count("ticket") == 4000
    store.remove("ticket", np.array([1000, 1001]))
    assert sorted(store.ids("ticket").tolist()) == list(range(1002, 5000))
    assert store.search("ticket", vectors[5], 1)[0][0] == 1005
    store.save(tmp_path, Manifest(model="m", dim=16, counts={}, last_outbox_id=1))
    loaded, _ = VectorStore.load(tmp_path)
    assert loaded.is_approximate("ticket") and loaded.search("ticket", vectors[5], 1)[0][0] == 1005


def test_exact_search_of_several_queries_over_many_blocks_finds_what_each_finds_alone() -> None:
    rng = np.random.default_rng(17)
    vectors = _unit_rows(rng.normal(size=(3001, 64)))  # 512 vectors a block: 6 blocks, the last of 441
    store = VectorStore(64, crowded=False)
    store.add("article", np.arange(5000, 8001), vectors)
    queries = _unit_rows(rng.normal(size=(7, 64)))
    together = store.search_many("article", queries, 20)
    for query, found in zip(queries, together, strict=True):
        alone = store.search("article", query, 20)
        assert [i for i, _ in found] == [i for i, _ in alone]
        assert np.allclose([s for _, s in found], [s for _, s in alone], atol=1e-6)
        expected = np.argsort(-(vectors @ query), kind="stable")[:20] + 5000
        assert [i for i, _ in found] == expected.tolist()


def test_an_approximate_kind_keeps_float16_vectors_with_cosines_close_to_exact(monkeypatch) -> None:
    import indexer.vector_store as vector_store

    monkeypatch.setattr(vector_store, "APPROXIMATE_FROM", 3000)
    rng = np.random.default_rng(11)
    vectors = _unit_rows(rng.normal(size=(4000, 32)))
    store = VectorStore(32, crowded=False)
    store.add("ticket", np.arange(4000), vectors)
    index = store.indexes["ticket"]
    assert index.invlists.code_size == 2 * 32  # two bytes a dimension: half of float32's
    found = store.search("ticket", vectors[17], 5)
    assert found[0][0] == 17
    assert np.allclose([s for _, s in found], vectors[[i for i, _ in found]] @ vectors[17], atol=1e-3)
    ids, held = vector_store._all_vectors(index)
    assert np.allclose(held[np.argsort(ids)], vectors, atol=1e-3)


def test_an_index_saved_with_float32_lists_loads_with_float16_lists_and_the_same_contents(
        tmp_path: Path, monkeypatch) -> None:
    import faiss

    import indexer.vector_store as vector_store

    monkeypatch.setattr(vector_store, "APPROXIMATE_FROM", 3000)
    rng = np.random.default_rng(13)
    vectors = _unit_rows(rng.normal(size=(4000, 16)))
    store = VectorStore(16)
    store.add("ticket", np.arange(4000), vectors)
    old = faiss.IndexIVFFlat(faiss.IndexFlatIP(16), 16, 64, faiss.METRIC_INNER_PRODUCT)  # as saved before
    old.train(vectors)
    old.add_with_ids(vectors, np.arange(4000))
    store.indexes["ticket"] = old
    store.save(tmp_path, Manifest(model="m", dim=16, counts={}, last_outbox_id=1))
    loaded, _ = VectorStore.load(tmp_path)
    index = loaded.indexes["ticket"]
    assert isinstance(index, faiss.IndexIVFScalarQuantizer) and index.nlist == 64
    assert [index.invlists.list_size(n) for n in range(64)] == [old.invlists.list_size(n) for n in range(64)]
    assert sorted(loaded.ids("ticket").tolist()) == list(range(4000))
    assert loaded.search("ticket", vectors[123], 1)[0][0] == 123
    assert np.allclose(loaded.crowding_of("ticket", np.arange(4000)), store.crowding_of("ticket", np.arange(4000)))


def test_both_kinds_of_index_give_the_stored_vectors_of_the_ids_they_hold(tmp_path: Path, monkeypatch) -> None:
    """Exact and approximate kinds look vectors up by id (feedback reads a few per query), after removals,
    after a save and load, and in an approximate index saved before it kept a direct map."""
    import faiss

    store, vectors = _approximate_tickets_exact_articles(monkeypatch, first_id=10, articles=100)
    store.remove("ticket", np.array([12]))
    store.remove("article", np.array([12]))
    assert store.is_approximate("ticket") and not store.is_approximate("article")
    for kind, tolerance in (("ticket", 1e-3), ("article", 0.0)):  # the approximate kind stores float16
        ids, found = store.vectors_of(kind, [11, 12, 99999, 13])
        assert ids == [11, 13] and found.shape == (2, 16) and found.dtype == np.float32
        assert np.allclose(found, vectors[[1, 3]], atol=tolerance)
    none, empty = store.vectors_of("ticket", [])
    assert none == [] and empty.shape == (0, 16)
    store.save(tmp_path, Manifest(model="m", dim=16, counts={}, last_outbox_id=1))
    loaded, _ = VectorStore.load(tmp_path)
    assert np.allclose(loaded.vectors_of("ticket", [4009])[1], vectors[[3999]], atol=1e-3)
    loaded.indexes["ticket"].set_direct_map_type(faiss.DirectMap.NoMap)  # as saved before session 17
    loaded.save(tmp_path, Manifest(model="m", dim=16, counts={}, last_outbox_id=1))
    reloaded, _ = VectorStore.load(tmp_path)
    assert reloaded.vectors_of("ticket", [11, 12])[0] == [11]
    assert reloaded.search("ticket", vectors[5], 1)[0][0] == 15


def test_cosines_of_found_ids_equal_their_vectors_products_in_both_kinds_of_index(monkeypatch) -> None:
    """The candidates a search found, scored from another vector: exact kinds read them by id, approximate
    ones scan the lists that search visited (an id outside them is read by id)."""
    store, vectors = _approximate_tickets_exact_articles(monkeypatch, first_id=100, articles=500)
    query, other = vectors[7], _unit_rows(np.random.default_rng(23).normal(size=(1, 16)))[0]
    for kind, tolerance in (("ticket", 2e-3), ("article", 1e-6)):
        found = [chunk_id for chunk_id, _ in store.search(kind, query, 60)]
        far = int(np.argmin(vectors[:500] @ query)) + 100  # in a list a search from the query does not visit
        ids = found + ([far] if far not in found else [])
        assert np.allclose(store.cosines(kind, other, ids, query), vectors[np.array(ids) - 100] @ other,
                           atol=tolerance)
    assert store.is_approximate("ticket") and store.cosines("ticket", other, [], query).shape == (0,)


def _approximate_tickets_exact_articles(monkeypatch, first_id: int, articles: int) -> tuple[VectorStore, np.ndarray]:
    """A store of 4,000 random unit vectors of 16 dimensions as tickets (approximate: the threshold is
    lowered to 3,000) and the first `articles` of them as articles (exact), ids from `first_id`."""
    import indexer.vector_store as vector_store

    monkeypatch.setattr(vector_store, "APPROXIMATE_FROM", 3000)
    vectors = _unit_rows(np.random.default_rng(19).normal(size=(4000, 16)))
    store = VectorStore(16, crowded=False)
    store.add("ticket", np.arange(first_id, first_id + 4000), vectors)
    store.add("article", np.arange(first_id, first_id + articles), vectors[:articles])
    return store, vectors


def test_feedback_moves_a_query_vector_toward_its_best_chunks_by_their_scores() -> None:
    from indexer.feedback import moved_vector

    query = np.array([1.0, 0.0, 0.0], dtype=np.float32)
    neighbours = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]], dtype=np.float32)
    moved = moved_vector(query, neighbours, np.array([2.0, 1.0]), 0.3)
    assert moved.dtype == np.float32 and np.isclose(np.linalg.norm(moved), 1.0)
    assert moved[0] > moved[1] > moved[2] > 0  # mostly the query; the better-scored chunk pulls harder
    shares = np.exp([0.0, -1.0])
    expected = query + 0.3 * (shares @ neighbours) / shares.sum()
    assert np.allclose(moved, expected / np.linalg.norm(expected))
    assert moved_vector(query, np.zeros((0, 3), dtype=np.float32), np.zeros(0), 0.3) is query


def test_approximate_index_is_retrained_when_it_grows_fourfold(monkeypatch) -> None:
    import indexer.vector_store as vector_store

    monkeypatch.setattr(vector_store, "APPROXIMATE_FROM", 300)
    rng = np.random.default_rng(9)
    vectors = rng.normal(size=(20_000, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    store = VectorStore(8)
    store.add("ticket", np.arange(300), vectors[:300])
    first_lists = store.indexes["ticket"].nlist
    store.add("ticket", np.arange(300, 20_000), vectors[300:])
    index = store.indexes["ticket"]
    assert index.nlist > first_lists and index.ntotal == 20_000
    assert sorted(store.ids("ticket").tolist()) == list(range(20_000))
    assert store.search("ticket", vectors[12_345], 1)[0][0] == 12_345


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    return (matrix / np.linalg.norm(matrix, axis=1, keepdims=True)).astype(np.float32)


def test_crowding_is_higher_in_crowded_neighbourhoods_and_leaves_the_vector_itself_out() -> None:
    rng = np.random.default_rng(5)
    centre = rng.normal(size=16)
    crowd = _unit_rows(centre + 0.05 * rng.normal(size=(40, 16)))  # generic texts, all alike
    spread = _unit_rows(rng.normal(size=(40, 16)))
    store = VectorStore(16)
    store.add("ticket", np.arange(100, 180), np.vstack([crowd, spread]))
    scores = store.crowding_of("ticket", np.arange(100, 180))
    assert scores[:40].min() > scores[40:].max()
    assert scores.max() < 0.999  # a vector's similarity to itself (1.0) is not its neighbourhood
    assert store.crowding_of("ticket", np.array([5, 100_000])).tolist() == [0.0, 0.0]  # never held


def test_search_with_crowding_ranks_by_cosine_less_crowding(monkeypatch) -> None:
    import indexer.vector_store as vector_store

    monkeypatch.setattr(vector_store, "APPROXIMATE_FROM", 3000)
    rng = np.random.default_rng(5)
    crowd = _unit_rows(rng.normal(size=16) + 0.3 * rng.normal(size=(1500, 16)))
    vectors = np.vstack([crowd, _unit_rows(rng.normal(size=(2500, 16)))])
    store = VectorStore(16)
    store.add("article", np.arange(2000), vectors[:2000])  # exact
    store.add("ticket", np.arange(4000), vectors)  # approximate
    assert store.is_approximate("ticket") and not store.is_approximate("article")
    for kind, held in (("article", 2000), ("ticket", 4000)):
        crowding = store.crowding_of(kind, np.arange(held))
        # an approximate kind's lists hold float16 vectors: its cosines are those of the rounded vectors
        stored = vectors[:held] if kind == "article" else vectors[:held].astype(np.float16).astype(np.float32)
        for query in vectors[::400]:
            found = store.search_many(kind, query.reshape(1, -1), 10, crowding=0.5)[0]
            cosines = stored @ query
            if kind == "article":  # exact: the true top 10 by cosine - 0.5 r
                expected = np.argsort(-(cosines - 0.5 * crowding), kind="stable")[:10]
            else:  # approximate: re-ranked among the 30 nearest it finds by cosine
                nearest = np.array([i for i, _ in store.search(kind, query, 30)])
                expected = nearest[np.argsort(-(cosines[nearest] - 0.5 * crowding[nearest]), kind="stable")][:10]
            assert [i for i, _ in found] == expected.tolist()
            assert np.allclose([s for _, s in found], (cosines - 0.5 * crowding)[expected], atol=1e-5)
    plain = store.search_many("article", vectors[:1], 10)[0]
    assert np.allclose([s for _, s in plain], np.sort(vectors[:2000] @ vectors[0])[::-1][:10], atol=1e-5)


def test_crowding_reference_is_redrawn_as_the_kind_grows(monkeypatch) -> None:
    import indexer.crowding as crowding_module

    monkeypatch.setattr(crowding_module, "REFERENCE_SIZE", 8)
    vectors = _unit_rows(np.random.default_rng(2).normal(size=(64, 8)))
    store = VectorStore(8)
    for start in range(0, 64, 4):
        store.add("article", np.arange(start, start + 4), vectors[start:start + 4])
    crowding = store.crowding["article"]
    # doubling while the sample was not full (4, 8), then fourfold (32); 64 is not yet 4 x 32
    assert crowding.sampled_from == 32 and len(crowding.reference_ids) == 8
    assert set(crowding.reference_ids.tolist()) <= set(range(32))
    similarities = np.sort(vectors[32:] @ crowding.reference.T, axis=1)[:, -7:]  # 7 = all but one of 8
    assert np.allclose(store.crowding_of("article", np.arange(32, 64)), similarities.mean(axis=1), atol=1e-6)


def test_crowding_is_saved_with_the_index_and_worked_out_again_when_missing(tmp_path: Path) -> None:
    vectors = _unit_rows(np.random.default_rng(9).normal(size=(50, 8)))
    store = VectorStore(8)
    store.add("ticket", np.arange(50), vectors)
    manifest = store.save(tmp_path, Manifest(model="m", dim=8, counts={}, last_outbox_id=1))
    expected = store.crowding_of("ticket", np.arange(50))
    assert np.array_equal(VectorStore.load(tmp_path)[0].crowding_of("ticket", np.arange(50)), expected)

    saved = json.loads((tmp_path / MANIFEST).read_text())
    del saved["files"]["ticket-crowding"]  # a generation saved before crowding existed
    (tmp_path / MANIFEST).write_text(json.dumps(saved))
    assert np.allclose(VectorStore.load(tmp_path)[0].crowding_of("ticket", np.arange(50)), expected)
    (tmp_path / manifest.files["article-crowding"]).write_bytes(b"garbage")
    assert VectorStore.load(tmp_path)[0].count("article") == 0  # unreadable: worked out (here: nothing)


def test_a_store_without_crowding_neither_works_it_out_nor_saves_it(tmp_path: Path) -> None:
    vectors = _unit_rows(np.random.default_rng(4).normal(size=(30, 8)))
    store = VectorStore(8, crowded=False)
    store.add("ticket", np.arange(30), vectors)
    assert not store.crowding_of("ticket", np.arange(30)).any()
    manifest = store.save(tmp_path, Manifest(model="m", dim=8, counts={}, last_outbox_id=1))
    assert set(manifest.files) == {"ticket", "article"} and not list(tmp_path.glob("*.npz"))
    loaded, _ = VectorStore.load(tmp_path, crowded=False)
    assert loaded.count("ticket") == 30 and not loaded.crowding_of("ticket", np.arange(30)).any()
    assert [i for i, _ in loaded.search_many("ticket", vectors[:1], 3, crowding=0.5)[0]] == \
        [i for i, _ in loaded.search("ticket", vectors[0], 3)]


def test_evaluation_runs_each_companion_model_alone_as_a_baseline() -> None:
    """With an English, a Chinese and an extra model, `casewise eval` also shows each of them alone;
    a language's model alone gets an index of its own, reading every text."""
    from types import SimpleNamespace

    from indexer.evaluation import SYSTEMS, _instances, _systems_for
    from indexer.search import fusion_weights

    primary, english, extra, chinese, other = (SimpleNamespace(name=n) for n in ("use", "minilm", "e5", "bge-zh",
                                                                                 "gte"))
    instances = _instances([primary, other], english, extra, chinese)
    assert [(model.name, companions) for model, companions in instances] == [
        ("use", (english, extra, chinese)), ("minilm", (None, None, None)), ("bge-zh", (None, None, None)),
        ("gte", (None, None, None))]
    casewise = fusion_weights(0.0)
    systems = _systems_for(0, primary, extra, casewise)
    assert list(systems) == ["casewise", "bm25", "dense:use", "dense:e5"]
    assert systems["casewise"] is casewise
    assert systems["dense:e5"] == SYSTEMS["dense_extra"] == {"dense_extra": 1.0}
    assert [list(_systems_for(position, model, companions[1], casewise)) for position, (model, companions)
            in enumerate(instances)][1:] == [["dense:minilm"], ["dense:bge-zh"], ["dense:gte"]]
