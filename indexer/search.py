"""The suggestion query: dense + keyword candidates, fused, filtered, grouped, explained."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Executor, wait
from dataclasses import dataclass, field
from functools import cached_property
from itertools import islice
from typing import Any

import numpy as np
import sqlite_utils

from indexer.analysis import CODE, highlight_terms, index_terms, latin_share, normalise
from indexer.feedback import FEEDBACK_CHUNKS, FEEDBACK_DEPTH, FEEDBACK_WEIGHT, moved_vector
from indexer.fusion import zscore_ranking
from indexer.highlight import make_snippet
from indexer.index import DenseSpace, SearchIndex
from indexer.vector_store import VectorStore
from kb.article_access import searchable_articles_by_id
from kb.effectiveness import boosts_for
from kb.tickets import indexable_tickets_by_id
from kb.visibility import Viewer

# Weights of the scored lists in z-score fusion (measured on the dev sets: BM25 at
# 0.7 of the dense weight was best or near best on all four). `codes` scores chunks
# holding the query's exact error codes / model numbers, so those rank high.
# `dense_en` (the English model) is further scaled by the query's share of Latin
# letters: an English-only model has nothing to say about Chinese text. At 2.0 it
# beat 1.0 on both English dev sets (MiniLM is much stronger than USE in English).
# `dense_zh` (the Chinese model) is scaled by the share of CJK letters (1 - the Latin share).
# Each language's model only reads queries of its language (indexer.index.LATIN_SHARES).
# `crowding` is not a list: the multilingual model's scores are cos - crowding * r, where r is
# how crowded the chunk's neighbourhood is (indexer/crowding.py), which marks down generic chunks
# near every query. The English model's space keeps no crowding (SearchIndex): corrected too, it
# cost banking77 0.7 points of hit@1 (only stackfaq gained, 0.4 points of MRR@10).
# `dense_zh` and `dense_extra` (the optional extra model for every text) are crowding-corrected like
# the primary; with multilingual-e5-small, 1.0 beat 0.5 on both Chinese dev sets (cached embeddings).
# `feedback` is not a list either: each dense list's candidates are scored again from the query vector
# moved that far toward the best fused chunks (indexer/feedback.py) and fused again; `casewise eval`'s
# baselines go without it; a server's weight is the CASEWISE_FEEDBACK_WEIGHT setting (`fusion_weights`).
FUSION_WEIGHTS = {"dense": 1.0, "dense_en": 2.0, "dense_zh": 1.0, "dense_extra": 1.0, "keyword": 0.7,
                  "codes": 1.0, "crowding": 0.5, "feedback": FEEDBACK_WEIGHT}
# Keyword lists: an id absent from one that was not cut matched no term (see zscore_fusion).
SPARSE_LISTS = frozenset({"keyword", "codes"})
MIN_CANDIDATES = 100


def fusion_weights(feedback: float) -> dict[str, float]:
    """FUSION_WEIGHTS with the given `feedback` weight (0: off, one fusion and dense lists half as deep)."""
    if not 0.0 <= feedback <= 1.0:
        raise ValueError(f"feedback weight {feedback} is outside 0..1")
    return {**FUSION_WEIGHTS, "feedback": feedback}


@dataclass(frozen=True)
class Hit:
    """One suggested ticket or article, with why it matched."""

    kind: str
    entity_id: int
    chunk_id: int
    score: float
    similarity: float | None
    snippet: str
    snippet_html: str
    matched_terms: list[str]
    entity: dict[str, Any]
    heading_path: list[str] = field(default_factory=list)
    anchor: str | None = None


@dataclass(frozen=True)
class Suggestions:
    """Similar resolved cases and best-matching article sections."""

    cases: list[Hit]
    articles: list[Hit]


@dataclass(frozen=True)
class Query:
    """A query analysed once: a vector per embedding space, BM25 terms, exact codes, highlights,
    and its share of Latin letters (which language models read it, at what weight)."""

    text: str
    vectors: dict[str, np.ndarray]
    latin_share: float
    terms: list[str]
    codes: list[str]
    highlights: list[str]


def analyse_query(index: SearchIndex, text: str, weights: Mapping[str, float]) -> Query:
    """Embed and analyse the query text once for every kind searched.

    Each language's model reads only queries of its language, at a weight that follows the query's
    share of that language's letters (see FUSION_WEIGHTS).
    """
    return analyse_queries(index, [text], weights)[0]


def analyse_queries(index: SearchIndex, texts: Sequence[str], weights: Mapping[str, float]) -> list[Query]:
    """`analyse_query` for several texts, with one model call per embedding space for all of them."""
    shares = [latin_share(text) for text in texts]
    vectors: list[dict[str, np.ndarray]] = [{} for _ in texts]
    for space in index.spaces:
        if not weights.get(space.name):
            continue
        wanted = [i for i, share in enumerate(shares) if space.reads(share)]
        if wanted:
            encoded = space.embedder.encode_queries([texts[i] for i in wanted])
            for i, vector in zip(wanted, encoded, strict=True):
                vectors[i][space.name] = vector
    return [_query(text, vectors[i], shares[i]) for i, text in enumerate(texts)]


def _language_weights(weights: Mapping[str, float], share: float) -> Mapping[str, float]:
    """The fusion weights for a query: each language's model scaled by the query's share of its letters."""
    return {**weights, "dense_en": weights.get("dense_en", 0.0) * share,
            "dense_zh": weights.get("dense_zh", 0.0) * (1.0 - share)}


def _query(text: str, vectors: dict[str, np.ndarray], share: float, terms: list[str] | None = None,
           codes: list[str] | None = None) -> Query:
    """The analysed query (`terms` and `codes` when they were worked out already)."""
    return Query(text=text, vectors=vectors, latin_share=share,
                 terms=index_terms(text) if terms is None else terms,
                 codes=_codes(text) if codes is None else codes, highlights=highlight_terms(text))


def _codes(text: str) -> list[str]:
    return list(dict.fromkeys(m.group() for m in CODE.finditer(normalise(text)) if _is_code(m.group())))


def _is_code(token: str) -> bool:
    """Codes worth exact matching mix letters and digits or are long numbers (not '11')."""
    has_digit = any(c.isdigit() for c in token)
    has_alpha = any(c.isalpha() for c in token)
    return has_digit and (has_alpha or len(token) >= 4 or "." in token)


def suggest(
    index: SearchIndex, text: str, k: int, viewer: Viewer, weights: Mapping[str, float] = FUSION_WEIGHTS,
) -> Suggestions:
    """Cases (staff only) and articles for a problem description, best first.

    `weights` selects and weighs the lists (evaluation runs each side alone with it).
    """
    return suggest_many(index, [Ask(text, k, viewer)], weights)[0]


@dataclass(frozen=True)
class Ask:
    """One suggestion query: the problem text, hits per list, and who asks."""

    text: str
    k: int
    viewer: Viewer

    @cached_property
    def kinds(self) -> tuple[str, ...]:
        """Resolved cases are for staff; everyone gets articles (asked once: ranking reads it often)."""
        sees_cases = self.viewer.can("tickets.read.resolved") or self.viewer.can("tickets.read.all")
        return ("ticket", "article") if sees_cases else ("article",)

    @property
    def candidates(self) -> int:
        """Candidates taken from each list before fusion."""
        return max(MIN_CANDIDATES, 5 * self.k)


def suggest_many(index: SearchIndex, asks: Sequence[Ask], weights: Mapping[str, float] = FUSION_WEIGHTS,
                 helper: Executor | None = None) -> list[Suggestions]:
    """`suggest` for several queries together, each answered as alone (scores equal up to float rounding).

    The model runs once for all texts and each vector index is read once for all queries:
    both are far cheaper per query in a batch (a busy server answers the queries waiting together).
    A single query with a `helper` thread (on an otherwise idle server) is split over both threads
    (`_rankings_alone`).
    """
    if helper is not None and len(asks) == 1:
        query, ranking = _rankings_alone(index, asks[0], weights, helper)
        queries, rankings = [query], [ranking]
    else:
        queries = analyse_queries(index, [ask.text for ask in asks], weights)
        rankings = fused_rankings_many(index, queries, asks, weights)
    # every row a suggestion shows comes from one read snapshot (one transaction, not one per list)
    hits = index.database.read(lambda db: [
        {kind: _hits_of_kind(db, index, query, kind, ask.k, ask.viewer, *ranking[kind]) for kind in ask.kinds}
        for query, ask, ranking in zip(queries, asks, rankings, strict=True)])
    return [Suggestions(cases=found.get("ticket", []), articles=found["article"]) for found in hits]


Ranking = tuple[list[tuple[int, float]], dict[int, float]]
# one embedding space searched for a lone query: its name, the query's vector, the nearest chunks per kind
SpaceLists = tuple[str, np.ndarray, dict[str, list[tuple[int, float]]]]


def fused_rankings_many(index: SearchIndex, queries: Sequence[Query], asks: Sequence[Ask],
                        weights: Mapping[str, float]) -> list[dict[str, Ranking]]:
    """Per query, for each kind its ask sees: the fused (chunk id, score) list, best first, and the
    primary dense similarity of each dense hit. The vectors are searched for all queries together;
    with feedback the dense lists are then re-scored (`_fed_back`)."""
    kinds = [kind for kind in ("ticket", "article") if any(kind in ask.kinds for ask in asks)]
    crowding = weights.get("crowding", 0.0)
    with index.search_lock:
        depths = [dense_depth(ask.candidates, weights) for ask in asks]
        dense = {kind: _dense_lists(index, queries, depths, kind, crowding) for kind in kinds}
        keyword = [_keyword_lists_of_kinds(index, query.terms, query.codes, ask, weights)
                   for query, ask in zip(queries, asks, strict=True)]
        # the similarity shown with a hit is the plain cosine of the primary space
        similarity = {kind: [_cosines(index.store, kind, lists.get("dense", []), crowding) for lists in dense[kind]]
                      for kind in kinds}
        rankings = [{kind: _fused(dense[kind][i] | keyword[i][kind], query, ask.candidates, weights,
                                  similarity[kind][i])
                     for kind in ask.kinds} for i, (query, ask) in enumerate(zip(queries, asks, strict=True))]
        first = [{kind: dense[kind][i] for kind in ask.kinds} for i, ask in enumerate(asks)]
        return _fed_back(index, queries, asks, weights, first, keyword, rankings)


def _fed_back(index: SearchIndex, queries: Sequence[Query], asks: Sequence[Ask], weights: Mapping[str, float],
              dense: Sequence[Mapping[str, Mapping[str, list[tuple[int, float]]]]],
              keyword: Sequence[Mapping[str, dict[str, list[tuple[int, float]]]]],
              rankings: list[dict[str, Ranking]]) -> list[dict[str, Ranking]]:
    """With the `feedback` weight, each kind's ranking again: every dense list's candidates scored anew
    from the query vector moved toward the query's best fused chunks of the kind (indexer/feedback.py),
    and fused again with the same keyword lists. `dense`: per query, kind and space, the first dense
    lists (searched `FEEDBACK_DEPTH` times as deep). The similarity shown with a hit stays the query's
    own cosine. Call under the search lock."""
    weight = weights.get("feedback", 0.0)
    if not weight:
        return rankings
    spaces = {space.name: space for space in index.spaces}
    crowding = weights.get("crowding", 0.0)
    again = [dict(ranking) for ranking in rankings]
    for i, (query, ask) in enumerate(zip(queries, asks, strict=True)):
        for kind in ask.kinds:
            fused, similarity = rankings[i][kind]
            top = dict(fused[:FEEDBACK_CHUNKS])
            lists = {name: _rescored(spaces[name].store, kind, scored, query.vectors[name], top, weight, crowding)
                     for name, scored in dense[i][kind].items()}
            again[i][kind] = _fused(lists | keyword[i][kind], query, ask.candidates, weights, similarity)
    return again


def _rescored(store: VectorStore, kind: str, scored: list[tuple[int, float]], vector: np.ndarray,
              top: Mapping[int, float], weight: float, crowding: float) -> list[tuple[int, float]]:
    """A dense list's candidates, best first, scored as the first search scored them (cosine, less
    crowding if the space keeps it) but from `vector` moved toward the `top` fused chunks the space holds."""
    top_ids, top_vectors = store.vectors_of(kind, list(top))
    if not scored or not top_ids:
        return scored
    moved = moved_vector(vector, top_vectors, np.array([top[chunk_id] for chunk_id in top_ids]), weight)
    ids = np.fromiter((chunk_id for chunk_id, _ in scored), dtype=np.int64, count=len(scored))
    scores = store.cosines(kind, moved, ids, vector)
    if crowding and store.crowded:
        scores -= np.float32(crowding) * store.crowding_of(kind, ids)
    order = np.argsort(-scores, kind="stable")
    return list(zip(ids[order].tolist(), scores[order].tolist(), strict=True))


def _rankings_alone(index: SearchIndex, ask: Ask, weights: Mapping[str, float],
                    helper: Executor) -> tuple[Query, dict[str, Ranking]]:
    """`fused_rankings_many` for one query, split over this thread and a `helper` thread.

    With the primary model alone, the helper scores the keywords while this thread encodes the
    query; then each thread searches the primary space for one kind (the helper the last kind the
    ask sees). With other models, the helper encodes the query with the costliest of them (by
    `Embedder.query_ms`) and searches its space, while this thread encodes with the primary model,
    scores the keywords, searches the primary space and then does the same as the helper for any
    further model (with MiniLM and e5: e5 on the helper, MiniLM here). Either way BM25 is summed
    outside the interpreter lock (KeywordIndex.search's `release_gil`), and a kind is fused as soon
    as its lists are in. torch (the traced query graphs included), FAISS and numpy's large
    operations let go of the GIL; the primary (numpy) encode mostly holds it.

    Measured at 100k tickets, primary model only, in process, the 300 bench queries alternated
    query by query with the previous split (keywords here, vectors on the helper), four rounds:
    p50 5.46-7.41 -> 5.25-7.08 ms, p95 7.70-9.96 -> 7.14-9.61 ms, lower in every round. With
    multilingual-e5-small as the extra model (10k tickets, two rounds) it made no difference
    (p95 37.90 -> 37.84 ms): e5's own encode is the critical path.
    The search lock is held from the first encode on (the helper's model may search as soon as it
    has encoded), so an index update waits for one lone query's encodes too.
    """
    share = latin_share(ask.text)
    spaces = [space for space in index.spaces if weights.get(space.name) and space.reads(share)]
    crowding, depth = weights.get("crowding", 0.0), dense_depth(ask.candidates, weights)
    terms, codes = index_terms(ask.text), _codes(ask.text)
    with index.search_lock:  # held until every helper task is done: they read the index
        others = sorted(spaces[1:], key=lambda space: space.embedder.query_ms, reverse=True)
        # (task, the kinds its dense lists cover)
        there = [(helper.submit(_search_space, space, ask, ask.kinds, None, crowding, depth), ask.kinds)
                 for space in others[:1]]
        keywords_there = None if there else helper.submit(_keyword_lists_of_kinds, index, terms, codes, ask,
                                                          weights, True)
        try:
            vectors = {spaces[0].name: spaces[0].embedder.encode_queries([ask.text])[0]} if spaces else {}
            kinds_here = ask.kinds
            if vectors and keywords_there and len(ask.kinds) > 1:
                kinds_here = ask.kinds[:-1]
                there.append((helper.submit(_search_space, spaces[0], ask, ask.kinds[-1:], vectors[spaces[0].name],
                                            crowding, depth), ask.kinds[-1:]))
            keywords_here = None if keywords_there else _keyword_lists_of_kinds(index, terms, codes, ask, weights,
                                                                                 True)
            here = ([_search_space(spaces[0], ask, kinds_here, vectors[spaces[0].name], crowding, depth)]
                    if spaces else [])
            here += [_search_space(space, ask, ask.kinds, None, crowding, depth) for space in others[1:]]
            keywords = keywords_there.result() if keywords_there else keywords_here
            found = {kind: here + [task.result() for task, kinds in there if kind in kinds] for kind in ask.kinds}
            vectors |= {name: vector for searched in found.values() for name, vector, _ in searched}
            query = _query(ask.text, vectors, share, terms, codes)
            rankings = {kind: _fused_kind(index, query, ask, kind, weights, keywords[kind], found[kind])
                        for kind in ask.kinds}
            first = {kind: {name: lists[kind] for name, _, lists in found[kind] if kind in lists} for kind in ask.kinds}
            rankings = _fed_back(index, [query], [ask], weights, [first], [keywords], [rankings])[0]
        finally:
            wait([task for task, _ in there] + ([keywords_there] if keywords_there else []))
    return query, rankings


def _fused_kind(index: SearchIndex, query: Query, ask: Ask, kind: str, weights: Mapping[str, float],
                keyword: dict[str, list[tuple[int, float]]],
                found: list[SpaceLists]) -> Ranking:
    """One kind's fused ranking from its keyword lists and the dense lists of each space searched."""
    dense = {name: lists[kind] for name, _, lists in found if kind in lists}
    return _fused(dense | keyword, query, ask.candidates, weights,
                  _cosines(index.store, kind, dense.get("dense", []), weights.get("crowding", 0.0)))


def _search_space(space: DenseSpace, ask: Ask, kinds: Sequence[str], vector: np.ndarray | None,
                  crowding: float, depth: int) -> SpaceLists:
    """One embedding space's query vector (encoded first when none is given) and `depth` nearest chunks
    of each of `kinds`; a space that keeps crowding is corrected for it."""
    if vector is None:
        vector = space.embedder.encode_queries([ask.text])[0]
    applied = crowding if space.store.crowded else 0.0
    return space.name, vector, {kind: space.store.search_many(kind, vector[None, :], depth, applied)[0]
                                for kind in kinds}


def _dense_lists(index: SearchIndex, queries: Sequence[Query], candidates: Sequence[int], kind: str,
                 crowding: float) -> list[dict[str, list[tuple[int, float]]]]:
    """Per query: each embedding space's nearest chunks of a kind (spaces the query has a vector for),
    as many as its candidates; a space that keeps crowding corrected for it (see FUSION_WEIGHTS).

    Queries wanting the same number are searched together (an approximate kind's crowding re-rank
    reaches deeper for more, so a query searched with a deeper one would not be answered as alone).
    """
    lists: list[dict[str, list[tuple[int, float]]]] = [{} for _ in queries]
    for space in index.spaces:
        for depth in sorted(set(candidates)):
            having = [i for i, query in enumerate(queries) if space.name in query.vectors and candidates[i] == depth]
            if not having:
                continue
            matrix = np.stack([queries[i].vectors[space.name] for i in having])
            found = space.store.search_many(kind, matrix, depth, crowding if space.store.crowded else 0.0)
            for i, scored in zip(having, found, strict=True):
                lists[i][space.name] = scored
    return lists


def _cosines(store: VectorStore, kind: str, scored: list[tuple[int, float]], crowding: float) -> dict[int, float]:
    """Plain cosines of a dense list scored with crowding (score + crowding x r)."""
    if not crowding or not scored:
        return dict(scored)
    ids = np.fromiter((chunk_id for chunk_id, _ in scored), dtype=np.int64, count=len(scored))
    scores = np.fromiter((score for _, score in scored), dtype=np.float32, count=len(scored))
    return dict(zip(ids.tolist(), (scores + np.float32(crowding) * store.crowding_of(kind, ids)).tolist(), strict=True))


def _keyword_lists_of_kinds(index: SearchIndex, terms: list[str], codes: list[str], ask: Ask,
                            weights: Mapping[str, float], release_gil: bool = False,
                            ) -> dict[str, dict[str, list[tuple[int, float]]]]:
    """The BM25 and exact-code lists of each kind the ask sees (`release_gil`: see KeywordIndex.search)."""
    return {kind: _keyword_lists(index, terms, codes, kind, ask.candidates, weights, release_gil)
            for kind in ask.kinds}


def _keyword_lists(index: SearchIndex, terms: list[str], codes: list[str], kind: str, candidates: int,
                   weights: Mapping[str, float], release_gil: bool = False) -> dict[str, list[tuple[int, float]]]:
    lists = {}
    if weights.get("keyword"):
        lists["keyword"] = index.keywords[kind].search(terms, candidates, release_gil)
    if weights.get("codes") and codes:
        lists["codes"] = index.keywords[kind].search(codes, candidates, release_gil)
    return lists


def _fused(lists: Mapping[str, list[tuple[int, float]]], query: Query, candidates: int,
           weights: Mapping[str, float], similarity: dict[int, float]) -> Ranking:
    """The lists' first `candidates` each (a dense list searched deeper for feedback is cut), fused."""
    cut = {name: scored[:candidates] for name, scored in lists.items()}
    return zscore_ranking(cut, _language_weights(weights, query.latin_share), candidates, SPARSE_LISTS), similarity


def dense_depth(candidates: int, weights: Mapping[str, float]) -> int:
    """How many nearest chunks each dense list takes for a fusion of `candidates`: as many, and
    `FEEDBACK_DEPTH` times as many with feedback, which may lift some of those below into the candidates."""
    return candidates * (FEEDBACK_DEPTH if weights.get("feedback") else 1)


def _hits_of_kind(
    db: sqlite_utils.Database, index: SearchIndex, query: Query, kind: str, k: int, viewer: Viewer,
    fused: list[tuple[int, float]], similarity: Mapping[int, float],
) -> list[Hit]:
    """The k best visible entities of a kind, each with its best chunk, read in the caller's snapshot."""
    best = _best_chunk_per_entity(index.chunk_entity[kind], fused)
    page = 3 * k
    batch = list(islice(best, page))
    if kind == "article":
        batch = _with_solved_boost(db, batch)
    chosen: list[tuple[int, float, dict]] = []
    while batch and len(chosen) < k:
        entities = _visible_entities(db, kind, [entity_id for _, entity_id, _ in batch], viewer)
        chosen += [(chunk_id, score, entities[e]) for chunk_id, e, score in batch if e in entities]
        batch = list(islice(best, page))
    chunks = _chunk_rows(db, [chunk_id for chunk_id, _, _ in chosen[:k]])
    return [_hit(kind, chunks[chunk_id], entity, score, similarity.get(chunk_id), query)
            for chunk_id, score, entity in chosen[:k]]


def _with_solved_boost(db: sqlite_utils.Database, head: list[tuple[int, int, float]]) -> list[tuple[int, int, float]]:
    """Add each leading article's bounded 'solved it' boost (kb.effectiveness.solved_boost) and re-sort them."""
    boosts = boosts_for(db, [entity for _, entity, _ in head])
    return sorted(((c, e, s + boosts.get(e, 0.0)) for c, e, s in head), key=lambda hit: -hit[2])


def _best_chunk_per_entity(
    chunk_entity: Mapping[int, int], fused: list[tuple[int, float]]
) -> Iterator[tuple[int, int, float]]:
    """(chunk id, entity id, score) in fused order, keeping each entity's best chunk.

    Lazy: a suggestion reads the first few pages of a list of some hundred chunks.
    """
    seen: set[int] = set()
    for chunk_id, score in fused:
        entity_id = chunk_entity.get(chunk_id)
        if entity_id is not None and entity_id not in seen:
            seen.add(entity_id)
            yield chunk_id, entity_id, score


def _chunk_rows(db: sqlite_utils.Database, chunk_ids: list[int]) -> dict[int, dict[str, Any]]:
    if not chunk_ids:
        return {}
    marks = ",".join("?" * len(chunk_ids))
    rows = db.execute(
        f"SELECT id, entity_id, heading_path, anchor, text FROM chunks WHERE id IN ({marks})", chunk_ids
    ).fetchall()
    return {row["id"]: dict(row) for row in rows}


def _visible_entities(db: sqlite_utils.Database, kind: str, ids: list[int], viewer: Viewer) -> Mapping[int, dict]:
    if kind == "ticket":
        return indexable_tickets_by_id(db, ids)
    return searchable_articles_by_id(db, ids, viewer)


def _hit(kind: str, chunk: dict, entity: dict, score: float, similarity: float | None, query: Query) -> Hit:
    terms = list(dict.fromkeys(query.codes + query.highlights))
    if kind == "ticket":
        shown = entity.get("resolution") or entity.get("description") or ""
        snippet = make_snippet(shown, terms)
        heading_path: list[str] = []
    else:
        text = chunk["text"].split("\n", 1)[-1]
        snippet = make_snippet(text, terms)
        heading_path = json.loads(chunk["heading_path"])
    matched = list(dict.fromkeys(snippet.matched_terms + _matched_in(chunk["text"], terms)))
    return Hit(kind=kind, entity_id=entity["id"], chunk_id=chunk["id"], score=score,
               similarity=similarity, snippet=snippet.text, snippet_html=snippet.html,
               matched_terms=matched, entity=entity, heading_path=heading_path, anchor=chunk["anchor"])


def _matched_in(text: str, terms: list[str]) -> list[str]:
    lowered = normalise(text)
    return [t for t in terms if t in lowered]
