"""Rank fusion: pure functions over scored candidate lists.

`zscore_fusion` is the default: each list's scores are standardised over its
own candidates (mean 0, deviation 1) and summed with weights. Measured on the
dev sets it beat reciprocal-rank fusion by 0.5-3 points (recall@10 and MRR@10),
because it keeps how far ahead a strong match is instead of only its rank.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

import numpy as np

Scored = Sequence[tuple[int, float]]


def zscore_fusion(lists: Mapping[str, Scored], weights: Mapping[str, float], depth: int,
                  sparse: Collection[str] = ()) -> dict[int, float]:
    """Weighted sum of per-list standardised scores.

    An id absent from a list gets that list's lowest score (its true score is at
    most that, or the list does not hold it), except in a `sparse` list not cut at
    `depth`, where it scores 0: it matched nothing. Giving a dense list's absent ids 0
    would rank them by how far 0 lies below its cosines, divided by a deviation that is
    tiny when a space holds only a few chunks (one language's): scores of -100 and worse.
    In numpy: a suggestion fuses a few lists of some hundred ids per kind on every keystroke.
    """
    items, fused = _fused_columns(lists, weights, depth, sparse)
    return dict(zip(items.tolist(), fused.tolist(), strict=True))


def zscore_ranking(lists: Mapping[str, Scored], weights: Mapping[str, float], depth: int,
                   sparse: Collection[str] = ()) -> list[tuple[int, float]]:
    """`zscore_fusion`'s (id, score) pairs, best first, equal scores by id (sorted in numpy: a suggestion
    ranks some hundred ids per kind on every keystroke)."""
    items, fused = _fused_columns(lists, weights, depth, sparse)
    order = np.lexsort((items, -fused))
    return list(zip(items[order].tolist(), fused[order].tolist(), strict=True))


def _fused_columns(lists: Mapping[str, Scored], weights: Mapping[str, float], depth: int,
                   sparse: Collection[str]) -> tuple[np.ndarray, np.ndarray]:
    """The ids of every used list (ascending) and their fused scores (see `zscore_fusion`)."""
    used = {name: scored for name, scored in lists.items() if scored and weights.get(name)}
    if not used:
        return np.empty(0, dtype=np.int64), np.empty(0)
    columns = {name: _columns(scored) for name, scored in used.items()}
    items = np.unique(np.concatenate([ids for ids, _ in columns.values()]))
    fused = np.zeros(len(items))
    for name, (ids, scores) in columns.items():
        mean = scores.mean()
        deviation = scores.std() or 1.0
        floor = 0.0 if name in sparse and len(scores) < depth else scores.min()
        weight = weights[name] / deviation
        standardised = np.full(len(items), weight * (floor - mean))
        standardised[np.searchsorted(items, ids)] = weight * (scores - mean)
        fused += standardised
    return items, fused


def _columns(scored: Scored) -> tuple[np.ndarray, np.ndarray]:
    ids = np.fromiter((item for item, _ in scored), dtype=np.int64, count=len(scored))
    scores = np.fromiter((score for _, score in scored), dtype=np.float64, count=len(scored))
    return ids, scores
