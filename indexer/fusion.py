"""Rank fusion: pure functions over ranked lists of ids."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

RRF_K = 60


def reciprocal_rank_fusion(
    rankings: Mapping[str, Sequence[int]], weights: Mapping[str, float], k: int = RRF_K
) -> dict[int, float]:
    """Weighted RRF: each list adds weight / (k + rank) to every id it ranks (rank from 1)."""
    fused: dict[int, float] = {}
    for name, ids in rankings.items():
        weight = weights.get(name, 1.0)
        for rank, item in enumerate(ids, start=1):
            fused[item] = fused.get(item, 0.0) + weight / (k + rank)
    return fused


def ranked(scores: Mapping[int, float]) -> list[tuple[int, float]]:
    """(id, score) pairs, best first; ties keep a stable id order."""
    return sorted(scores.items(), key=lambda pair: (-pair[1], pair[0]))
