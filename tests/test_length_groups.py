"""Query batches are encoded in groups of similar length: the split is the cheapest one."""

from __future__ import annotations

from itertools import combinations

from hypothesis import given
from hypothesis import strategies as st

from indexer.embedder import length_groups


def _cost(lengths: list[int], groups: list[list[int]], call_cost: float) -> float:
    return sum(call_cost + len(group) * max(lengths[i] for i in group) for group in groups)


def _cheapest_run_split(lengths: list[int], call_cost: float) -> float:
    """Every split of the length-sorted texts into runs, tried one by one."""
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    best = float("inf")
    for count in range(len(order)):
        for cuts in combinations(range(1, len(order)), count):
            bounds = [0, *cuts, len(order)]
            groups = [order[a:b] for a, b in zip(bounds, bounds[1:])]
            best = min(best, _cost(lengths, groups, call_cost))
    return best


@given(st.lists(st.integers(1, 80), min_size=1, max_size=8), st.sampled_from([0.0, 10.0, 40.0, 500.0]))
def test_groups_cover_every_text_once_at_the_least_cost(lengths: list[int], call_cost: float) -> None:
    groups = length_groups(lengths, call_cost)
    assert sorted(i for group in groups for i in group) == list(range(len(lengths)))
    assert all(lengths[a] <= lengths[b] for group in groups for a, b in zip(group, group[1:]))
    assert abs(_cost(lengths, groups, call_cost) - _cheapest_run_split(lengths, call_cost)) < 1e-9


def test_similar_lengths_stay_in_one_call_and_a_long_outlier_gets_its_own() -> None:
    assert length_groups([20, 22, 21, 19], 40) == [[3, 0, 2, 1]]
    assert length_groups([12, 60, 11, 10, 13, 12, 11, 14], 40) == [[3, 2, 6, 0, 5, 4, 7], [1]]
    assert length_groups([], 40) == []
