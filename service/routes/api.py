"""JSON API under /api/v1 and the health check."""

from __future__ import annotations

import asyncio
import os
import time

from fastapi import APIRouter, HTTPException, Request

from indexer.markdown import render_html
from indexer.search import Hit, Suggestions
from kb.errors import InvalidInput
from service.deps import RuntimeDep, SettingsDep, ViewerDep
from service.schemas import (
    ArticleHit,
    CaseHit,
    ErrorBody,
    Health,
    PreviewRequest,
    PreviewResponse,
    SuggestRequest,
    SuggestResponse,
)
from service.suggest_batch import timed_out

router = APIRouter()
TIMEOUT = {503: {"model": ErrorBody, "description": "The query ran past CASEWISE_QUERY_TIMEOUT_SECONDS."}}


@router.get("/healthz", response_model=Health, tags=["ops"])
def healthz(runtime: RuntimeDep) -> Health:
    """Liveness: the models in use, vectors held per kind and space, outbox rows not yet indexed, and
    suggestion queries this process dropped unanswered."""
    index = runtime.index
    counts = {(kind if space.name == "dense" else f"{kind}:{space.name}"): space.store.count(kind)
              for space in index.spaces for kind in ("ticket", "article")}
    return Health(status="ok", model=index.embedder.name, models=[s.embedder.name for s in index.spaces],
                  vectors=counts, pending_outbox=index.pending_outbox(), pid=os.getpid(),
                  suggestions_dropped=runtime.suggester.dropped)


# nginx's code for "client closed the request"; nobody receives it (uvicorn neither sends nor logs it)
CLIENT_GONE = 499


@router.post("/api/v1/suggest", response_model=SuggestResponse, responses=TIMEOUT, tags=["search"])
async def suggest_route(body: SuggestRequest, request: Request, runtime: RuntimeDep, settings: SettingsDep,
                        viewer: ViewerDep) -> SuggestResponse:
    """Similar resolved cases and the best section of matching articles for a problem text.

    A query whose client disconnects before a search thread takes it up (a page that sent a newer
    one while the user typed on) is dropped unanswered."""
    text = f"{body.title}\n{body.description}".strip()
    if not text:
        raise InvalidInput("title and description are both empty; type a few words of the problem")
    if len(text) > settings.max_query_chars:
        raise InvalidInput(
            f"title + description is {len(text)} characters; the limit is {settings.max_query_chars} "
            "(setting CASEWISE_MAX_QUERY_CHARS)"
        )
    k = body.k or settings.default_k
    if k > settings.max_k:
        raise InvalidInput(f"k is {k}; the limit is {settings.max_k} (setting CASEWISE_MAX_K)")
    runtime.suggest_limiter.check(viewer.name)
    started = time.perf_counter()
    # a few search threads (not one per request fighting over the GIL and the cores); queries
    # waiting for one are answered together (service/suggest_batch.py)
    search = asyncio.wrap_future(runtime.suggester.submit(text, k, viewer))
    found = await _answer_while_connected(request, search, settings.query_timeout_seconds)
    took = (time.perf_counter() - started) * 1000
    return SuggestResponse(cases=[_case(h) for h in found.cases],
                           articles=[_article(h) for h in found.articles], took_ms=round(took, 2))


@router.post("/api/v1/preview", response_model=PreviewResponse, tags=["knowledge base"])
def preview(body: PreviewRequest, viewer: ViewerDep) -> PreviewResponse:
    """Markdown rendered exactly as an article page renders it (raw HTML shown as text, unsafe links dropped)."""
    return PreviewResponse(html=render_html(body.markdown))


async def _answer_while_connected(request: Request, search: asyncio.Future[Suggestions],
                                  timeout: float) -> Suggestions:
    """The search's result. If the client disconnects first, or `timeout` seconds pass, the search is
    cancelled (a query not yet started is then never run) and the answer is 499 or 503."""
    gone = asyncio.ensure_future(_disconnected(request))
    try:
        await asyncio.wait({search, gone}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        gone.cancel()
        search.cancel()  # nothing once answered; a query still waiting for a search thread is dropped
    if not search.cancelled():
        return search.result()
    if gone.done() and not gone.cancelled():
        raise HTTPException(CLIENT_GONE, "the client closed the connection before its query was answered")
    raise timed_out(timeout)


async def _disconnected(request: Request) -> None:
    """Return when the client disconnects (the body is read already, so the server only reports that)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


def _case(hit: Hit) -> CaseHit:
    ticket = hit.entity
    return CaseHit(id=ticket["id"], number=ticket["number"], title=ticket["title"],
                   product=ticket["product"], category=ticket["category"],
                   resolution_snippet=hit.snippet, snippet_html=hit.snippet_html,
                   matched_terms=hit.matched_terms, score=round(hit.score, 6),
                   similarity=None if hit.similarity is None else round(hit.similarity, 4))


def _article(hit: Hit) -> ArticleHit:
    article = hit.entity
    anchor = f"#{hit.anchor}" if hit.anchor else ""
    return ArticleHit(id=article["id"], slug=article["slug"], title=article["title"],
                      heading_path=hit.heading_path, url=f"/articles/{article['slug']}{anchor}",
                      snippet=hit.snippet, snippet_html=hit.snippet_html,
                      matched_terms=hit.matched_terms, score=round(hit.score, 6),
                      similarity=None if hit.similarity is None else round(hit.similarity, 4))
