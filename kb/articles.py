"""Knowledge-base articles: markdown files with front matter, stored with versions."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import sqlite_utils
import yaml

from kb import outbox
from kb.audit import record_event
from kb.clock import now_iso
from kb.errors import InvalidInput, NotFound

STATUSES = ("draft", "in_review", "published", "archived")
AUDIENCES = ("public", "internal")
LANGUAGES = ("zh", "en", "mixed")
FRONT_MATTER_FIELDS = {"title", "product", "category", "tags", "language", "status", "audience", "owner",
                       "review_by"}
# Set only when given: an imported file without them leaves the stored values alone.
OPTIONAL_FIELDS = ("owner", "review_by")
SLUG_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,120}$")
MAX_BODY_CHARS = 200_000
# Articles in these states are chunked into the index; who may see them is decided at query time.
INDEXED_STATUSES = ("draft", "in_review", "published")


@dataclass(frozen=True)
class ArticleDraft:
    """A parsed article file: front matter fields plus the markdown body."""

    slug: str
    title: str
    body: str
    product: str | None = None
    category: str | None = None
    tags: list[str] = field(default_factory=list)
    language: str | None = None
    status: str = "published"
    audience: str = "public"
    owner: str | None = None
    review_by: str | None = None  # YYYY-MM-DD

    def front_matter(self) -> dict[str, Any]:
        """The fields as they appear in front matter (owner and review_by only when set)."""
        fields = {
            "title": self.title, "product": self.product, "category": self.category,
            "tags": self.tags, "language": self.language, "status": self.status,
            "audience": self.audience,
        }
        return {**fields, **{k: getattr(self, k) for k in OPTIONAL_FIELDS if getattr(self, k) is not None}}


def split_front_matter(text: str, name: str) -> tuple[dict[str, Any], str, int]:
    """Split `---` YAML front matter from a markdown text: (fields, body, body's first line)."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        return {}, text, 0
    for index, line in enumerate(lines[1:], start=1):
        if line.strip() in ("---", "..."):
            try:
                meta = yaml.safe_load("".join(lines[1:index])) or {}
            except yaml.YAMLError as error:
                raise InvalidInput(f"{name}: front matter is not valid YAML ({error})") from None
            if not isinstance(meta, dict):
                raise InvalidInput(f"{name}: front matter must be a mapping of fields")
            return meta, "".join(lines[index + 1:]), index + 1
    raise InvalidInput(f"{name}: front matter starts with '---' but never ends")


def parse_article(text: str, slug: str, name: str) -> ArticleDraft:
    """Validate an article's text and front matter; raise InvalidInput naming every problem."""
    meta, body, _ = split_front_matter(text, name)
    problems = _front_matter_problems(meta, name)
    if not SLUG_PATTERN.match(slug):
        problems.append(f"{name}: slug {slug!r} must be lowercase letters, digits and hyphens")
    if not body.strip():
        problems.append(f"{name}: the article has no body")
    if len(body) > MAX_BODY_CHARS:
        problems.append(f"{name}: body is {len(body)} characters; the limit is {MAX_BODY_CHARS}")
    title = str(meta.get("title") or _first_heading(body) or "").strip()
    if not title:
        problems.append(f"{name}: no title (set 'title' in front matter or start with '# Title')")
    if problems:
        raise InvalidInput(f"{name}: {len(problems)} problem(s)", problems)
    return ArticleDraft(
        slug=slug, title=title, body=body,
        product=_optional_text(meta.get("product")), category=_optional_text(meta.get("category")),
        tags=[str(t) for t in meta.get("tags") or []], language=meta.get("language"),
        status=meta.get("status") or "published", audience=meta.get("audience") or "public",
        owner=_optional_text(meta.get("owner")), review_by=review_date(meta.get("review_by")),
    )


def _front_matter_problems(meta: Mapping[str, Any], name: str) -> list[str]:
    problems = []
    unknown = sorted(set(meta) - FRONT_MATTER_FIELDS)
    if unknown:
        problems.append(
            f"{name}: unknown front matter field(s) {', '.join(map(str, unknown))}; "
            f"allowed: {', '.join(sorted(FRONT_MATTER_FIELDS))}"
        )
    for key, allowed in (("status", STATUSES), ("audience", AUDIENCES), ("language", LANGUAGES)):
        if meta.get(key) is not None and meta.get(key) not in allowed:
            problems.append(f"{name}: {key} is {meta.get(key)!r}; allowed: {', '.join(allowed)}")
    tags = meta.get("tags")
    if tags is not None and not isinstance(tags, list):
        problems.append(f"{name}: tags must be a list, e.g. [vpn, 掉线]")
    try:
        review_date(meta.get("review_by"))
    except ValueError:
        problems.append(f"{name}: review_by is {meta.get('review_by')!r}; write a date as YYYY-MM-DD")
    return problems


def review_date(value: Any) -> str | None:
    """A review-by date as YYYY-MM-DD (YAML may hand over a date); ValueError when it is not one."""
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value.isoformat()[:10]
    return date.fromisoformat(str(value)).isoformat()


def _optional_text(value: Any) -> str | None:
    return None if value is None else str(value)


def _first_heading(body: str) -> str | None:
    for line in body.splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return None


def read_article_file(path: Path) -> ArticleDraft:
    """Read and parse one markdown file; the file name (without .md) is the slug."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InvalidInput(
            f"{path.name}: not valid UTF-8 (byte {error.start}); save the file as UTF-8"
        ) from None
    return parse_article(text, path.stem.lower(), path.name)


def read_article_folder(folder: Path) -> list[ArticleDraft]:
    """Parse every *.md file in a folder; raise one InvalidInput listing all bad files."""
    if not folder.is_dir():
        raise InvalidInput(f"{folder}: not a folder of markdown files")
    drafts, problems = [], []
    for path in sorted(folder.glob("*.md")):
        try:
            drafts.append(read_article_file(path))
        except InvalidInput as error:
            problems += error.problems or [str(error)]
    if problems:
        raise InvalidInput(f"{folder}: {len(problems)} problem(s); nothing was imported", problems)
    if not drafts:
        raise InvalidInput(f"{folder}: no .md files found")
    return drafts


def save_article(db: sqlite_utils.Database, draft: ArticleDraft, actor: str) -> str:
    """Create or update an article by slug; a changed article gets a new version.

    Returns 'created', 'updated' or 'unchanged'. Writes audit event and outbox row
    in the caller's transaction.
    """
    existing = db.execute("SELECT * FROM articles WHERE slug = ?", [draft.slug]).fetchone()
    fields = _article_fields(draft)
    now = now_iso()
    if existing is None:
        table = db.table("articles")
        table.insert({**fields, "slug": draft.slug, "current_version": 1,
                      "created_at": now, "updated_at": now})
        article_id = table.last_pk
        _insert_version(db, article_id, 1, draft, now)
        record_event(db, "article", article_id, "created", actor,
                     {k: [None, v] for k, v in fields.items() if k != "body"})
        outbox.enqueue(db, "article", article_id)
        return "created"
    changes = {k: [existing[k], v] for k, v in fields.items() if existing[k] != v}
    if not changes:
        return "unchanged"
    version = existing["current_version"] + 1
    db.execute(
        f"UPDATE articles SET {', '.join(f'{k} = ?' for k in fields)},"
        " current_version = ?, updated_at = ? WHERE id = ?",
        [*fields.values(), version, now, existing["id"]],
    )
    _insert_version(db, existing["id"], version, draft, now)
    if "body" in changes:
        changes["body"] = ["(previous version)", f"(version {version})"]
    record_event(db, "article", existing["id"], "updated", actor, changes)
    outbox.enqueue(db, "article", existing["id"])
    return "updated"


def _article_fields(draft: ArticleDraft) -> dict[str, Any]:
    fields = {
        "title": draft.title, "product": draft.product, "category": draft.category,
        "tags": json.dumps(draft.tags, ensure_ascii=False), "language": draft.language,
        "status": draft.status, "audience": draft.audience, "body": draft.body,
    }
    return {**fields, **{k: getattr(draft, k) for k in OPTIONAL_FIELDS if getattr(draft, k) is not None}}


def _insert_version(
    db: sqlite_utils.Database, article_id: int, version: int, draft: ArticleDraft, now: str
) -> None:
    db.table("article_versions").insert({
        "article_id": article_id, "version": version, "title": draft.title, "body": draft.body,
        "front_matter": json.dumps(draft.front_matter(), ensure_ascii=False), "created_at": now,
    })


def get_article(db: sqlite_utils.Database, article_id: int) -> dict[str, Any]:
    """One article as a dict; NotFound if it does not exist."""
    row = db.execute("SELECT * FROM articles WHERE id = ?", [article_id]).fetchone()
    if row is None:
        raise NotFound(f"article {article_id} does not exist")
    return _decode(dict(row))


def get_article_by_slug(db: sqlite_utils.Database, slug: str) -> dict[str, Any]:
    """One article by slug; NotFound if it does not exist."""
    row = db.execute("SELECT * FROM articles WHERE slug = ?", [slug]).fetchone()
    if row is None:
        raise NotFound(f"article '{slug}' does not exist")
    return _decode(dict(row))


def is_indexed(article: Mapping[str, Any]) -> bool:
    """Whether an article's sections belong in the index."""
    return article["status"] in INDEXED_STATUSES


def _decode(row: dict[str, Any]) -> dict[str, Any]:
    row["tags"] = json.loads(row.get("tags") or "[]")
    return row
