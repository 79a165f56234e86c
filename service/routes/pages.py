"""Web pages (server-rendered)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from indexer.markdown import render_html
from kb.articles import get_article_by_slug
from kb.errors import NotFound
from service.deps import RuntimeDep, ViewerDep

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).resolve().parent.parent / "templates"))


@router.get("/articles/{slug}", response_class=HTMLResponse)
def article_page(slug: str, request: Request, runtime: RuntimeDep, viewer: ViewerDep) -> HTMLResponse:
    """A published article rendered from markdown (raw HTML shown as text, unsafe links dropped)."""
    article = runtime.database.read(lambda db: get_article_by_slug(db, slug))
    visible = article["status"] == "published" and (viewer.is_staff or article["audience"] == "public")
    if not visible:
        raise NotFound(f"article '{slug}' does not exist")
    return templates.TemplateResponse(
        request, "article.html", {"article": article, "body_html": render_html(article["body"])}
    )
