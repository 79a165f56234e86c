"""Article and knowledge API schemas: one per operation, unknown fields rejected."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

ArticleState = Literal["draft", "in_review", "published", "archived"]
Audience = Literal["public", "internal"]
Language = Literal["zh", "en", "mixed"]
SignalKind = Literal["suggested", "opened", "solved_it"]

Short = Field(None, max_length=300)
Tag = Annotated[str, Field(min_length=1, max_length=100)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ArticleFields(_Strict):
    """Fields shared by create and edit; the status changes only through transitions."""

    product: str | None = Short
    category: str | None = Short
    tags: list[Tag] | None = Field(None, max_length=50)
    language: Language | None = None
    audience: Audience | None = Field(None, description="public (customers too) or internal (staff only).")
    owner: str | None = Field(None, max_length=100,
                              description="Who keeps the article current (default: the author).")
    review_by: date | None = Field(None, description="When the article must be reviewed again (YYYY-MM-DD).")


class ArticleCreate(ArticleFields):
    """A new draft article."""

    title: str = Field(..., min_length=1, max_length=300)
    body: str = Field(..., min_length=1, max_length=200_000, description="Markdown.")
    slug: str | None = Field(None, pattern=r"^[a-z0-9][a-z0-9-]{0,120}$",
                             description="Lowercase letters, digits and hyphens (default: made from the title).")


class ArticlePatch(ArticleFields):
    """Changes to a draft; published articles move back to draft first (a new version)."""

    title: str | None = Field(None, min_length=1, max_length=300)
    body: str | None = Field(None, min_length=1, max_length=200_000)


class ArticleTransitionBody(_Strict):
    """Move an article: submit for review, publish, return with comments, archive, reopen as a draft."""

    to: ArticleState
    comment: str | None = Field(None, max_length=5000, description="Review comment (needed to return a draft).")
    reviewer: str | None = Field(None, max_length=100, description="For 'in_review': the reviewer asked to look.")


class DraftFromTickets(_Strict):
    """Resolved tickets to turn into a draft article."""

    ticket_ids: list[Annotated[int, Field(ge=1, le=2**62)]] = Field(..., min_length=1, max_length=20)
    audience: Audience = Field("internal", description="Drafts from tickets start internal unless asked.")


class SignalBody(_Strict):
    """A usage signal; 'solved_it' without a ticket also counts as a deflection."""

    kind: SignalKind
    ticket_id: int | None = Field(None, ge=1, le=2**62,
                                  description="The ticket the reader was working on, if any.")
    query: str | None = Field(None, max_length=2000, description="What the reader had typed (for deflections).")


class ArticlePage(BaseModel):
    """One page of articles (without bodies)."""

    items: list[dict[str, Any]]
    total: int
    page: int
    page_size: int


class DraftResponse(BaseModel):
    """The new draft, its tickets and the personal data left out of it."""

    article: dict[str, Any]
    tickets: list[dict[str, Any]]
    removed: list[dict[str, Any]] = Field(description="Each removal: ticket, field, kind (email/phone/name/"
                                                      "organisation) and the text removed.")
    removed_counts: dict[str, int]


class GapTicketOut(BaseModel):
    """A ticket in a knowledge gap."""

    id: int
    number: str
    title: str
    product: str | None
    resolved_at: str
    best_score: float = Field(description="Cosine to the nearest published article section.")
    best_article_id: int | None


class GapOut(BaseModel):
    """A cluster of resolved tickets no article answers well."""

    label: str
    size: int
    products: dict[str, int]
    best_score: float
    cohesion: float
    tickets: list[GapTicketOut]
    draft: dict[str, Any] = Field(description="The request that drafts an article from these tickets.")


class GapReport(BaseModel):
    """Knowledge gaps, largest first, and the parameters used."""

    gaps: list[GapOut]
    days: int
    threshold: float
    max_distance: float
    min_size: int


class DuplicateOut(BaseModel):
    """Two near-duplicate articles."""

    first: dict[str, Any]
    second: dict[str, Any]
    cosine: float
    text_similarity: float
    reasons: list[str]
