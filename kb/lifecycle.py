"""Ticket state changes. Allowed moves and who may make them live in the `transitions` table.

A refused move raises Conflict naming the allowed moves; missing details raise
InvalidInput. Either way nothing is written (the caller's transaction rolls back).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlite_utils

from kb import sla
from kb.clock import parse_iso
from kb.desk import DeskRules, iso
from kb.errors import Conflict, InvalidInput
from kb.lifecycle_defaults import CLOSE_REASONS, PAUSING_WAITING_REASONS, WAITING_REASONS
from kb.teams import NEXT_TIER, get_member, get_team, propose, team_for
from kb.ticket_access import visible_ticket
from kb.ticket_changes import change_ticket, load_ticket
from kb.visibility import Viewer


@dataclass(frozen=True)
class Move:
    """One allowed move: from a state to a state, by some roles, needing some details."""

    from_status: str
    to_status: str
    roles: tuple[str, ...]
    requires: tuple[str, ...]


@dataclass(frozen=True)
class TransitionRequest:
    """What a caller asks for: the target state and the details that move needs."""

    to: str
    reason: str | None = None
    waiting_reason: str | None = None
    solution: str | None = None
    root_cause: str | None = None
    article_ids: tuple[int, ...] = ()
    assignee: str | None = None
    team: str | None = None
    rnd_request: str | None = None
    merge_into: int | None = None
    close_reason: str | None = None


def moves_from(db: sqlite_utils.Database, status: str) -> list[Move]:
    """Every move out of a state, from the transitions table."""
    rows = db.execute("SELECT * FROM transitions WHERE from_status = ? ORDER BY to_status", [status])
    return [Move(r["from_status"], r["to_status"], tuple(r["roles"].split(",")), tuple(json.loads(r["requires"])))
            for r in rows]


def allowed_moves(db: sqlite_utils.Database, status: str, role: str) -> list[Move]:
    """The moves a role may make from a state."""
    return [m for m in moves_from(db, status) if role in m.roles]


def transition(db: sqlite_utils.Database, ticket_id: int, request: TransitionRequest, actor: Viewer,
               rules: DeskRules, now: datetime) -> dict[str, Any]:
    """Move a ticket to another state; returns the changed ticket."""
    ticket = visible_ticket(db, ticket_id, actor)
    move = _find_move(db, ticket, request.to, actor)
    missing = [name for name in move.requires if not _given(request, name)]
    if missing:
        raise InvalidInput(f"moving to {request.to} needs: {', '.join(missing)}")
    values, data = _HANDLERS[request.to](db, ticket, request, actor, rules, now)
    if ticket["status"] == "waiting" and request.to != "waiting":
        values = {"waiting_reason": None, "waiting_note": None, **values,
                  **sla.resume_values(rules.calendar, ticket, sla.policy_for(db, ticket["priority"]), now)}
    values["status"] = request.to
    data = {"from": ticket["status"], "to": request.to, **({"reason": request.reason} if request.reason else {}),
            **data}
    return change_ticket(db, ticket, values, "transition", actor, iso(now), data)


def _find_move(db: sqlite_utils.Database, ticket: dict[str, Any], to: str, actor: Viewer) -> Move:
    for move in allowed_moves(db, ticket["status"], actor.role):
        if move.to_status == to:
            return move
    allowed = [m.to_status for m in allowed_moves(db, ticket["status"], actor.role)]
    raise Conflict(
        f"ticket {ticket['number']} is {ticket['status']}; role {actor.role} cannot move it to {to}. "
        f"Allowed moves: {', '.join(allowed) or 'none'}")


def _given(request: TransitionRequest, name: str) -> bool:
    value = getattr(request, name)
    return value is not None and (not isinstance(value, str) or bool(value.strip()))


Handler = Callable[[sqlite_utils.Database, dict[str, Any], TransitionRequest, Viewer, DeskRules, datetime],
                   tuple[dict[str, Any], dict[str, Any]]]


def _triage(db, ticket, request, actor, rules, now):
    return {}, {}


def _assign(db, ticket, request, actor, rules, now):
    if request.assignee:
        member = get_member(db, request.assignee)
        team = request.team or member["team"]
        if member["team"] != team:
            raise InvalidInput(f"{request.assignee} is in team {member['team']}, not {team}")
        assignee, why = request.assignee, "chosen by hand"
    else:
        proposal = propose(db, ticket, now, rules.calendar, team=request.team)
        if proposal.assignee is None:
            raise InvalidInput(f"{proposal.why}; name an assignee")
        team, assignee, why = proposal.team, proposal.assignee, proposal.why
    return {"team": team, "assignee": assignee, "tier": get_team(db, team)["tier"]}, {"why": why}


def _start(db, ticket, request, actor, rules, now):
    return sla.first_response_values(ticket, now), {}


def _wait(db, ticket, request, actor, rules, now):
    reason = request.waiting_reason
    if reason not in WAITING_REASONS:
        raise InvalidInput(f"waiting_reason {reason!r} is not one of: {', '.join(WAITING_REASONS)}")
    if reason == "other" and not (request.reason or "").strip():
        raise InvalidInput("waiting for reason 'other' needs a reason text saying what the ticket waits for")
    values = {"waiting_reason": reason, "waiting_note": request.reason, **sla.first_response_values(ticket, now)}
    if reason in PAUSING_WAITING_REASONS:
        values["sla_paused_since"] = iso(now)
    return values, {"waiting_reason": reason}


def _escalate(db, ticket, request, actor, rules, now):
    tier = NEXT_TIER.get(ticket.get("tier") or "L1")
    if tier is None:
        raise Conflict(f"ticket {ticket['number']} is already with R&D; there is no higher tier")
    team = request.team or _escalation_team(db, ticket, tier)
    if get_team(db, team)["tier"] != tier:
        raise InvalidInput(f"team {team} is not a {tier} team; escalation goes one tier up, to {tier}")
    if tier == "RND" and not (request.rnd_request or "").strip():
        raise InvalidInput("escalating to R&D needs rnd_request: what is asked of R&D (研发中心技术支持申请)")
    if request.assignee and get_member(db, request.assignee)["team"] != team:
        raise InvalidInput(f"{request.assignee} is not a member of {team}")
    values = {"tier": tier, "team": team, "assignee": request.assignee, "escalated": 1,
              "escalation_reason": request.reason, "rnd_request": request.rnd_request or ticket.get("rnd_request")}
    return values, {"tier": [ticket.get("tier"), tier]}


def _escalation_team(db: sqlite_utils.Database, ticket: dict[str, Any], tier: str) -> str:
    current = ticket.get("team")
    upward = get_team(db, current)["escalates_to"] if current else None
    team = upward or team_for(db, ticket.get("product"), ticket.get("category"), tier=tier)
    if team is None:
        raise InvalidInput(f"no {tier} team is configured for this ticket; name a team")
    return team


def _resolve(db, ticket, request, actor, rules, now):
    articles = _existing_articles(db, request.article_ids)
    for article_id in articles:
        db.table("ticket_articles").insert(
            {"ticket_id": ticket["id"], "article_id": article_id, "relation": "solved_by", "created_at": iso(now)},
            replace=True)
    values = {"resolution": request.solution.strip(), "root_cause": request.root_cause or ticket.get("root_cause"),
              "resolved_at": iso(now), "resolution_sla": sla.resolution_outcome(ticket, now),
              "waiting_reason": None, "waiting_note": None, **sla.first_response_values(ticket, now)}
    return values, {"articles": articles}


def _existing_articles(db: sqlite_utils.Database, article_ids: tuple[int, ...]) -> list[int]:
    ids = list(dict.fromkeys(article_ids))
    found = {r[0] for r in db.execute(
        f"SELECT id FROM articles WHERE id IN ({','.join('?' * len(ids))})", ids)} if ids else set()
    unknown = [str(i) for i in ids if i not in found]
    if unknown:
        raise InvalidInput(f"article(s) {', '.join(unknown)} do not exist")
    return ids


def _close(db, ticket, request, actor, rules, now):
    reason = request.close_reason or "confirmed"
    if reason not in CLOSE_REASONS:
        raise InvalidInput(f"close_reason {reason!r} is not one of: {', '.join(CLOSE_REASONS)}")
    return {"closed_at": iso(now), "close_reason": reason}, {}


def _reopen(db, ticket, request, actor, rules, now):
    if ticket["status"] == "closed":
        limit = parse_iso(ticket["closed_at"]) + timedelta(days=rules.reopen_window_days)
        if now > limit:
            raise Conflict(f"ticket {ticket['number']} was closed more than {rules.reopen_window_days} days ago; "
                           "register a new ticket that refers to it")
    values = {"reopen_count": ticket["reopen_count"] + 1, "resolved_at": None, "closed_at": None,
              "close_reason": None, "resolution_sla": None if ticket.get("resolution_sla") == "met" else
              ticket.get("resolution_sla")}
    return values, {}


def _cancel(db, ticket, request, actor, rules, now):
    return {"cancel_reason": request.reason}, {}


def _merge(db, ticket, request, actor, rules, now):
    if request.merge_into == ticket["id"]:
        raise InvalidInput("a ticket cannot be merged into itself; give the id of the ticket it duplicates")
    target = load_ticket(db, request.merge_into) if _exists(db, request.merge_into) else None
    if target is None or target["status"] in ("merged", "cancelled"):
        raise InvalidInput(f"merge_into {request.merge_into} is not a live ticket; merge into an open or "
                           "resolved ticket")
    return {"merged_into": target["id"]}, {"merged_into_number": target["number"]}


def _exists(db: sqlite_utils.Database, ticket_id: int | None) -> bool:
    return ticket_id is not None and db.execute("SELECT 1 FROM tickets WHERE id = ?", [ticket_id]).fetchone() is not None


_HANDLERS: dict[str, Handler] = {
    "triaged": _triage, "assigned": _assign, "in_progress": _start, "waiting": _wait, "escalated": _escalate,
    "resolved": _resolve, "closed": _close, "reopened": _reopen, "cancelled": _cancel, "merged": _merge,
}
