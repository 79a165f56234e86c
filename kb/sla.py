"""Service-level targets: due times on the business calendar, pauses while waiting on the customer.

Targets are business minutes from a ticket's creation. Time spent waiting for a
pausing reason (the customer's own reasons) is added to the resolution target.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlite_utils

from kb.calendar import BusinessCalendar
from kb.clock import parse_iso
from kb.desk import iso
from kb.errors import InvalidInput


@dataclass(frozen=True)
class SlaPolicy:
    """First-response and resolution targets for one priority, in business minutes."""

    priority: str
    response_minutes: float
    resolution_minutes: float


def policy_for(db: sqlite_utils.Database, priority: str) -> SlaPolicy:
    """The policy of a priority; InvalidInput when the priority has none."""
    row = db.execute("SELECT * FROM sla_policies WHERE priority = ?", [priority]).fetchone()
    if row is None:
        raise InvalidInput(f"no SLA policy for priority {priority!r}; add one in sla_policies")
    return SlaPolicy(row["priority"], row["response_minutes"], row["resolution_minutes"])


def all_policies(db: sqlite_utils.Database) -> list[SlaPolicy]:
    """Every policy, most urgent first."""
    rows = db.execute("SELECT * FROM sla_policies ORDER BY response_minutes, resolution_minutes").fetchall()
    return [SlaPolicy(r["priority"], r["response_minutes"], r["resolution_minutes"]) for r in rows]


def set_policy(db: sqlite_utils.Database, policy: SlaPolicy) -> None:
    """Create or change the policy of a priority."""
    db.table("sla_policies").upsert(
        {"priority": policy.priority, "response_minutes": policy.response_minutes,
         "resolution_minutes": policy.resolution_minutes}, pk="priority")


def due_values(calendar: BusinessCalendar, ticket: dict[str, Any], policy: SlaPolicy) -> dict[str, str]:
    """Response and resolution due times for a ticket (pauses so far included)."""
    start = parse_iso(ticket["created_at"])
    paused = ticket.get("sla_paused_minutes") or 0.0
    return {
        "response_due_at": iso(calendar.add_business_minutes(start, policy.response_minutes)),
        "resolution_due_at": iso(calendar.add_business_minutes(start, policy.resolution_minutes + paused)),
    }


def resume_values(calendar: BusinessCalendar, ticket: dict[str, Any], policy: SlaPolicy,
                  now: datetime) -> dict[str, Any]:
    """Stop a pause: add its business minutes to the resolution target."""
    if not ticket.get("sla_paused_since"):
        return {}
    paused = calendar.business_minutes_between(parse_iso(ticket["sla_paused_since"]), now)
    total = round((ticket.get("sla_paused_minutes") or 0.0) + paused, 3)
    resumed = {**ticket, "sla_paused_minutes": total}
    return {"sla_paused_since": None, "sla_paused_minutes": total,
            "resolution_due_at": due_values(calendar, resumed, policy)["resolution_due_at"]}


def first_response_values(ticket: dict[str, Any], now: datetime) -> dict[str, Any]:
    """Record the first response (once) and whether it met its target."""
    if ticket.get("first_response_at"):
        return {}
    met = ticket.get("response_sla") != "breached" and (
        not ticket.get("response_due_at") or now <= parse_iso(ticket["response_due_at"]))
    return {"first_response_at": iso(now), "response_sla": "met" if met else "breached"}


def resolution_outcome(ticket: dict[str, Any], now: datetime) -> str:
    """'met' or 'breached' for a ticket resolved now."""
    if ticket.get("resolution_sla") == "breached":
        return "breached"
    due = ticket.get("resolution_due_at")
    return "met" if not due or now <= parse_iso(due) else "breached"


def elapsed_share(calendar: BusinessCalendar, ticket: dict[str, Any], target_minutes: float,
                  now: datetime, paused: float = 0.0) -> float:
    """Share of a target used up by business time since creation (pauses excluded)."""
    used = calendar.business_minutes_between(parse_iso(ticket["created_at"]), now) - paused
    return used / target_minutes if target_minutes else 1.0
