"""Knowledge gaps and near-duplicate articles, from the vectors the search index already holds.

Gaps: resolved tickets of the last N days whose best published article is not similar
enough (cosine of the ticket's problem vector to the nearest article section below
GAP_SCORE_THRESHOLD) are clustered by average-linkage on cosine distance; clusters of at
least GAP_MIN_SIZE tickets are reported, largest first.

Duplicates: article vectors (mean of their section vectors) close by cosine
(DUPLICATE_MIN_COSINE: a rewrite of the same article) or bodies sharing most of their
character 5-shingles (DUPLICATE_MIN_TEXT Jaccard: a copy with edits).

The thresholds were set on the demo data's planted gaps and duplicates; tests/test_knowledge.py
reports precision and recall there, a threshold sweep and a leave-one-article-out check.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import faiss
import numpy as np

from indexer.index import SearchIndex
from kb.clock import parse_iso
from kb.tickets import INDEXABLE_STATUSES

GAP_DAYS = 90
GAP_SCORE_THRESHOLD = 0.5
GAP_CLUSTER_DISTANCE = 0.55
GAP_MIN_SIZE = 3
MAX_GAP_TICKETS = 5000
DUPLICATE_MIN_COSINE = 0.85
DUPLICATE_MIN_TEXT = 0.5
DUPLICATE_NEIGHBOURS = 10
SHINGLE = 5
ARTICLE_CANDIDATES = 200


@dataclass(frozen=True)
class GapTicket:
    """A resolved ticket no article answers well, with its nearest published article."""

    id: int
    number: str
    title: str
    product: str | None
    resolved_at: str
    best_score: float
    best_article_id: int | None


@dataclass(frozen=True)
class Gap:
    """A cluster of similar unanswered tickets; `tickets[0]` is the most central one."""

    label: str
    tickets: list[GapTicket]
    products: dict[str, int]
    best_score: float  # the highest best-article score in the cluster
    cohesion: float  # mean cosine of the tickets to the cluster centre

    @property
    def size(self) -> int:
        """How many tickets the cluster holds."""
        return len(self.tickets)

    @property
    def ticket_ids(self) -> list[int]:
        """Ticket ids, the most central first (the order a draft uses)."""
        return [t.id for t in self.tickets]


@dataclass(frozen=True)
class DuplicatePair:
    """Two articles that say (nearly) the same thing."""

    first: dict[str, Any]
    second: dict[str, Any]
    cosine: float
    text_similarity: float
    reasons: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- vectors held by the index


def chunk_vectors(index: SearchIndex, kind: str, chunk_ids: Sequence[int]) -> tuple[list[int], np.ndarray]:
    """The primary space's vectors of the given chunks, and the ids they belong to.

    Vectors the exact store holds are read back; others (an approximate store, or chunks the
    index has not caught up with yet) are embedded from the chunk text. Chunks deleted in the
    meantime are left out.
    """
    found: dict[int, np.ndarray] = {}
    with index.search_lock:
        store = index.store.indexes[kind]
        if isinstance(store, faiss.IndexIDMap2):
            held = set(index.store.ids(kind).tolist())
            found = {i: store.reconstruct(int(i)) for i in chunk_ids if i in held}
    missing = [i for i in chunk_ids if i not in found]
    if missing:
        texts = index.database.read(lambda db: {r[0]: r[1] for r in db.execute(
            f"SELECT id, text FROM chunks WHERE id IN ({','.join('?' * len(missing))})", missing)})
        embedded = index.embedder.encode_documents([texts[i] for i in missing if i in texts])
        found |= dict(zip([i for i in missing if i in texts], embedded, strict=True))
    kept = [i for i in chunk_ids if i in found]
    vectors = np.vstack([found[i] for i in kept]) if kept else np.zeros((0, index.store.dim))
    return kept, vectors.astype(np.float32)


def best_article_scores(index: SearchIndex, vectors: np.ndarray,
                        articles: Collection[int]) -> tuple[np.ndarray, list[int | None]]:
    """For each vector, the best cosine to a section of one of `articles`, and that article's id."""
    scores, best = np.zeros(len(vectors), dtype=np.float32), [None] * len(vectors)
    with index.search_lock:
        store = index.store.indexes["article"]
        k = min(ARTICLE_CANDIDATES, store.ntotal)
        if not k or not len(vectors):
            return scores, best
        found_scores, found_ids = store.search(np.ascontiguousarray(vectors, dtype=np.float32), k)
        owner = index.chunk_entity["article"]
    for row, (row_scores, row_ids) in enumerate(zip(found_scores, found_ids, strict=True)):
        for score, chunk_id in zip(row_scores, row_ids, strict=True):
            if owner.get(int(chunk_id)) in articles:
                scores[row], best[row] = score, owner[int(chunk_id)]
                break
    return scores, best


# ---------------------------------------------------------------- gaps


def cluster_vectors(vectors: np.ndarray, max_distance: float) -> list[list[int]]:
    """Average-linkage clusters of unit vectors cut at a cosine distance; row numbers, largest first."""
    if len(vectors) < 2:
        return [[i] for i in range(len(vectors))]
    from scipy.cluster.hierarchy import fcluster, linkage

    labels = fcluster(linkage(vectors, method="average", metric="cosine"), t=max_distance, criterion="distance")
    groups: dict[int, list[int]] = {}
    for row, label in enumerate(labels):
        groups.setdefault(int(label), []).append(row)
    return sorted(groups.values(), key=lambda g: (-len(g), g[0]))


def knowledge_gaps(index: SearchIndex, now: datetime, days: int = GAP_DAYS,
                   threshold: float = GAP_SCORE_THRESHOLD, max_distance: float = GAP_CLUSTER_DISTANCE,
                   min_size: int = GAP_MIN_SIZE, without_articles: Collection[int] = ()) -> list[Gap]:
    """Clusters of recent resolved tickets that no published article answers well, largest first.

    `without_articles` leaves articles out as if they did not exist (used to check the method).
    """
    tickets = _recent_tickets(index, now - timedelta(days=days))
    kept, vectors = chunk_vectors(index, "ticket", [t["chunk_id"] for t in tickets])
    tickets = [t for t in tickets if t["chunk_id"] in set(kept)]
    published = set(index.database.read(lambda db: [r[0] for r in db.execute(
        "SELECT id FROM articles WHERE status = 'published'")])) - set(without_articles)
    scores, nearest = best_article_scores(index, vectors, published)
    open_rows = [i for i, score in enumerate(scores) if score < threshold]
    gaps = []
    for group in cluster_vectors(vectors[open_rows], max_distance):
        if len(group) >= min_size:
            rows = [open_rows[i] for i in group]
            gaps.append(_gap([tickets[r] for r in rows], vectors[rows], scores[rows], [nearest[r] for r in rows]))
    return sorted(gaps, key=lambda g: (-g.size, g.best_score))


def _recent_tickets(index: SearchIndex, since: datetime) -> list[dict[str, Any]]:
    """Resolved/closed tickets resolved since `since` (newest first, at most MAX_GAP_TICKETS) with their chunk."""
    marks = ",".join("?" * len(INDEXABLE_STATUSES))
    rows = index.database.read(lambda db: [dict(r) for r in db.execute(
        "SELECT t.id, t.number, t.title, t.product, t.resolved_at, c.id AS chunk_id FROM tickets t"
        " JOIN chunks c ON c.kind = 'ticket' AND c.entity_id = t.id AND c.position = 0"
        f" WHERE t.status IN ({marks}) AND t.resolved_at >= ? ORDER BY t.resolved_at DESC, t.id DESC",
        [*INDEXABLE_STATUSES, (since - timedelta(days=1)).date().isoformat()])])
    return [r for r in rows if parse_iso(r["resolved_at"]) >= since][:MAX_GAP_TICKETS]


def _gap(tickets: list[dict[str, Any]], vectors: np.ndarray, scores: np.ndarray,
         nearest: list[int | None]) -> Gap:
    centre = vectors.mean(axis=0)
    centre /= np.linalg.norm(centre) or 1.0
    closeness = vectors @ centre
    order = np.argsort(-closeness, kind="stable")
    members = [GapTicket(id=tickets[i]["id"], number=tickets[i]["number"], title=tickets[i]["title"],
                         product=tickets[i]["product"], resolved_at=tickets[i]["resolved_at"],
                         best_score=round(float(scores[i]), 4), best_article_id=nearest[i]) for i in order]
    products = Counter(t.product for t in members if t.product)
    return Gap(label=members[0].title, tickets=members, products=dict(products.most_common()),
               best_score=round(float(scores.max()), 4), cohesion=round(float(closeness.mean()), 4))


# ---------------------------------------------------------------- duplicates


def shingles(text: str, size: int = SHINGLE) -> set[str]:
    """Character shingles of a text with case, spaces and punctuation removed."""
    flat = re.sub(r"[\W_]+", "", text.lower())
    return {flat[i:i + size] for i in range(max(len(flat) - size + 1, 1))}


def jaccard(first: set[str], second: set[str]) -> float:
    """|A ∩ B| / |A ∪ B| (0 for two empty sets)."""
    union = len(first | second)
    return len(first & second) / union if union else 0.0


def near_duplicates(index: SearchIndex, min_cosine: float = DUPLICATE_MIN_COSINE,
                    min_text: float = DUPLICATE_MIN_TEXT, owner: str | None = None) -> list[DuplicatePair]:
    """Pairs of live (not archived) articles that are near-duplicates, most similar first."""
    articles = index.database.read(lambda db: [dict(r) for r in db.execute(
        "SELECT id, slug, title, status, audience, owner, body FROM articles WHERE status != 'archived'"
        " ORDER BY id")])
    vectors, articles = _article_vectors(index, articles)
    pairs = []
    for i, j, cosine in _neighbour_pairs(vectors):
        first, second = articles[i], articles[j]
        if owner and owner not in (first["owner"], second["owner"]):
            continue
        text = jaccard(_article_shingles(first), _article_shingles(second))
        reasons = [name for name, hit in (("embedding", cosine >= min_cosine), ("text", text >= min_text)) if hit]
        if reasons:
            pairs.append(DuplicatePair(_brief(first), _brief(second), round(cosine, 4), round(text, 4), reasons))
    return sorted(pairs, key=lambda p: (-max(p.cosine, p.text_similarity), p.first["id"], p.second["id"]))


def _article_shingles(article: dict[str, Any]) -> set[str]:
    return shingles(f"{article['title']}\n{article['body']}")


def _article_vectors(index: SearchIndex,
                     articles: list[dict[str, Any]]) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Unit mean of each article's section vectors (articles without sections are left out)."""
    wanted = {a["id"] for a in articles}
    with index.search_lock:
        owner = {c: a for c, a in index.chunk_entity["article"].items() if a in wanted}
    kept_ids, found = chunk_vectors(index, "article", sorted(owner))
    sums: dict[int, np.ndarray] = {}
    for chunk_id, vector in zip(kept_ids, found, strict=True):
        sums[owner[chunk_id]] = sums.get(owner[chunk_id], 0) + vector
    kept = [a for a in articles if a["id"] in sums]
    if not kept:
        return np.zeros((0, index.store.dim), dtype=np.float32), []
    matrix = np.vstack([sums[a["id"]] for a in kept]).astype(np.float32)
    matrix /= np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
    return matrix, kept


def _neighbour_pairs(vectors: np.ndarray) -> list[tuple[int, int, float]]:
    """(i, j, cosine) with i < j for each article's nearest neighbours."""
    if len(vectors) < 2:
        return []
    flat = faiss.IndexFlatIP(vectors.shape[1])
    flat.add(vectors)
    scores, ids = flat.search(vectors, min(DUPLICATE_NEIGHBOURS + 1, len(vectors)))
    pairs = {}
    for i, (row_scores, row_ids) in enumerate(zip(scores, ids, strict=True)):
        for score, j in zip(row_scores, row_ids, strict=True):
            if j >= 0 and j != i:
                pairs[(min(i, int(j)), max(i, int(j)))] = float(score)
    return [(i, j, score) for (i, j), score in sorted(pairs.items())]


def _brief(article: dict[str, Any]) -> dict[str, Any]:
    return {k: article[k] for k in ("id", "slug", "title", "status", "audience", "owner")}
