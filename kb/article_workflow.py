"""The article lifecycle: drafts, review, publishing, archiving, versions, diffs and restore.

Allowed moves and who may make them live in the `article_transitions` table (seeded from
DEFAULT_ARTICLE_TRANSITIONS). A move flagged `distinct_reviewer` may not be made by anyone
who wrote or submitted the version under review (clear the flag to allow self-review).
Every change writes its audit event and an outbox row in the caller's transaction.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlite_utils

from kb import outbox
from kb.article_access import CURATOR_ROLES, decode, staff_article, visibility_clause, visible_article
from kb.articles import AUDIENCES, LANGUAGES, MAX_BODY_CHARS, SLUG_PATTERN, get_article, review_date
from kb.audit import events_for, record_event
from kb.desk import iso
from kb.errors import Conflict, Forbidden, InvalidInput, NotFound
from kb.permissions import PERMISSIONS
from kb.visibility import Viewer

# The seeded moves follow the seeded permissions: writers may draft and submit, reviewers approve.
WRITER_ROLES = PERMISSIONS["articles.write"]
REVIEWER_ROLES = PERMISSIONS["articles.review"]
EDITOR_ROLES = tuple(r for r in WRITER_ROLES if r != "agent")  # may take a published article back to draft
# A published article without a review-by date gets one this many days after publishing.
REVIEW_INTERVAL_DAYS = 180
EDITABLE_FIELDS = ("title", "body", "product", "category", "tags", "language", "audience", "owner", "review_by")
# Actions whose actor counts as an author of the article's current version.
AUTHOR_ACTIONS = ("created", "edited", "restored", "drafted")


def _move(source: str, target: str, roles: tuple[str, ...], requires: tuple[str, ...] = (),
          distinct: bool = False) -> dict[str, Any]:
    return {"from_status": source, "to_status": target, "roles": ",".join(roles),
            "requires": json.dumps(list(requires)), "distinct_reviewer": int(distinct)}


DEFAULT_ARTICLE_TRANSITIONS = [
    _move("draft", "in_review", WRITER_ROLES),
    _move("in_review", "published", REVIEWER_ROLES, distinct=True),
    _move("in_review", "draft", WRITER_ROLES, ("comment",)),  # returned with comments, or withdrawn
    _move("published", "draft", EDITOR_ROLES),  # a new version
    _move("published", "archived", CURATOR_ROLES),
    _move("archived", "draft", EDITOR_ROLES),
    _move("draft", "archived", CURATOR_ROLES),  # a draft given up
]


@dataclass(frozen=True)
class ArticleMove:
    """One allowed move: from a state to a state, by some roles, needing some details."""

    from_status: str
    to_status: str
    roles: tuple[str, ...]
    requires: tuple[str, ...]
    distinct_reviewer: bool


@dataclass(frozen=True)
class MoveRequest:
    """What a caller asks for: the target state, a comment, optionally a reviewer to ask."""

    to: str
    comment: str | None = None
    reviewer: str | None = None


# ---------------------------------------------------------------- moves


def moves_from(db: sqlite_utils.Database, status: str) -> list[ArticleMove]:
    """Every move out of a state, from the article_transitions table."""
    rows = db.execute("SELECT * FROM article_transitions WHERE from_status = ? ORDER BY to_status", [status])
    return [ArticleMove(r["from_status"], r["to_status"], tuple(r["roles"].split(",")),
                        tuple(json.loads(r["requires"])), bool(r["distinct_reviewer"])) for r in rows]


def allowed_moves(db: sqlite_utils.Database, status: str, role: str) -> list[ArticleMove]:
    """The moves a role may make from a state."""
    return [m for m in moves_from(db, status) if role in m.roles]


def transition(db: sqlite_utils.Database, article_id: int, request: MoveRequest, actor: Viewer,
               now: datetime) -> dict[str, Any]:
    """Move an article to another state; returns the changed article. Conflict names the allowed moves."""
    article = visible_article(db, article_id, actor)
    move = _find_move(db, article, request.to, actor)
    missing = [name for name in move.requires if not (getattr(request, name) or "").strip()]
    if missing:
        raise InvalidInput(f"moving an article to {request.to} needs: {', '.join(missing)}")
    if move.distinct_reviewer and actor.name in version_authors(db, article):
        raise Conflict(f"{actor.name} wrote or submitted version {article['current_version']} of article "
                       f"{article['slug']}; another reviewer must approve it")
    values, version = _effects(db, article, request, actor, now)
    data = {"from": article["status"], "to": request.to, "version": version,
            **({"comment": request.comment} if request.comment else {})}
    changed = _change(db, article, {**values, "status": request.to}, "transition", actor, now, data)
    if request.to == "published":  # the version is frozen now: record the front matter it went out with
        db.execute("UPDATE article_versions SET front_matter = ? WHERE article_id = ? AND version = ?",
                   [json.dumps(front_matter(changed), ensure_ascii=False), changed["id"], version])
    return changed


def _find_move(db: sqlite_utils.Database, article: dict[str, Any], to: str, actor: Viewer) -> ArticleMove:
    allowed = allowed_moves(db, article["status"], actor.role)
    for move in allowed:
        if move.to_status == to:
            return move
    raise Conflict(
        f"article {article['slug']} is {article['status']}; role {actor.role} cannot move it to {to}. "
        f"Allowed moves: {', '.join(m.to_status for m in allowed) or 'none'}")


def _effects(db: sqlite_utils.Database, article: dict[str, Any], request: MoveRequest, actor: Viewer,
             now: datetime) -> tuple[dict[str, Any], int]:
    """Field changes a move brings, and the version it leaves current."""
    version = article["current_version"]
    if request.to == "in_review":
        return {"reviewer": request.reviewer or article.get("reviewer")}, version
    if request.to == "published":
        due = article.get("review_by") or (now.date() + timedelta(days=REVIEW_INTERVAL_DAYS)).isoformat()
        return {"reviewer": actor.name, "review_by": due}, version
    if request.to == "draft" and article["status"] in ("published", "archived"):
        _insert_version(db, article, version + 1, now)
        return {"current_version": version + 1, "reviewer": None}, version + 1
    return {}, version


def version_authors(db: sqlite_utils.Database, article: dict[str, Any]) -> set[str]:
    """Who wrote or submitted the current version (they may not approve it)."""
    rows = db.execute(
        "SELECT actor, action, data FROM audit_events WHERE entity_type = 'article' AND entity_id = ?"
        " AND json_extract(data, '$.version') = ?", [article["id"], article["current_version"]]).fetchall()
    return {r["actor"] for r in rows
            if r["action"] in AUTHOR_ACTIONS or json.loads(r["data"]).get("to") == "in_review"}


# ---------------------------------------------------------------- create and edit drafts


def create_article(db: sqlite_utils.Database, fields: dict[str, Any], actor: Viewer, now: datetime,
                   action: str = "created", data: dict[str, Any] | None = None) -> dict[str, Any]:
    """A new draft (version 1) owned by the actor unless an owner is given."""
    if not actor.can("articles.write"):
        raise Forbidden(f"role {actor.role} cannot write articles")
    values = _checked({"tags": [], "audience": "public", **fields})
    for required in ("title", "body"):
        if not values.get(required):
            raise InvalidInput(f"an article needs a {required}")
    slug = _new_slug(db, fields.get("slug"), values["title"], values.get("product"), now)
    row = {**values, "slug": slug, "owner": values.get("owner") or actor.name, "status": "draft",
           "current_version": 1, "created_at": iso(now), "updated_at": iso(now)}
    table = db.table("articles")
    table.insert(_encode(row))
    article = get_article(db, table.last_pk)
    _insert_version(db, article, 1, now)
    changes = {k: [None, v] for k, v in row.items() if v is not None and k not in ("body", "created_at")}
    record_event(db, "article", article["id"], action, actor.name, changes, at=iso(now),
                 data={**(data or {}), "version": 1, "role": actor.role})
    outbox.enqueue(db, "article", article["id"])
    return article


def update_draft(db: sqlite_utils.Database, article_id: int, fields: dict[str, Any], actor: Viewer,
                 now: datetime) -> dict[str, Any]:
    """Change a draft's fields; the current (unpublished) version is rewritten in place."""
    article = visible_article(db, article_id, actor)
    if not actor.can("articles.write"):
        raise Forbidden(f"role {actor.role} cannot edit articles")
    if article["status"] != "draft":
        moves = ", ".join(m.to_status for m in allowed_moves(db, article["status"], actor.role)) or "none"
        raise Conflict(f"article {article['slug']} is {article['status']}; only a draft can be edited. "
                       f"Move it back to draft first (allowed moves: {moves})")
    values = _checked(fields)
    changed = _change(db, article, values, "edited", actor, now, {"version": article["current_version"]})
    db.execute("DELETE FROM article_versions WHERE article_id = ? AND version = ?",
               [article_id, article["current_version"]])
    _insert_version(db, changed, article["current_version"], now)
    return changed


# Fields a caller may clear with null; for the others null means "leave as it is".
NULLABLE_FIELDS = ("product", "category", "tags", "review_by", "owner")


def _checked(fields: dict[str, Any]) -> dict[str, Any]:
    """Editable fields, validated; InvalidInput names every problem."""
    values = {k: v for k, v in fields.items() if k in EDITABLE_FIELDS}
    values = {k: ([] if k == "tags" and v is None else v) for k, v in values.items()
              if v is not None or k in NULLABLE_FIELDS}
    problems = [f"unknown field {k}" for k in fields if k not in (*EDITABLE_FIELDS, "slug")]
    for key in ("title", "body"):
        if key in values and not str(values[key] or "").strip():
            problems.append(f"{key} is empty")
    if len(values.get("body") or "") > MAX_BODY_CHARS:
        problems.append(f"body is {len(values['body'])} characters; the limit is {MAX_BODY_CHARS}")
    for key, allowed in (("audience", AUDIENCES), ("language", LANGUAGES)):
        if values.get(key) is not None and values[key] not in allowed:
            problems.append(f"{key} is {values[key]!r}; allowed: {', '.join(allowed)}")
    if "tags" in values and not isinstance(values["tags"], list):
        problems.append("tags must be a list")
    try:
        if "review_by" in values:
            values["review_by"] = review_date(values["review_by"])
    except ValueError:
        problems.append(f"review_by is {values['review_by']!r}; write a date as YYYY-MM-DD")
    if problems:
        raise InvalidInput(f"{len(problems)} problem(s) with the article", problems)
    return values


def _new_slug(db: sqlite_utils.Database, given: str | None, title: str, product: str | None,
              now: datetime) -> str:
    """The given slug (must be free), else one made from the title's Latin words or product and date."""
    if given:
        if not SLUG_PATTERN.match(given):
            raise InvalidInput(f"slug {given!r} must be lowercase letters, digits and hyphens")
        if db.execute("SELECT 1 FROM articles WHERE slug = ?", [given]).fetchone():
            raise Conflict(f"slug {given!r} is taken; choose another")
        return given
    base = "-".join(re.findall(r"[a-z0-9]+", title.lower()))[:60].strip("-")
    if len(base) < 3:
        base = f"{product or 'article'}-{now:%Y%m%d}".lower()
        base = "-".join(re.findall(r"[a-z0-9]+", base)) or "article"
    slug, n = base, 1
    while db.execute("SELECT 1 FROM articles WHERE slug = ?", [slug]).fetchone():
        n += 1
        slug = f"{base}-{n}"
    return slug


# ---------------------------------------------------------------- versions, diff, restore


def list_versions(db: sqlite_utils.Database, article_id: int, viewer: Viewer) -> list[dict[str, Any]]:
    """Every version (newest first) with when it was published, if it was."""
    staff_article(db, article_id, viewer)
    published = _published_at(db, article_id)
    rows = db.execute("SELECT version, title, front_matter, created_at FROM article_versions"
                      " WHERE article_id = ? ORDER BY version DESC", [article_id]).fetchall()
    return [{"version": r["version"], "title": r["title"], "created_at": r["created_at"],
             "front_matter": json.loads(r["front_matter"]), "published_at": published.get(r["version"])}
            for r in rows]


def get_version(db: sqlite_utils.Database, article_id: int, version: int, viewer: Viewer) -> dict[str, Any]:
    """One version's title, body and front matter."""
    staff_article(db, article_id, viewer)
    row = db.execute("SELECT * FROM article_versions WHERE article_id = ? AND version = ?",
                     [article_id, version]).fetchone()
    if row is None:
        raise NotFound(f"article {article_id} has no version {version}")
    return {**dict(row), "front_matter": json.loads(row["front_matter"]),
            "published_at": _published_at(db, article_id).get(version)}


def _published_at(db: sqlite_utils.Database, article_id: int) -> dict[int, str]:
    """Version -> first time it was published, from the audit trail."""
    published: dict[int, str] = {}
    for event in events_for(db, "article", article_id):
        if event["data"].get("to") == "published":
            published.setdefault(event["data"].get("version"), event["at"])
    return published


@dataclass(frozen=True)
class DiffLine:
    """One line of a diff: 'equal', 'insert', 'delete' or 'replace', with line numbers (1-based)."""

    op: str
    old_no: int | None
    old: str | None
    new_no: int | None
    new: str | None


def diff_markdown(old: str, new: str) -> dict[str, Any]:
    """Side-by-side rows, an inline unified diff and counts of lines added and removed."""
    import difflib

    old_lines, new_lines = old.splitlines(), new.splitlines()
    rows: list[DiffLine] = []
    matcher = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        for k in range(max(i2 - i1, j2 - j1)):
            i, j = i1 + k, j1 + k
            rows.append(DiffLine(
                op if op != "replace" else ("replace" if i < i2 and j < j2 else "delete" if i < i2 else "insert"),
                i + 1 if i < i2 else None, old_lines[i] if i < i2 else None,
                j + 1 if j < j2 else None, new_lines[j] if j < j2 else None))
    unified = "\n".join(difflib.unified_diff(old_lines, new_lines, "old", "new", lineterm=""))
    added = sum(1 for r in rows if r.new is not None and r.op != "equal")
    removed = sum(1 for r in rows if r.old is not None and r.op != "equal")
    return {"side_by_side": [r.__dict__ for r in rows], "unified": unified, "added": added, "removed": removed}


def diff_versions(db: sqlite_utils.Database, article_id: int, old: int, new: int,
                  viewer: Viewer) -> dict[str, Any]:
    """The body diff of two versions and the front matter fields that differ."""
    before, after = get_version(db, article_id, old, viewer), get_version(db, article_id, new, viewer)
    fields = {k: [before["front_matter"].get(k), after["front_matter"].get(k)]
              for k in sorted(set(before["front_matter"]) | set(after["front_matter"]))
              if before["front_matter"].get(k) != after["front_matter"].get(k) and k != "status"}
    return {"article_id": article_id, "from_version": old, "to_version": new, "fields": fields,
            **diff_markdown(before["body"], after["body"])}


def restore_version(db: sqlite_utils.Database, article_id: int, version: int, actor: Viewer,
                    now: datetime) -> dict[str, Any]:
    """Copy an old version's content into a new draft version; the history stays untouched."""
    old = get_version(db, article_id, version, actor)
    article = get_article(db, article_id)
    if article["status"] == "in_review":
        raise Conflict(f"article {article['slug']} is in review; return or withdraw it to draft first")
    if article["status"] != "draft":
        _find_move(db, article, "draft", actor)
    if not actor.can("articles.write"):
        raise Forbidden(f"role {actor.role} cannot write articles")
    meta = old["front_matter"]
    values = {"title": old["title"], "body": old["body"], "status": "draft", "reviewer": None,
              "current_version": article["current_version"] + 1,
              **{k: meta.get(k) for k in ("product", "category", "tags", "language", "audience") if k in meta}}
    data = {"restored_from": version, "version": values["current_version"]}
    changed = _change(db, article, values, "restored", actor, now, data)
    _insert_version(db, changed, changed["current_version"], now)
    return changed


# ---------------------------------------------------------------- storage helpers


def _change(db: sqlite_utils.Database, article: dict[str, Any], values: dict[str, Any], action: str,
            actor: Viewer, now: datetime, data: dict[str, Any]) -> dict[str, Any]:
    """Write changed fields, the audit event and the outbox row; returns the new article."""
    changed = {k: [article.get(k), v] for k, v in values.items() if article.get(k) != v}
    if changed:
        changed["updated_at"] = [article["updated_at"], iso(now)]
        db.table("articles").update(article["id"], _encode({k: new for k, (_, new) in changed.items()}))
    if "body" in changed:
        version = values.get("current_version", article["current_version"])
        changed["body"] = ["(previous text)", f"(version {version})"]
    record_event(db, "article", article["id"], action, actor.name, changed, at=iso(now),
                 data={**data, "role": actor.role})
    outbox.enqueue(db, "article", article["id"])
    return get_article(db, article["id"])


def _encode(values: dict[str, Any]) -> dict[str, Any]:
    return {k: (json.dumps(v, ensure_ascii=False) if k == "tags" else v) for k, v in values.items()}


def _insert_version(db: sqlite_utils.Database, article: dict[str, Any], version: int, now: datetime) -> None:
    db.table("article_versions").insert({
        "article_id": article["id"], "version": version, "title": article["title"], "body": article["body"],
        "front_matter": json.dumps(front_matter(article), ensure_ascii=False), "created_at": iso(now)})


def front_matter(article: dict[str, Any]) -> dict[str, Any]:
    """An article's fields as they appear in front matter (owner and review_by only when set)."""
    keys = ("title", "product", "category", "tags", "language", "status", "audience")
    fields = {k: article.get(k) for k in keys}
    return {**fields, **{k: article[k] for k in ("owner", "review_by") if article.get(k) is not None}}


# ---------------------------------------------------------------- reading for people

# Working fields a requester never sees.
STAFF_ONLY_FIELDS = ("owner", "reviewer", "review_by")


@dataclass(frozen=True)
class ArticleFilter:
    """List filters; None means any."""

    status: str | None = None
    audience: str | None = None
    product: str | None = None
    owner: str | None = None
    q: str | None = None


def article_for(db: sqlite_utils.Database, article_id: int, viewer: Viewer) -> dict[str, Any]:
    """One article as the viewer may see it; staff also get allowed moves and review comments."""
    article = visible_article(db, article_id, viewer)
    if not viewer.can("articles.read.internal"):
        return {k: v for k, v in article.items() if k not in STAFF_ONLY_FIELDS}
    moves = [m.to_status for m in allowed_moves(db, article["status"], viewer.role)]
    comments = [{"at": e["at"], "actor": e["actor"], "from": e["data"].get("from"), "to": e["data"].get("to"),
                 "version": e["data"].get("version"), "comment": e["data"]["comment"]}
                for e in events_for(db, "article", article_id) if e["data"].get("comment")]
    return {**article, "allowed_moves": moves, "review_comments": comments,
            "tickets": linked_tickets(db, article_id)}


def linked_tickets(db: sqlite_utils.Database, article_id: int) -> list[dict[str, Any]]:
    """Tickets linked to the article: 'solved_by' (it solved them) or 'source' (it was drafted from them)."""
    rows = db.execute("SELECT t.id, t.number, t.title, t.status, l.relation FROM ticket_articles l"
                      " JOIN tickets t ON t.id = l.ticket_id WHERE l.article_id = ? ORDER BY t.id", [article_id])
    return [dict(r) for r in rows]


def article_events(db: sqlite_utils.Database, article_id: int, viewer: Viewer) -> list[dict[str, Any]]:
    """The article's audit trail (staff only), oldest first."""
    staff_article(db, article_id, viewer)
    return events_for(db, "article", article_id)


def list_articles(db: sqlite_utils.Database, viewer: Viewer, filters: ArticleFilter, page: int,
                  page_size: int) -> tuple[list[dict[str, Any]], int]:
    """One page of the articles the viewer may see (without bodies), newest change first, and the total."""
    clause, params = visibility_clause(viewer)
    parts = [clause]
    for column in ("status", "audience", "product", "owner"):
        if getattr(filters, column):
            parts.append(f"{column} = ?")
            params.append(getattr(filters, column))
    if filters.q:
        parts.append("(title LIKE ? ESCAPE '\\' OR slug LIKE ? ESCAPE '\\')")
        params += [f"%{_escape_like(filters.q)}%"] * 2
    where = " AND ".join(parts)
    total = db.execute(f"SELECT COUNT(*) FROM articles WHERE {where}", params).fetchone()[0]
    rows = db.execute(f"SELECT * FROM articles WHERE {where} ORDER BY updated_at DESC, id DESC LIMIT ? OFFSET ?",
                      [*params, page_size, (page - 1) * page_size]).fetchall()
    hidden = () if viewer.can("articles.read.internal") else STAFF_ONLY_FIELDS
    items = [{k: v for k, v in decode(dict(r)).items() if k != "body" and k not in hidden} for r in rows]
    return items, total


def _escape_like(text: str) -> str:
    """User text is matched literally: LIKE wildcards become plain characters."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
