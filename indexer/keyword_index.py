"""An in-memory BM25 index over analysed terms, ids = chunk ids.

Postings are kept per term as numpy arrays (rebuilt lazily after changes), so a
query costs one vectorised add per query term. Removed documents are masked
until the next compaction.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable

import numpy as np

K1 = 1.2
B = 0.75


class KeywordIndex:
    """Okapi BM25 over pre-analysed terms."""

    def __init__(self) -> None:
        self._row_of: dict[int, int] = {}
        self._ids: list[int] = []
        self._lengths: list[int] = []
        self._alive: list[bool] = []
        self._pending: dict[str, list[tuple[int, int]]] = defaultdict(list)
        self._postings: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        # (lengths, alive, length normaliser) as arrays; rebuilt lazily after a change
        self._arrays: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        # per term: live rows and their BM25 contributions, valid until the next change
        self._weights: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._dead = 0
        self._total_length = 0
        self._live = 0

    def __len__(self) -> int:
        return self._live

    def add(self, chunk_id: int, terms: list[str]) -> None:
        """Index one chunk (replacing it if already present)."""
        if chunk_id in self._row_of:
            self.remove(chunk_id)
        row = len(self._ids)
        counts = Counter(terms)
        self._row_of[chunk_id] = row
        self._ids.append(chunk_id)
        self._lengths.append(len(terms))
        self._alive.append(True)
        for term, tf in counts.items():
            self._pending[term].append((row, tf))
        self._total_length += len(terms)
        self._live += 1
        self._changed()

    def add_many(self, items: Iterable[tuple[int, list[str]]]) -> None:
        """Index many chunks."""
        for chunk_id, terms in items:
            self.add(chunk_id, terms)

    def remove(self, chunk_id: int) -> None:
        """Forget a chunk (unknown ids are ignored)."""
        row = self._row_of.pop(chunk_id, None)
        if row is None:
            return
        self._alive[row] = False
        self._total_length -= self._lengths[row]
        self._live -= 1
        self._dead += 1
        self._changed()

    def _changed(self) -> None:
        """Lengths, document frequencies and the average length moved: cached scores are stale."""
        self._arrays = None
        self._weights = {}

    def ids(self) -> set[int]:
        """Chunk ids currently indexed."""
        return set(self._row_of)

    def search(self, terms: list[str], k: int) -> list[tuple[int, float]]:
        """The k best chunk ids by BM25 with their scores, best first."""
        if not self._live or not terms or k <= 0:
            return []
        scores = self._scores(list(dict.fromkeys(terms)))
        positive = np.flatnonzero(scores > 0)
        if positive.size == 0:
            return []
        if positive.size > k:
            positive = positive[np.argpartition(-scores[positive], k - 1)[:k]]
        top = positive[np.argsort(-scores[positive], kind="stable")]
        return [(self._ids[row], float(scores[row])) for row in top]

    def _scores(self, terms: list[str]) -> np.ndarray:
        self._compact_postings()
        scores = np.zeros(len(self._ids), dtype=np.float32)
        for term in terms:
            weighted = self._weights.get(term)
            if weighted is None:
                weighted = self._weights[term] = self._term_weights(term)
            rows, contributions = weighted
            scores[rows] += contributions
        return scores

    def _term_weights(self, term: str) -> tuple[np.ndarray, np.ndarray]:
        """A term's live rows and BM25 contributions (computed once per index state, reused by queries)."""
        posting = self._postings.get(term)
        if posting is None:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        _, alive, norm = self._cached_arrays()
        rows, tfs = posting
        if self._dead:
            keep = alive[rows]
            rows, tfs = rows[keep], tfs[keep]
        df = len(rows)
        if df == 0:
            return rows, tfs
        idf = math.log(1 + (self._live - df + 0.5) / (df + 0.5))
        return rows, (idf * tfs * (K1 + 1) / (tfs + norm[rows])).astype(np.float32)

    def _cached_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self._arrays is None:
            lengths = np.asarray(self._lengths, dtype=np.float32)
            average = self._total_length / max(self._live, 1)
            norm = (K1 * (1 - B + B * lengths / max(average, 1e-9))).astype(np.float32)
            self._arrays = (lengths, np.asarray(self._alive, dtype=bool), norm)
        return self._arrays

    def _compact_postings(self) -> None:
        """Merge pending additions into the numpy postings."""
        if not self._pending:
            return
        for term, entries in self._pending.items():
            rows = np.fromiter((r for r, _ in entries), dtype=np.int64, count=len(entries))
            tfs = np.fromiter((t for _, t in entries), dtype=np.float32, count=len(entries))
            if term in self._postings:
                old_rows, old_tfs = self._postings[term]
                rows, tfs = np.concatenate([old_rows, rows]), np.concatenate([old_tfs, tfs])
            self._postings[term] = (rows, tfs)
        self._pending.clear()
