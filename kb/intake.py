"""Registering a ticket (问题登记): fields, number, priority from impact × urgency, SLA due times."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlite_utils

from kb.desk import DeskRules, iso
from kb.errors import Forbidden, InvalidInput
from kb.sla import due_values, policy_for
from kb.teams import get_team, team_for
from kb.ticket_access import visible_ticket
from kb.ticket_changes import change_ticket, insert_ticket, load_ticket
from kb.tickets import CHANNELS, LEVELS, PRIORITIES, next_number
from kb.visibility import Viewer

INTAKE_FIELDS = (
    "title", "description", "requester", "contact", "organisation", "channel", "happened_at",
    "product", "module", "version", "asset_model", "asset_serial", "environment", "error_codes",
    "steps_to_reproduce", "last_service_at", "category", "problem_type", "impact", "urgency",
    "priority", "priority_reason", "language", "shown_suggestions",
)
# Fields a PATCH may change; status, owner, SLA and audit fields have their own operations.
EDITABLE_FIELDS = tuple(f for f in INTAKE_FIELDS if f not in ("shown_suggestions",))


def matrix_priority(db: sqlite_utils.Database, impact: str | None, urgency: str | None) -> str | None:
    """Priority from the impact × urgency matrix; None unless both are given."""
    if not impact or not urgency:
        return None
    row = db.execute("SELECT priority FROM priority_matrix WHERE impact = ? AND urgency = ?",
                     [impact, urgency]).fetchone()
    return row[0] if row else None


def resolve_priority(db: sqlite_utils.Database, fields: dict[str, Any]) -> dict[str, Any]:
    """Fill in the priority from the matrix; an explicit different priority needs a reason."""
    computed = matrix_priority(db, fields.get("impact"), fields.get("urgency"))
    given = fields.get("priority")
    if given and computed and given != computed and not (fields.get("priority_reason") or "").strip():
        raise InvalidInput(
            f"impact {fields['impact']} × urgency {fields['urgency']} gives priority {computed}; "
            f"to set {given} instead, give a priority_reason")
    priority = given or computed or "normal"
    reason = fields.get("priority_reason") if given and given != computed else None
    return {"priority": priority, "priority_reason": reason}


def check_choices(fields: dict[str, Any]) -> None:
    """Reject values outside the known lists, naming the allowed ones."""
    problems = [
        f"{name} is {fields[name]!r}; allowed: {', '.join(allowed)}"
        for name, allowed in (("priority", PRIORITIES), ("impact", LEVELS), ("urgency", LEVELS),
                              ("channel", CHANNELS))
        if fields.get(name) not in (None, *allowed)
    ]
    if problems:
        raise InvalidInput("the ticket has invalid values", problems)


def _check_requester_fields(fields: dict[str, Any], actor: Viewer) -> None:
    """A customer files tickets in their own name, and priority is set by support staff."""
    if actor.can("tickets.work"):
        return
    if fields.get("requester") not in (None, "", actor.name):
        raise Forbidden("you can only register tickets in your own name; leave 'requester' empty")
    if fields.get("priority") or fields.get("priority_reason"):
        raise Forbidden("priority is set by support staff from impact and urgency; leave 'priority' empty")


def register_ticket(db: sqlite_utils.Database, fields: dict[str, Any], actor: Viewer, rules: DeskRules,
                    now: datetime) -> dict[str, Any]:
    """Create a new ticket with number, priority, routing team, tier and SLA due times."""
    unknown = set(fields) - set(INTAKE_FIELDS)
    if unknown:
        raise InvalidInput(f"unknown ticket field(s): {', '.join(sorted(unknown))}")
    if not (fields.get("title") or "").strip():
        raise InvalidInput("title is empty; say in a few words what is wrong")
    _check_requester_fields(fields, actor)
    check_choices(fields)
    at = iso(now)
    row = {k: v for k, v in fields.items() if v not in (None, "")}
    row.update(resolve_priority(db, fields))
    team = team_for(db, row.get("product"), row.get("category"), tier="L1") or \
        team_for(db, row.get("product"), row.get("category"))
    row.update(
        number=next_number(db, rules.ticket_prefix, now.astimezone(ZoneInfo(rules.calendar.timezone)).isoformat()), status="new", created_at=at, updated_at=at,
        created_by=actor.name, channel=row.get("channel") or "web",
        requester=row.get("requester") or (actor.name if actor.role == "requester" else None),
        team=team, tier=get_team(db, team)["tier"] if team else "L1",
    )
    row.update(due_values(rules.calendar, row, policy_for(db, row["priority"])))
    ticket_id = insert_ticket(db, row, actor, at)
    return load_ticket(db, ticket_id)


def _without_nulls_for_required(values: dict[str, Any]) -> dict[str, Any]:
    """null clears a field; for fields that always hold a value it means empty (or 'leave it')."""
    cleared = {"error_codes": [], "description": ""}
    return {k: cleared.get(k, v) if v is None else v for k, v in values.items()
            if not (v is None and k == "priority")}


def edit_ticket(db: sqlite_utils.Database, ticket_id: int, values: dict[str, Any], actor: Viewer,
                rules: DeskRules, now: datetime) -> dict[str, Any]:
    """Change descriptive fields; state, owner, SLA and audit fields have their own operations."""
    ticket = visible_ticket(db, ticket_id, actor)
    if not actor.can("tickets.work"):
        raise Forbidden("only support staff can edit a ticket; add a comment with what changed")
    refused = sorted(set(values) - set(EDITABLE_FIELDS))
    if refused:
        raise InvalidInput(f"field(s) {', '.join(refused)} cannot be changed here: state changes go through "
                           "/transitions, assignment through the 'assigned' transition")
    if "title" in values and not (values["title"] or "").strip():
        raise InvalidInput("title cannot be empty")
    values = _without_nulls_for_required(values)
    check_choices(values)
    merged = {**ticket, **values}
    if {"impact", "urgency", "priority"} & set(values):
        merged.update(resolve_priority(db, {**merged, "priority": values.get("priority"),
                                            "priority_reason": values.get("priority_reason")}))
    if merged["priority"] != ticket["priority"]:
        merged.update(due_values(rules.calendar, merged, policy_for(db, merged["priority"])))
    changed = {k: v for k, v in merged.items() if k in ticket and ticket[k] != v}
    return change_ticket(db, ticket, changed, "edited", actor, iso(now))
