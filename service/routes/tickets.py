"""Ticket API: intake, triage, transitions, comments, visits, surveys, follow-ups, timeline."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Query

from indexer.triage import triage_proposal
from kb import activity, intake, triage
from kb.clock import utc_now
from kb.effectiveness import record_suggested
from kb.lifecycle import TransitionRequest, transition
from kb.ticket_queries import TicketFilter, list_tickets, ticket_for, timeline_for
from service.deps import RuntimeDep, ViewerDep
from service.schemas import PathId
from service.ticket_schemas import (
    CommentBody,
    FollowupBody,
    FollowupDone,
    SolvedByBody,
    State,
    SurveyBody,
    TicketCreate,
    TicketPage,
    TicketPatch,
    TransitionBody,
    TriageBody,
    VisitBody,
    VisitOutcome,
    iso_or_none,
)

router = APIRouter(prefix="/api/v1/tickets", tags=["tickets"])
Ticket = dict[str, Any]


def _fields(body: Any) -> dict[str, Any]:
    values = body.model_dump(exclude_unset=True)
    for key in ("happened_at", "last_service_at"):
        if key in values:
            values[key] = iso_or_none(values[key])
    return values


@router.post("", status_code=201)
async def create_ticket(body: TicketCreate, runtime: RuntimeDep, viewer: ViewerDep) -> Ticket:
    """Register a ticket; Casewise proposes category, priority and team from the nearest resolved cases."""
    text = f"{body.title}\n{body.description or ''}"
    loop = asyncio.get_running_loop()
    proposal = await loop.run_in_executor(runtime.search_pool, triage_proposal, runtime.index, text,
                                          runtime.weights)
    fields, now = _fields(body), utc_now()

    shown = [s["id"] for s in body.shown_suggestions or [] if s.get("kind") == "article" and isinstance(s.get("id"), int)]

    def write(db: Any) -> Ticket:
        ticket = intake.register_ticket(db, fields, viewer, runtime.rules, now)
        triage.store_proposal(db, ticket["id"], proposal, now)
        record_suggested(db, shown, viewer, now, ticket["id"])
        return ticket

    ticket = await loop.run_in_executor(None, runtime.database.write, write)
    return {**ticket, "triage_proposal": proposal}


@router.get("", response_model=TicketPage)
def list_route(runtime: RuntimeDep, viewer: ViewerDep, status: State | None = None, team: str | None = None,
               assignee: str | None = None, breached: bool | None = None,
               q: Annotated[str | None, Query(max_length=200)] = None,
               page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
               page_size: Annotated[int, Query(ge=1)] = 20) -> TicketPage:
    """Tickets you may see, newest first, filtered and paged."""
    size = min(page_size, runtime.settings.max_page_size)
    filters = TicketFilter(status=status, team=team, assignee=assignee, breached=breached, q=q)
    items, total = runtime.database.read(lambda db: list_tickets(db, viewer, filters, page, size))
    return TicketPage(items=items, total=total, page=page, page_size=size)


@router.get("/{ticket_id}")
def get_ticket(ticket_id: PathId, runtime: RuntimeDep, viewer: ViewerDep) -> Ticket:
    """One ticket with the moves you may make and its triage proposal."""
    def read(db: Any) -> Ticket:
        ticket = ticket_for(db, ticket_id, viewer)
        return {**ticket, "triage": triage.get_proposal(db, ticket_id) if viewer.is_staff else None}

    return runtime.database.read(read)


@router.patch("/{ticket_id}")
def patch_ticket(ticket_id: PathId, body: TicketPatch, runtime: RuntimeDep, viewer: ViewerDep) -> Ticket:
    """Change descriptive fields (not the state, owner or SLA fields)."""
    fields = _fields(body)
    return runtime.database.write(lambda db: intake.edit_ticket(db, ticket_id, fields, viewer, runtime.rules, utc_now()))


@router.post("/{ticket_id}/triage")
def triage_route(ticket_id: PathId, body: TriageBody, runtime: RuntimeDep, viewer: ViewerDep) -> Ticket:
    """Accept or change the triage proposal; the ticket becomes 'triaged' and the choice is recorded."""
    chosen = body.model_dump(exclude_unset=True)
    return runtime.database.write(lambda db: triage.decide(db, ticket_id, chosen, viewer, runtime.rules, utc_now()))


@router.post("/{ticket_id}/transitions")
def transition_route(ticket_id: PathId, body: TransitionBody, runtime: RuntimeDep, viewer: ViewerDep) -> Ticket:
    """Move the ticket to another state; 409 names the allowed moves when this one is not."""
    request = TransitionRequest(**{**body.model_dump(), "article_ids": tuple(body.article_ids)})
    return runtime.database.write(lambda db: transition(db, ticket_id, request, viewer, runtime.rules, utc_now()))


@router.get("/{ticket_id}/events")
def events_route(ticket_id: PathId, runtime: RuntimeDep, viewer: ViewerDep) -> list[dict[str, Any]]:
    """The ticket's timeline: every change with actor, time, old and new values."""
    return runtime.database.read(lambda db: timeline_for(db, ticket_id, viewer))


@router.get("/{ticket_id}/comments")
def comments_route(ticket_id: PathId, runtime: RuntimeDep, viewer: ViewerDep) -> list[dict[str, Any]]:
    """Comments you may read (internal notes only for staff)."""
    return runtime.database.read(lambda db: activity.comments_for(db, ticket_id, viewer))


@router.post("/{ticket_id}/comments", status_code=201)
def add_comment(ticket_id: PathId, body: CommentBody, runtime: RuntimeDep, viewer: ViewerDep) -> dict[str, Any]:
    """Add a public comment or an internal note."""
    return runtime.database.write(
        lambda db: activity.add_comment(db, ticket_id, body.body, body.visibility, viewer, utc_now()))


@router.get("/{ticket_id}/visits")
def visits_route(ticket_id: PathId, runtime: RuntimeDep, viewer: ViewerDep) -> list[dict[str, Any]]:
    """On-site visits of the ticket."""
    return runtime.database.read(lambda db: activity.visits_for(db, ticket_id, viewer))


@router.post("/{ticket_id}/visits", status_code=201)
def schedule_visit(ticket_id: PathId, body: VisitBody, runtime: RuntimeDep, viewer: ViewerDep) -> dict[str, Any]:
    """Schedule an on-site visit: time, place, engineer, tools and spare parts."""
    visit = {**body.model_dump(), "scheduled_at": body.scheduled_at.isoformat()}
    return runtime.database.write(lambda db: activity.schedule_visit(db, ticket_id, visit, viewer, utc_now()))


@router.patch("/{ticket_id}/visits/{visit_id}")
def record_visit(ticket_id: PathId, visit_id: PathId, body: VisitOutcome, runtime: RuntimeDep,
                 viewer: ViewerDep) -> dict[str, Any]:
    """Record the outcome, service record and the customer's sign-off."""
    outcome = {**body.model_dump(exclude_unset=True), "signed_at": iso_or_none(body.signed_at)}
    return runtime.database.write(
        lambda db: activity.record_visit(db, ticket_id, visit_id, outcome, viewer, utc_now()))


@router.post("/{ticket_id}/survey", status_code=201)
def survey_route(ticket_id: PathId, body: SurveyBody, runtime: RuntimeDep, viewer: ViewerDep) -> dict[str, Any]:
    """The customer's satisfaction (1–5) and comment, once the ticket is closed."""
    return runtime.database.write(
        lambda db: activity.record_survey(db, ticket_id, body.score, body.comment, viewer, utc_now()))


@router.post("/{ticket_id}/solved-by", status_code=201)
def solved_by(ticket_id: PathId, body: SolvedByBody, runtime: RuntimeDep, viewer: ViewerDep) -> dict[str, Any]:
    """'This solved it': link an article to the ticket as its solution (feeds the article's ranking signal)."""
    return runtime.database.write(
        lambda db: activity.link_solving_article(db, ticket_id, body.article_id, viewer, utc_now()))


@router.get("/{ticket_id}/followups")
def followups_route(ticket_id: PathId, runtime: RuntimeDep, viewer: ViewerDep) -> list[dict[str, Any]]:
    """Follow-up calls (回访) planned and made."""
    return runtime.database.read(lambda db: activity.followups_for(db, ticket_id, viewer))


@router.post("/{ticket_id}/followups", status_code=201)
def schedule_followup(ticket_id: PathId, body: FollowupBody, runtime: RuntimeDep, viewer: ViewerDep) -> dict[str, Any]:
    """Schedule a follow-up call."""
    return runtime.database.write(lambda db: activity.schedule_followup(
        db, ticket_id, body.due_at.isoformat(), body.assignee, viewer, utc_now()))


@router.post("/{ticket_id}/followups/{followup_id}/done")
def followup_done(ticket_id: PathId, followup_id: PathId, body: FollowupDone, runtime: RuntimeDep,
                  viewer: ViewerDep) -> dict[str, Any]:
    """Record that the follow-up call was made."""
    return runtime.database.write(
        lambda db: activity.complete_followup(db, ticket_id, followup_id, body.notes, viewer, utc_now()))
