"""Exporting articles to a folder of markdown files with front matter.

The files are what `kb.articles.read_article_folder` imports: exporting and importing
again gives back the same fields and body (the round trip is tested).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from kb.article_access import decode
from kb.article_workflow import front_matter
from kb.articles import STATUSES
from kb.db import Database
from kb.errors import InvalidInput


def article_text(article: dict[str, Any]) -> str:
    """One article as a markdown file: YAML front matter, then the body unchanged."""
    meta = yaml.safe_dump(front_matter(article), allow_unicode=True, sort_keys=False,
                          default_flow_style=None, width=10_000)
    return f"---\n{meta}---\n{article['body']}"


def export_article_folder(database: Database, folder: Path,
                          statuses: Sequence[str] = STATUSES) -> list[Path]:
    """Write `<slug>.md` for every article in the given states; returns the files written."""
    unknown = sorted(set(statuses) - set(STATUSES))
    if unknown:
        raise InvalidInput(f"unknown status(es) {', '.join(unknown)}; allowed: {', '.join(STATUSES)}")
    marks = ",".join("?" * len(statuses))
    articles = database.read(lambda db: [decode(dict(r)) for r in db.execute(
        f"SELECT * FROM articles WHERE status IN ({marks}) ORDER BY slug", list(statuses))])
    folder.mkdir(parents=True, exist_ok=True)
    return [_write(folder / f"{article['slug']}.md", article_text(article)) for article in articles]


def _write(path: Path, text: str) -> Path:
    """Write through a temporary file and rename, so a crash never leaves half a file."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".export-", suffix=".md")
    with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
        out.write(text)
    os.replace(temporary, path)
    return path
