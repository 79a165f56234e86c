"""Triage proposals: the nearest resolved cases vote on category, priority and team."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from indexer.index import SearchIndex
from indexer.search import FUSION_WEIGHTS, suggest
from kb.triage import vote
from kb.visibility import Viewer

TRIAGE_NEIGHBOURS = 10
_TRIAGE_VIEWER = Viewer(name="triage", role="agent")


def triage_proposal(index: SearchIndex, text: str, weights: Mapping[str, float] = FUSION_WEIGHTS) -> dict[str, Any]:
    """Category, priority and team with a confidence each, from the most similar resolved cases (found with
    the fusion `weights`)."""
    found = suggest(index, text, TRIAGE_NEIGHBOURS, _TRIAGE_VIEWER, weights)
    return vote([(hit.entity, hit.similarity or 0.0) for hit in found.cases])
