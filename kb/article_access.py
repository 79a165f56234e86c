"""Who may see which article: published public ones for everyone, internal and archived ones for staff,
drafts for their owner and for authors, reviewers, managers and admins. Anything else is "not found"."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import sqlite_utils

from kb.articles import get_article
from kb.errors import NotFound
from kb.visibility import Viewer

# Roles that see every draft (besides reviewers); other writers see the drafts they own.
CURATOR_ROLES = ("kb_author", "kb_reviewer", "manager", "admin")
# What a search hit shows of an article: everything but the body, which can be 200,000 characters.
SEARCH_COLUMNS = ("id, slug, title, product, category, tags, language, status, audience, current_version, "
                  "created_at, updated_at, owner, review_by, reviewer")


def can_see(article: dict[str, Any], viewer: Viewer) -> bool:
    """Published: public ones for all, internal for staff. Archived: staff. Drafts: their owner,
    authors and reviewers."""
    if article["status"] == "published":
        return article["audience"] == "public" or viewer.can("articles.read.internal")
    if article["status"] == "archived":
        return viewer.can("articles.read.internal")
    return sees_all_drafts(viewer) or (viewer.can("articles.write") and article.get("owner") == viewer.name)


def sees_all_drafts(viewer: Viewer) -> bool:
    """KB authors, reviewers, managers and admins see every draft and article in review."""
    return viewer.role in CURATOR_ROLES or viewer.can("articles.review")


def visible_article(db: sqlite_utils.Database, article_id: int, viewer: Viewer) -> dict[str, Any]:
    """The article if the viewer may see it; NotFound otherwise (no existence leak)."""
    try:
        article = get_article(db, article_id)
    except NotFound:
        article = None
    if article is None or not can_see(article, viewer):
        raise NotFound(f"article {article_id} does not exist")
    return article


def staff_article(db: sqlite_utils.Database, article_id: int, viewer: Viewer) -> dict[str, Any]:
    """Like `visible_article`, for staff-only views (versions, history, effectiveness)."""
    if not viewer.can("articles.read.internal"):
        raise NotFound(f"article {article_id} does not exist")
    return visible_article(db, article_id, viewer)


def searchable_articles_by_id(db: sqlite_utils.Database, article_ids: Iterable[int],
                              viewer: Viewer) -> dict[int, dict[str, Any]]:
    """The given articles a search may show this viewer (without their bodies): published ones, and drafts
    for their authors."""
    ids = list(dict.fromkeys(article_ids))
    if not ids:
        return {}
    rows = db.execute(f"SELECT {SEARCH_COLUMNS} FROM articles WHERE id IN ({','.join('?' * len(ids))})"
                      " AND status != 'archived'", ids).fetchall()
    found = (decode(dict(row)) for row in rows)
    return {article["id"]: article for article in found if can_see(article, viewer)}


def decode(row: dict[str, Any]) -> dict[str, Any]:
    """A stored article row with its tags as a list."""
    return {**row, "tags": json.loads(row.get("tags") or "[]")}


def visibility_clause(viewer: Viewer) -> tuple[str, list[Any]]:
    """SQL condition and parameters limiting an article query to what the viewer may see."""
    if sees_all_drafts(viewer):
        return "1 = 1", []
    shown = "(status IN ('published', 'archived'))" if viewer.can("articles.read.internal") else \
        "(status = 'published' AND audience = 'public')"
    if viewer.can("articles.write"):
        return f"({shown} OR owner = ?)", [viewer.name]
    return shown, []
