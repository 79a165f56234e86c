"""Web pages (server-rendered)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from indexer.markdown import render_html
from kb.articles import get_article_by_slug
from kb.errors import NotFound
from kb.visibility import Viewer
from service.deps import OptionalViewerDep, RuntimeDep

ANONYMOUS = Viewer(name="anonymous", role="requester")

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).resolve().parent.parent / "templates"))


@router.get("/articles/{slug}", response_class=HTMLResponse)
def article_page(slug: str, request: Request, runtime: RuntimeDep, signed_in: OptionalViewerDep) -> HTMLResponse:
    """A published article rendered from markdown (raw HTML shown as text, unsafe links dropped).

    Public articles are readable without signing in (a help centre); internal ones need staff.
    """
    viewer = signed_in or ANONYMOUS
    article = runtime.database.read(lambda db: get_article_by_slug(db, slug))
    visible = article["status"] == "published" and (viewer.is_staff or article["audience"] == "public")
    if not visible:
        raise NotFound(f"article '{slug}' does not exist")
    return templates.TemplateResponse(
        request, "article.html", {"article": article, "body_html": render_html(article["body"])}
    )
