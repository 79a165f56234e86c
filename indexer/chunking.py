"""Turn tickets and articles into chunks: the text to embed and the keyword terms."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from indexer.analysis import index_terms
from indexer.markdown import sections


@dataclass(frozen=True)
class Chunk:
    """One searchable unit: a whole ticket, or one section of an article."""

    position: int
    text: str
    terms: list[str]
    heading_path: list[str]
    anchor: str | None = None
    line_start: int | None = None
    line_end: int | None = None


def ticket_text(ticket: Mapping[str, Any]) -> str:
    """The problem as the requester told it: what a new ticket is compared with."""
    return f"{ticket['title']}\n{ticket.get('description') or ''}".strip()


def ticket_chunks(ticket: Mapping[str, Any]) -> list[Chunk]:
    """A resolved ticket's problem: the whole text, and the title alone when there is more.

    The title chunk lets a short new title match an old title closely instead of
    being diluted by a long description (the entity keeps its best chunk).
    """
    text = ticket_text(ticket)
    extra = " ".join([*(ticket.get("error_codes") or []), ticket.get("asset_model") or ""])
    chunks = [Chunk(position=0, text=text, terms=index_terms(f"{text} {extra}"), heading_path=[])]
    title = ticket["title"].strip()
    if title != text:
        chunks.append(Chunk(position=1, text=title, terms=index_terms(f"{title} {extra}"), heading_path=[]))
    return chunks


def article_chunks(article: Mapping[str, Any]) -> list[Chunk]:
    """One chunk per heading section; each carries the article title and its heading path."""
    title = article["title"]
    tags = " ".join(article.get("tags") or [])
    chunks = []
    for position, section in enumerate(sections(article["body"])):
        path = [p for p in section.heading_path if p != title]
        text = "\n".join([" / ".join([title, *path]), section.text])
        chunks.append(Chunk(
            # the title counts twice (it is also the text's first line): a code or word in the
            # title says more about the whole article than one in a passing mention
            position=position, text=text, terms=index_terms(f"{title} {text} {tags}"),
            heading_path=section.heading_path, anchor=section.anchor or None,
            line_start=section.line_start, line_end=section.line_end,
        ))
    return chunks
