"""Article API: list, create, edit drafts, review and publish, versions, diff, restore, effectiveness."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from kb import article_workflow as workflow
from kb.clock import utc_now
from kb.effectiveness import effectiveness, record_signal
from kb.knowledge_drafts import draft_from_tickets
from service.article_schemas import (
    ArticleCreate,
    ArticlePage,
    ArticlePatch,
    ArticleState,
    ArticleTransitionBody,
    Audience,
    DraftFromTickets,
    DraftResponse,
    SignalBody,
)
from service.deps import RuntimeDep, ViewerDep
from service.schemas import PathId

router = APIRouter(prefix="/api/v1/articles", tags=["articles"])
Article = dict[str, Any]
Version = Annotated[int, Path(ge=1, le=1_000_000, description="A version number.")]


def _fields(body: ArticleCreate | ArticlePatch) -> dict[str, Any]:
    values = body.model_dump(exclude_unset=True)
    if values.get("review_by") is not None:
        values["review_by"] = values["review_by"].isoformat()
    return values


@router.get("", response_model=ArticlePage)
def list_route(runtime: RuntimeDep, viewer: ViewerDep, status: ArticleState | None = None,
               audience: Audience | None = None, product: Annotated[str | None, Query(max_length=300)] = None,
               owner: Annotated[str | None, Query(max_length=100, description="A name, or 'me'.")] = None,
               q: Annotated[str | None, Query(max_length=200)] = None,
               page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
               page_size: Annotated[int, Query(ge=1)] = 20) -> ArticlePage:
    """Articles you may see (no bodies), most recently changed first."""
    size = min(page_size, runtime.settings.max_page_size)
    filters = workflow.ArticleFilter(status=status, audience=audience, product=product,
                                     owner=viewer.name if owner == "me" else owner, q=q)
    items, total = runtime.database.read(lambda db: workflow.list_articles(db, viewer, filters, page, size))
    return ArticlePage(items=items, total=total, page=page, page_size=size)


@router.post("", status_code=201)
def create_route(body: ArticleCreate, runtime: RuntimeDep, viewer: ViewerDep) -> Article:
    """Start a draft (version 1); you are its owner unless you name one."""
    fields = _fields(body)
    return runtime.database.write(lambda db: workflow.create_article(db, fields, viewer, utc_now()))


@router.post("/from-tickets", status_code=201, response_model=DraftResponse)
def from_tickets_route(body: DraftFromTickets, runtime: RuntimeDep, viewer: ViewerDep) -> DraftResponse:
    """Draft an article from resolved tickets: symptom, cause, steps, products.

    Personal data is removed, and each removal is listed."""
    result = runtime.database.write(
        lambda db: draft_from_tickets(db, body.ticket_ids, viewer, utc_now(), audience=body.audience))
    return DraftResponse(**result)


@router.get("/{article_id}")
def get_route(article_id: PathId, runtime: RuntimeDep, viewer: ViewerDep) -> Article:
    """One article; staff also get the moves they may make, review comments and linked tickets."""
    return runtime.database.read(lambda db: workflow.article_for(db, article_id, viewer))


@router.patch("/{article_id}")
def patch_route(article_id: PathId, body: ArticlePatch, runtime: RuntimeDep, viewer: ViewerDep) -> Article:
    """Edit a draft (409 for other states: move a published article back to draft first)."""
    fields = _fields(body)
    return runtime.database.write(lambda db: workflow.update_draft(db, article_id, fields, viewer, utc_now()))


@router.post("/{article_id}/transitions")
def transition_route(article_id: PathId, body: ArticleTransitionBody, runtime: RuntimeDep,
                     viewer: ViewerDep) -> Article:
    """Move the article; 409 names the allowed moves, or says another reviewer must approve."""
    request = workflow.MoveRequest(to=body.to, comment=body.comment, reviewer=body.reviewer)
    return runtime.database.write(lambda db: workflow.transition(db, article_id, request, viewer, utc_now()))


@router.get("/{article_id}/events")
def events_route(article_id: PathId, runtime: RuntimeDep, viewer: ViewerDep) -> list[dict[str, Any]]:
    """The article's audit trail: every change and move with actor, time, old and new values."""
    return runtime.database.read(lambda db: workflow.article_events(db, article_id, viewer))


@router.get("/{article_id}/versions")
def versions_route(article_id: PathId, runtime: RuntimeDep, viewer: ViewerDep) -> list[dict[str, Any]]:
    """Every version, newest first, with when it was published."""
    return runtime.database.read(lambda db: workflow.list_versions(db, article_id, viewer))


@router.get("/{article_id}/versions/{version}")
def version_route(article_id: PathId, version: Version, runtime: RuntimeDep, viewer: ViewerDep) -> dict[str, Any]:
    """One version: title, markdown body and front matter."""
    return runtime.database.read(lambda db: workflow.get_version(db, article_id, version, viewer))


@router.get("/{article_id}/diff")
def diff_route(article_id: PathId, runtime: RuntimeDep, viewer: ViewerDep,
               from_version: Annotated[int, Query(alias="from", ge=1, le=1_000_000)],
               to_version: Annotated[int, Query(alias="to", ge=1, le=1_000_000)]) -> dict[str, Any]:
    """Differences between two versions: changed fields, side-by-side rows and a unified (inline) diff."""
    return runtime.database.read(
        lambda db: workflow.diff_versions(db, article_id, from_version, to_version, viewer))


@router.post("/{article_id}/versions/{version}/restore")
def restore_route(article_id: PathId, version: Version, runtime: RuntimeDep, viewer: ViewerDep) -> Article:
    """Copy an old version into a new draft version (history is kept)."""
    return runtime.database.write(lambda db: workflow.restore_version(db, article_id, version, viewer, utc_now()))


@router.get("/{article_id}/effectiveness")
def effectiveness_route(article_id: PathId, runtime: RuntimeDep, viewer: ViewerDep) -> dict[str, Any]:
    """Times suggested, opened, 'solved it'; tickets solved by it and their reopen rate; its ranking boost."""
    return runtime.database.read(lambda db: effectiveness(db, article_id, viewer))


@router.post("/{article_id}/signals", status_code=201)
def signal_route(article_id: PathId, body: SignalBody, runtime: RuntimeDep, viewer: ViewerDep) -> dict[str, Any]:
    """Record that the article was suggested, opened, or solved the reader's problem."""
    return runtime.database.write(lambda db: record_signal(
        db, article_id, body.kind, viewer, utc_now(), ticket_id=body.ticket_id, query=body.query))
