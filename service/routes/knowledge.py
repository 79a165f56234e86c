"""Knowledge upkeep API (staff): gaps in the knowledge base, stale articles, near-duplicates."""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from indexer import knowledge
from kb.article_access import can_see
from kb.effectiveness import stale_articles
from kb.errors import NotFound
from kb.visibility import Viewer
from service.article_schemas import DuplicateOut, GapOut, GapReport
from service.deps import RuntimeDep, ViewerDep

router = APIRouter(prefix="/api/v1/knowledge", tags=["knowledge"])
Owner = Annotated[str | None, Query(max_length=100, description="Only this owner's articles; 'me' for yours.")]
DRAFT_URL = "/api/v1/articles/from-tickets"


def _staff_only(viewer: Viewer) -> None:
    if not viewer.is_staff:
        raise NotFound("knowledge reports are for support staff")


def _owner(owner: str | None, viewer: Viewer) -> str | None:
    return viewer.name if owner == "me" else owner


@router.get("/gaps", response_model=GapReport)
async def gaps_route(
    runtime: RuntimeDep, viewer: ViewerDep,
    days: Annotated[int, Query(ge=1, le=3650, description="Resolved in the last N days.")] = knowledge.GAP_DAYS,
    threshold: Annotated[float, Query(gt=0, lt=1, description="Best article cosine below which a ticket is "
                                      "unanswered.")] = knowledge.GAP_SCORE_THRESHOLD,
    max_distance: Annotated[float, Query(gt=0, lt=2, description="Cluster cut (cosine distance, average "
                                         "linkage).")] = knowledge.GAP_CLUSTER_DISTANCE,
    min_size: Annotated[int, Query(ge=2, le=1000)] = knowledge.GAP_MIN_SIZE,
) -> GapReport:
    """Clusters of resolved tickets that no published article answers well, largest first, each with a
    ready request to draft an article from its tickets."""
    _staff_only(viewer)
    loop = asyncio.get_running_loop()
    gaps = await loop.run_in_executor(runtime.search_pool, lambda: knowledge.knowledge_gaps(
        runtime.index, datetime.now(UTC), days, threshold, max_distance, min_size))
    return GapReport(gaps=[_gap(g) for g in gaps], days=days, threshold=threshold, max_distance=max_distance,
                     min_size=min_size)


def _gap(gap: knowledge.Gap) -> GapOut:
    return GapOut(label=gap.label, size=gap.size, products=gap.products, best_score=gap.best_score,
                  cohesion=gap.cohesion, tickets=[asdict(t) for t in gap.tickets],
                  draft={"method": "POST", "url": DRAFT_URL, "body": {"ticket_ids": gap.ticket_ids}})


@router.get("/stale")
def stale_route(runtime: RuntimeDep, viewer: ViewerDep, owner: Owner = None,
                today: Annotated[date | None, Query(description="Default: today (UTC).")] = None,
                ) -> list[dict[str, Any]]:
    """Published articles past their review-by date or linked to reopened tickets."""
    _staff_only(viewer)
    day = today or datetime.now(UTC).date()
    return runtime.database.read(lambda db: stale_articles(db, day, _owner(owner, viewer)))


@router.get("/duplicates", response_model=list[DuplicateOut])
async def duplicates_route(
    runtime: RuntimeDep, viewer: ViewerDep, owner: Owner = None,
    min_cosine: Annotated[float, Query(gt=0, le=1)] = knowledge.DUPLICATE_MIN_COSINE,
    min_text: Annotated[float, Query(gt=0, le=1)] = knowledge.DUPLICATE_MIN_TEXT,
) -> list[DuplicateOut]:
    """Pairs of near-duplicate articles (by embedding and by text), most similar first."""
    _staff_only(viewer)
    loop = asyncio.get_running_loop()
    pairs = await loop.run_in_executor(runtime.search_pool, lambda: knowledge.near_duplicates(
        runtime.index, min_cosine, min_text, _owner(owner, viewer)))
    return [DuplicateOut(**asdict(p)) for p in pairs
            if can_see(p.first, viewer) and can_see(p.second, viewer)]
