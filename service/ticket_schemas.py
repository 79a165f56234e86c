"""Ticket API schemas: one per operation, unknown fields rejected."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

Priority = Literal["urgent", "high", "normal", "low"]
Level = Literal["high", "medium", "low"]
Channel = Literal["web", "email", "phone", "chat", "api"]
State = Literal["new", "triaged", "assigned", "in_progress", "waiting", "escalated", "resolved", "closed",
                "reopened", "cancelled", "merged"]
WaitingReason = Literal["engineer_not_served", "no_resources", "customer", "other"]

Short = Field(None, max_length=300)
Long = Field(None, max_length=20_000)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TicketFields(_Strict):
    """Descriptive ticket fields (shared by create and edit)."""

    description: str | None = Long
    contact: str | None = Short
    organisation: str | None = Short
    happened_at: AwareDatetime | None = Field(None, description="When the problem happened (ISO 8601 with offset).")
    product: str | None = Short
    module: str | None = Short
    version: str | None = Short
    asset_model: str | None = Short
    asset_serial: str | None = Short
    environment: str | None = Long
    error_codes: list[str] | None = Field(None, max_length=50)
    steps_to_reproduce: str | None = Long
    last_service_at: AwareDatetime | None = None
    category: str | None = Short
    problem_type: str | None = Short
    impact: Level | None = None
    urgency: Level | None = None
    priority: Priority | None = Field(None, description="Omit to compute it from impact × urgency.")
    priority_reason: str | None = Field(None, max_length=2000, description="Needed when priority differs from the matrix.")
    language: Literal["zh", "en", "mixed"] | None = None


class TicketCreate(TicketFields):
    """A new ticket from any intake channel."""

    title: str = Field(..., min_length=1, max_length=300)
    requester: str | None = Field(None, max_length=300, description="The customer (default: the caller if a requester).")
    channel: Channel | None = Field(None, description="web (default), email, phone, chat or api.")
    shown_suggestions: list[dict[str, Any]] | None = Field(
        None, max_length=50, description="The suggestions the form showed before the ticket was submitted.")


class TicketPatch(TicketFields):
    """Changes to descriptive fields; state, owner and SLA fields cannot be set here."""

    title: str | None = Field(None, min_length=1, max_length=300)


class TransitionBody(_Strict):
    """Move a ticket to another state, with the details that move needs."""

    to: State
    reason: str | None = Field(None, max_length=5000, description="Why (needed to escalate, reopen, cancel; "
                               "for waiting reason 'other').")
    waiting_reason: WaitingReason | None = Field(None, description="For 'waiting': A–D delay reasons of the manuals.")
    solution: str | None = Field(None, max_length=20_000, description="For 'resolved': what fixed it.")
    root_cause: str | None = Field(None, max_length=20_000)
    article_ids: list[Annotated[int, Field(ge=1, le=2**62)]] = Field(default_factory=list, max_length=20, description="Articles that solved it.")
    assignee: str | None = Field(None, max_length=100, description="For 'assigned' (omit for the proposal).")
    team: str | None = Field(None, max_length=100)
    rnd_request: str | None = Field(None, max_length=20_000, description="For escalation to R&D: what is asked.")
    merge_into: int | None = Field(None, ge=1, le=2**62, description="For 'merged': the id of the ticket this duplicates.")
    close_reason: Literal["confirmed", "timed_out"] | None = None


class TriageBody(_Strict):
    """The agent's triage: accept the proposal and/or set values."""

    accept: bool = Field(False, description="Start from the proposal's values.")
    category: str | None = Short
    problem_type: str | None = Short
    product: str | None = Short
    priority: Priority | None = None
    priority_reason: str | None = Field(None, max_length=2000)
    team: str | None = Field(None, max_length=100)


class CommentBody(_Strict):
    """A comment; internal ones are never shown to requesters."""

    body: str = Field(..., min_length=1, max_length=20_000)
    visibility: Literal["public", "internal"] = "public"


class VisitBody(_Strict):
    """An on-site visit to schedule."""

    scheduled_at: AwareDatetime
    place: str = Field(..., min_length=1, max_length=500)
    engineer: str = Field(..., min_length=1, max_length=100)
    tools: list[str] = Field(default_factory=list, max_length=50)
    spare_parts: list[str] = Field(default_factory=list, max_length=50)


class VisitOutcome(_Strict):
    """What happened on the visit and the customer's sign-off."""

    outcome: str | None = Field(None, max_length=5000)
    service_record: str | None = Field(None, max_length=20_000, description="设备服务记录单.")
    signed_by: str | None = Field(None, max_length=200, description="Customer who signed the service record.")
    signed_at: AwareDatetime | None = None


class SurveyBody(_Strict):
    """Satisfaction on close."""

    score: int = Field(..., ge=1, le=5)
    comment: str | None = Field(None, max_length=5000)


class FollowupBody(_Strict):
    """A follow-up call (回访) to make."""

    due_at: AwareDatetime
    assignee: str | None = Field(None, max_length=100)


class FollowupDone(_Strict):
    """Notes of a follow-up call that was made."""

    notes: str = Field(..., min_length=1, max_length=5000)


class SolvedByBody(_Strict):
    """The article that solved the ticket."""

    article_id: int = Field(..., ge=1, le=2**62)


class TicketPage(BaseModel):
    """One page of tickets."""

    items: list[dict[str, Any]]
    total: int
    page: int
    page_size: int


def iso_or_none(value: datetime | None) -> str | None:
    """Aware datetimes from the API as stored ISO text."""
    return value.isoformat() if value else None
