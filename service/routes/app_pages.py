"""The web app's pages: new ticket with live suggestions, agent console, ticket page, knowledge base."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from indexer.markdown import render_html
from kb import activity, triage
from kb import article_workflow as workflow
from kb.article_access import staff_article
from kb.articles import get_article_by_slug
from kb.effectiveness import record_signal
from kb.errors import NotFound
from kb.lifecycle import allowed_moves
from kb.lifecycle_defaults import OPEN_STATES, STATES, WAITING_REASONS
from kb.teams import list_teams
from kb.ticket_queries import TicketFilter, list_tickets, ticket_for, timeline_for
from kb.visibility import Viewer
from service.deps import OptionalViewerDep, RuntimeDep
from service.i18n import label, language_of
from service.schemas import PathId
from service.web import render, to_sign_in

router = APIRouter(include_in_schema=False)
ANONYMOUS = Viewer(name="anonymous", role="requester")
QUEUES = ("mine", "team", "unassigned", "breaching", "all")
PRODUCTS = ("printer", "network", "erp", "mail", "desktop")
CONSOLE_ROWS = 200


@router.get("/")
def home(viewer: OptionalViewerDep) -> Response:
    """Staff start at the console, requesters at the problem form."""
    if viewer is None:
        return RedirectResponse("/login", status_code=303)
    return RedirectResponse("/console" if viewer.is_staff else "/tickets/new", status_code=303)


@router.get("/tickets/new", response_class=HTMLResponse)
def new_ticket_page(request: Request, viewer: OptionalViewerDep) -> Response:
    """The problem form; suggestions appear while typing."""
    if viewer is None:
        return to_sign_in(request)
    return render(request, "new_ticket.html", viewer, products=PRODUCTS)


@router.get("/console", response_class=HTMLResponse)
def console_page(request: Request, runtime: RuntimeDep, viewer: OptionalViewerDep,
                 queue: Annotated[str, Query(max_length=20)] = "mine",
                 q: Annotated[str | None, Query(max_length=200)] = None,
                 status: Annotated[str | None, Query(max_length=20)] = None) -> Response:
    """Queues with SLA countdowns (staff)."""
    if viewer is None:
        return to_sign_in(request)
    if not viewer.is_staff:
        raise NotFound("the console is for support staff")
    queue = queue if queue in QUEUES else "mine"
    status = status if status in OPEN_STATES else None
    filters = replace(_queue_filter(queue, viewer, q), status=status)
    items, total = runtime.database.read(lambda db: list_tickets(db, viewer, filters, 1, CONSOLE_ROWS))
    return render(request, "console.html", viewer, queue=queue, queues=QUEUES, items=items, total=total, q=q or "",
                  status=status or "", statuses=OPEN_STATES)


def _queue_filter(queue: str, viewer: Viewer, q: str | None) -> TicketFilter:
    common: dict[str, Any] = {"q": q, "open_only": True, "by_due": True}
    if queue == "mine":
        return TicketFilter(assignee=viewer.name, **common)
    if queue == "team":
        return TicketFilter(team=viewer.teams[0] if viewer.teams else "-", **common)
    if queue == "unassigned":
        return TicketFilter(unassigned=True, **common)
    if queue == "breaching":
        return TicketFilter(at_risk=True, **common)
    return TicketFilter(**common)


@router.get("/tickets/{ticket_id}", response_class=HTMLResponse)
def ticket_page(request: Request, runtime: RuntimeDep, viewer: OptionalViewerDep,
                ticket_id: PathId) -> Response:
    """Details, timeline, comments, actions, visits, similar cases and the triage proposal."""
    if viewer is None:
        return to_sign_in(request)

    def read(db: Any) -> dict[str, Any]:
        ticket = ticket_for(db, ticket_id, viewer)
        return {
            "ticket": ticket, "events": timeline_for(db, ticket_id, viewer),
            "comments": activity.comments_for(db, ticket_id, viewer),
            "visits": activity.visits_for(db, ticket_id, viewer),
            "moves": sorted(allowed_moves(db, ticket["status"], viewer.role), key=_move_order),
            "triage": triage.get_proposal(db, ticket_id) if viewer.is_staff else None,
            "teams": list_teams(db) if viewer.is_staff else [],
        }

    data = runtime.database.read(read)
    return render(request, "ticket.html", viewer, waiting_reasons=WAITING_REASONS, **data)


# Forward moves first; giving up on a ticket (merge, cancel) last.
MOVE_ORDER = ("triaged", "assigned", "in_progress", "waiting", "escalated", "resolved", "closed", "reopened",
              "merged", "cancelled")


def _move_order(move: Any) -> int:
    return MOVE_ORDER.index(move.to_status) if move.to_status in MOVE_ORDER else len(MOVE_ORDER)


@router.get("/articles/{slug}", response_class=HTMLResponse)
def article_page(slug: Annotated[str, Path(max_length=200)], request: Request, runtime: RuntimeDep,
                 signed_in: OptionalViewerDep) -> HTMLResponse:
    """A published article rendered from markdown (raw HTML shown as text, unsafe links dropped).

    Public articles are readable without signing in (a help centre); internal ones need staff.
    """
    viewer = signed_in or ANONYMOUS
    article = runtime.database.read(lambda db: get_article_by_slug(db, slug))
    visible = article["status"] == "published" and (viewer.is_staff or article["audience"] == "public")
    if not visible:
        raise NotFound(f"article '{slug}' does not exist")
    if signed_in is not None:
        runtime.database.write(lambda db: record_signal(db, article["id"], "opened", signed_in, datetime.now(UTC)))
    return render(request, "article.html", signed_in, article=article, body_html=render_html(article["body"]))


@router.get("/kb", response_class=HTMLResponse)
def kb_page(request: Request, runtime: RuntimeDep, signed_in: OptionalViewerDep,
            q: Annotated[str | None, Query(max_length=200)] = None) -> Response:
    """Article list; a search uses the same hybrid search as suggestions."""
    viewer = signed_in or ANONYMOUS
    if q and q.strip():
        client = request.client.host if request.client else "unknown"
        runtime.suggest_limiter.check(viewer.name if signed_in else f"ip:{client}")
        # through the search threads, like the API: the number of queries embedding at once stays bounded
        found = runtime.suggester.answer(q.strip(), runtime.settings.max_k, viewer,
                                         runtime.settings.query_timeout_seconds)
        items = [{**hit.entity, "heading_path": hit.heading_path, "snippet_html": hit.snippet_html,
                  "url": f"/articles/{hit.entity['slug']}" + (f"#{hit.anchor}" if hit.anchor else "")}
                 for hit in found.articles]
    else:
        filters = workflow.ArticleFilter()
        items = runtime.database.read(lambda db: workflow.list_articles(db, viewer, filters, 1, 200)[0])
        items = [{**a, "url": f"/articles/{a['slug']}"} for a in items]
    return render(request, "kb.html", signed_in, items=items, q=q or "")


@router.get("/kb/new", response_class=HTMLResponse)
def new_article_page(request: Request, viewer: OptionalViewerDep) -> Response:
    """The editor for a new article (authors)."""
    if viewer is None:
        return to_sign_in(request)
    if not viewer.can("articles.write"):
        raise NotFound("the editor is for knowledge-base authors")
    return render(request, "editor.html", viewer, article=None, moves=[])


@router.get("/kb/{article_id}/edit", response_class=HTMLResponse)
def edit_article_page(request: Request, runtime: RuntimeDep, viewer: OptionalViewerDep,
                      article_id: PathId) -> Response:
    """The editor with live preview, review actions and versions."""
    if viewer is None:
        return to_sign_in(request)
    if not viewer.can("articles.write"):
        raise NotFound("the editor is for knowledge-base authors")
    article = runtime.database.read(lambda db: workflow.article_for(db, article_id, viewer))
    return render(request, "editor.html", viewer, article=article, moves=article.get("allowed_moves", []))


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard_page(request: Request, runtime: RuntimeDep, viewer: OptionalViewerDep) -> Response:
    """Charts of the support metrics (the same API as the CSV export and the weekly report)."""
    if viewer is None:
        return to_sign_in(request)
    if not viewer.can("metrics.read"):
        raise NotFound("the dashboard is for managers")
    teams = runtime.database.read(list_teams)
    today = datetime.now(ZoneInfo(runtime.rules.calendar.timezone)).date()
    return render(request, "dashboard.html", viewer, teams=teams, products=PRODUCTS,
                  start=(today - timedelta(weeks=12)).isoformat(), end=today.isoformat(),
                  status_labels={**{k: label(k, language_of(request)) for k in STATES}, **_reason_labels(request)})


def _reason_labels(request: Request) -> dict[str, str]:
    """The manuals' delay reasons A–D in the page language."""
    zh = language_of(request) == "zh"
    return {key: text.split(" / ")[0 if zh else 1] for key, text in WAITING_REASONS.items()}


@router.get("/knowledge", response_class=HTMLResponse)
def knowledge_page(request: Request, viewer: OptionalViewerDep) -> Response:
    """Knowledge gaps, stale articles and near-duplicates, for authors and reviewers."""
    if viewer is None:
        return to_sign_in(request)
    if not viewer.can("articles.write"):
        raise NotFound("knowledge upkeep is for authors and reviewers")
    return render(request, "knowledge.html", viewer)


@router.get("/kb/{article_id}/versions", response_class=HTMLResponse)
def versions_page(request: Request, runtime: RuntimeDep, viewer: OptionalViewerDep,
                  article_id: PathId) -> Response:
    """An article's versions, a side-by-side diff of any two, and restore."""
    if viewer is None:
        return to_sign_in(request)

    def read(db: Any) -> dict[str, Any]:
        return {"article": staff_article(db, article_id, viewer),
                "versions": workflow.list_versions(db, article_id, viewer)}

    return render(request, "versions.html", viewer, **runtime.database.read(read))
