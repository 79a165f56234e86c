"""Triage help: propose category, priority and team from the nearest resolved cases, record the choice.

The vote is a pure function over (case, similarity) pairs; the indexer finds the
neighbours. The agent's decision (accepted or changed) is stored with the proposal.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlite_utils

from kb import sla
from kb.desk import DeskRules, iso
from kb.errors import Conflict, Forbidden, InvalidInput
from kb.intake import check_choices, matrix_priority
from kb.teams import get_team
from kb.ticket_access import visible_ticket
from kb.ticket_changes import change_ticket

VOTED_FIELDS = ("product", "category", "priority", "team")


def vote(neighbours: Sequence[tuple[dict[str, Any], float]]) -> dict[str, Any]:
    """Similarity-weighted vote per field; confidence is the winner's share of the weight."""
    proposal: dict[str, Any] = {"based_on": [case.get("number") for case, _ in neighbours]}
    for field in VOTED_FIELDS:
        weights: dict[str, float] = defaultdict(float)
        for case, similarity in neighbours:
            if case.get(field):
                weights[case[field]] += max(similarity, 0.0)
        total = sum(weights.values())
        if total <= 0:
            proposal[field] = {"value": None, "confidence": 0.0}
            continue
        value = max(sorted(weights), key=lambda v: weights[v])
        proposal[field] = {"value": value, "confidence": round(weights[value] / total, 3)}
    return proposal


def store_proposal(db: sqlite_utils.Database, ticket_id: int, proposal: dict[str, Any], now: datetime) -> None:
    """Keep the proposal made when the ticket was registered."""
    db.table("triage_proposals").upsert(
        {"ticket_id": ticket_id, "proposal": json.dumps(proposal, ensure_ascii=False), "created_at": iso(now)},
        pk="ticket_id")


def get_proposal(db: sqlite_utils.Database, ticket_id: int) -> dict[str, Any] | None:
    """The stored proposal and the decision taken on it, if any."""
    row = db.execute("SELECT * FROM triage_proposals WHERE ticket_id = ?", [ticket_id]).fetchone()
    if row is None:
        return None
    return {**dict(row), "proposal": json.loads(row["proposal"]),
            "decision": json.loads(row["decision"]) if row["decision"] else None}


def decide(db: sqlite_utils.Database, ticket_id: int, chosen: dict[str, Any], actor: Any, rules: DeskRules,
           now: datetime) -> dict[str, Any]:
    """Apply the agent's triage (the proposal, or their own values) and move the ticket to triaged."""
    ticket = visible_ticket(db, ticket_id, actor)
    if not actor.can("tickets.work"):
        raise Forbidden("triage is done by support staff")
    if ticket["status"] != "new":
        raise Conflict(f"ticket {ticket['number']} is {ticket['status']}; triage is for new tickets")
    stored = get_proposal(db, ticket_id)
    proposed = {f: (stored["proposal"].get(f) or {}).get("value") for f in VOTED_FIELDS} if stored else {}
    values = _triage_values(db, ticket, chosen, proposed)
    decision = {"accepted": all(values.get(f) == proposed.get(f) for f in VOTED_FIELDS if f in values),
                "proposed": proposed, "chosen": values}
    if values.get("priority") != ticket["priority"]:
        policy = sla.policy_for(db, values["priority"])
        values.update(sla.due_values(rules.calendar, {**ticket, **values}, policy))
    values["status"] = "triaged"
    if stored:
        db.table("triage_proposals").update(ticket_id, {"decision": json.dumps(decision, ensure_ascii=False),
                                                        "decided_by": actor.name, "decided_at": iso(now)})
    return change_ticket(db, ticket, values, "triaged", actor, iso(now),
                         {"from": "new", "to": "triaged", "decision": decision})


def _triage_values(db: sqlite_utils.Database, ticket: dict[str, Any], chosen: dict[str, Any],
                   proposed: dict[str, Any]) -> dict[str, Any]:
    allowed = {"category", "priority", "team", "problem_type", "product", "priority_reason", "accept"}
    unknown = set(chosen) - allowed
    if unknown:
        raise InvalidInput(f"unknown triage field(s): {', '.join(sorted(unknown))}")
    base = {f: proposed.get(f) or ticket.get(f) for f in VOTED_FIELDS} if chosen.get("accept") else \
        {f: ticket.get(f) for f in VOTED_FIELDS}
    if matrix_priority(db, ticket.get("impact"), ticket.get("urgency")):
        base["priority"] = ticket["priority"]  # impact × urgency was given: the proposal does not relax it
    values = {**base, **{k: v for k, v in chosen.items() if k != "accept" and v is not None}}
    check_choices(values)
    if values.get("team"):
        values["tier"] = get_team(db, values["team"])["tier"]
    return _with_priority_reason(db, ticket, values, proposed)


def _with_priority_reason(db: sqlite_utils.Database, ticket: dict[str, Any], values: dict[str, Any],
                          proposed: dict[str, Any]) -> dict[str, Any]:
    computed = matrix_priority(db, ticket.get("impact"), ticket.get("urgency"))
    if not computed or values["priority"] == computed or values.get("priority_reason"):
        return values
    if values["priority"] == proposed.get("priority"):
        return {**values, "priority_reason": "triage proposal from similar resolved cases"}
    raise InvalidInput(f"impact × urgency gives priority {computed}; to set {values['priority']}, "
                       "give a priority_reason")
