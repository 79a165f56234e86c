"""Request and response schemas: one per operation, unknown fields rejected."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field

# A numeric id in a path (tickets, articles, visits, tokens…): bounded so SQLite can always bind it.
PathId = Annotated[int, Path(ge=1, le=2**62, description="A numeric id.")]


class SuggestRequest(BaseModel):
    """A problem as the user is typing it."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(..., max_length=20_000, description="Ticket title typed so far.")
    description: str = Field("", max_length=20_000, description="Ticket description typed so far.")
    k: int | None = Field(None, ge=1, le=100, description="Hits per list (default and maximum are settings).")


class CaseHit(BaseModel):
    """A similar resolved ticket."""

    id: int
    number: str
    title: str
    product: str | None
    category: str | None
    resolution_snippet: str = Field(description="Part of the resolution, plain text.")
    snippet_html: str = Field(description="The snippet, HTML-escaped, with matched terms in <mark>.")
    matched_terms: list[str]
    score: float = Field(description="Fused rank score (higher is better).")
    similarity: float | None = Field(description="Cosine similarity of the dense match, if any.")


class ArticleHit(BaseModel):
    """The best-matching section of a knowledge-base article."""

    id: int
    slug: str
    title: str
    heading_path: list[str]
    url: str = Field(description="Opens the article at the matching section.")
    snippet: str
    snippet_html: str
    matched_terms: list[str]
    score: float
    similarity: float | None


class SuggestResponse(BaseModel):
    """Suggestions for a problem description."""

    cases: list[CaseHit]
    articles: list[ArticleHit]
    took_ms: float


class Health(BaseModel):
    """Liveness and index state."""

    status: str
    model: str = Field(description="The multilingual embedding model.")
    models: list[str] = Field(description="Every embedding model in use (multilingual first).")
    vectors: dict[str, int] = Field(description="Vectors per kind (and per kind:space for the English model).")
    pending_outbox: int
    pid: int = Field(description="The server process that answered (one of several with CASEWISE_WORKERS > 1).")
    suggestions_dropped: int = Field(
        description="Suggestion queries this process dropped unanswered since it started: their client "
                    "disconnected, or they waited past CASEWISE_QUERY_TIMEOUT_SECONDS, before a search thread "
                    "took them up.")


class ErrorBody(BaseModel):
    """An error with a message that says what to fix."""

    detail: str | list


class PreviewRequest(BaseModel):
    """Markdown to preview."""

    model_config = ConfigDict(extra="forbid")

    markdown: str = Field(..., max_length=200_000)


class PreviewResponse(BaseModel):
    """The safe HTML of an article body."""

    html: str
