"""The SLA watch: warnings at a share of each target, breaches, and escalation on breach.

Run by the service's scheduler and by `casewise sla-check`; each warning and breach
is recorded once per ticket and target, as an audit event with the changed SLA field.
Automatic escalation on a resolution breach moves first-line (L1) tickets to L2; higher
tiers are left to people, since an R&D request needs a human to say what is asked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlite_utils

from kb import sla
from kb.clock import parse_iso
from kb.desk import DeskRules, iso
from kb.errors import CasewiseError
from kb.lifecycle import TransitionRequest, allowed_moves, transition
from kb.lifecycle_defaults import OPEN_STATES
from kb.ticket_changes import change_ticket, decode
from kb.visibility import Viewer

SCHEDULER = Viewer(name="sla-scheduler", role="manager")


@dataclass
class SlaReport:
    """What one check found and did (ticket numbers)."""

    checked: int = 0
    warnings: list[str] = field(default_factory=list)
    breaches: list[str] = field(default_factory=list)
    escalated: list[str] = field(default_factory=list)


def check_sla(db: sqlite_utils.Database, rules: DeskRules, now: datetime) -> SlaReport:
    """Check every open ticket against its targets once."""
    report = SlaReport()
    marks = ",".join("?" * len(OPEN_STATES))
    rows = db.execute(f"SELECT * FROM tickets WHERE status IN ({marks}) AND response_due_at IS NOT NULL",
                      list(OPEN_STATES)).fetchall()
    for row in rows:
        report.checked += 1
        _check_ticket(db, decode(dict(row)), rules, now, report)
    return report


def _check_ticket(db: sqlite_utils.Database, ticket: dict[str, Any], rules: DeskRules, now: datetime,
                  report: SlaReport) -> None:
    policy = sla.policy_for(db, ticket["priority"])
    values: dict[str, Any] = {}
    if not ticket.get("first_response_at"):
        values["response_sla"] = _state(rules, ticket, "response_sla", ticket["response_due_at"],
                                        policy.response_minutes, now, 0.0)
    if not ticket.get("sla_paused_since"):
        values["resolution_sla"] = _state(rules, ticket, "resolution_sla", ticket["resolution_due_at"],
                                          policy.resolution_minutes, now, ticket["sla_paused_minutes"])
    changed = {k: v for k, v in values.items() if v != ticket.get(k)}
    if not changed:
        return
    ticket = change_ticket(db, ticket, changed, "sla_check", SCHEDULER, iso(now), {"at": iso(now)})
    for state in changed.values():
        (report.breaches if state == "breached" else report.warnings).append(ticket["number"])
    if changed.get("resolution_sla") == "breached" and rules.escalate_on_breach:
        _escalate_on_breach(db, ticket, rules, now, report)


def _state(rules: DeskRules, ticket: dict[str, Any], field_name: str, due: str, target: float,
           now: datetime, paused: float) -> str | None:
    current = ticket.get(field_name)
    if current == "breached":
        return current
    if now >= parse_iso(due):
        return "breached"
    if sla.elapsed_share(rules.calendar, ticket, target, now, paused) >= rules.sla_warning_share:
        return "warning"
    return current


def _escalate_on_breach(db: sqlite_utils.Database, ticket: dict[str, Any], rules: DeskRules, now: datetime,
                        report: SlaReport) -> None:
    if (ticket.get("tier") or "L1") != "L1" or "escalated" not in {m.to_status for m in allowed_moves(
            db, ticket["status"], SCHEDULER.role)}:
        return
    request = TransitionRequest(to="escalated", reason="SLA resolution target breached (自动升级)")
    try:
        with db.atomic():  # a savepoint: a ticket that cannot be escalated keeps its breach record
            transition(db, ticket["id"], request, SCHEDULER, rules, now)
        report.escalated.append(ticket["number"])
    except CasewiseError:
        pass
