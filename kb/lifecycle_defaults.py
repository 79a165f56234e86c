"""Seed data for the ticket lifecycle: states, allowed moves, priority matrix and SLA targets.

Migrations copy these into tables; from then on the tables are the truth and can be
edited per installation. Times are business minutes (Mon–Fri 9:00–18:30 by default).
"""

from __future__ import annotations

import json

OPEN_STATES = ("new", "triaged", "assigned", "in_progress", "waiting", "escalated", "reopened")
FINAL_STATES = ("resolved", "closed", "cancelled", "merged")
STATES = (*OPEN_STATES, *FINAL_STATES)

SUPPORT_ROLES = ("agent", "senior_agent", "rnd", "manager", "admin")
EVERYONE = ("requester", *SUPPORT_ROLES)

# The manuals' delay reasons (拖延原因 A–D).
WAITING_REASONS = {
    "engineer_not_served": "A. 工程师已接单但尚未服务 / engineer took it but has not served it",
    "no_resources": "B. 人员或物料不足 / not enough people or materials",
    "customer": "C. 客户自身原因 / the customer's own reasons",
    "other": "D. 其他 / other (say what)",
}
# Waiting for these reasons stops the resolution clock.
PAUSING_WAITING_REASONS = ("customer",)
CLOSE_REASONS = ("confirmed", "timed_out")


def _moves(sources: tuple[str, ...], target: str, roles: tuple[str, ...], requires: tuple[str, ...] = ()):
    return [
        {"from_status": source, "to_status": target, "roles": ",".join(roles),
         "requires": json.dumps(list(requires))}
        for source in sources
    ]


DEFAULT_TRANSITIONS = [
    *_moves(("new",), "triaged", SUPPORT_ROLES),
    *_moves(("new", "triaged", "assigned", "in_progress", "escalated", "reopened"), "assigned", SUPPORT_ROLES),
    *_moves(("assigned", "escalated", "waiting", "reopened"), "in_progress", SUPPORT_ROLES),
    *_moves(("assigned", "in_progress", "escalated", "reopened"), "waiting", SUPPORT_ROLES, ("waiting_reason",)),
    *_moves(("triaged", "assigned", "in_progress", "waiting", "escalated", "reopened"), "escalated",
            SUPPORT_ROLES, ("reason",)),
    *_moves(("assigned", "in_progress", "waiting", "escalated", "reopened"), "resolved", SUPPORT_ROLES,
            ("solution",)),
    *_moves(("resolved",), "closed", EVERYONE),
    *_moves(("resolved", "closed"), "reopened", EVERYONE, ("reason",)),
    *_moves(OPEN_STATES, "cancelled", EVERYONE, ("reason",)),
    *_moves(OPEN_STATES, "merged", SUPPORT_ROLES, ("merge_into",)),
]

DEFAULT_PRIORITY_MATRIX = [
    {"impact": impact, "urgency": urgency, "priority": priority}
    for impact, row in {
        "high": {"high": "urgent", "medium": "high", "low": "normal"},
        "medium": {"high": "high", "medium": "normal", "low": "low"},
        "low": {"high": "normal", "medium": "low", "low": "low"},
    }.items()
    for urgency, priority in row.items()
]

# Manuals: urgent answered within 1 h and solved within 2 h; normal solved within 4 h;
# a support request reviewed within 2 working days (2 × 570 min).
DEFAULT_SLA_POLICIES = [
    {"priority": "urgent", "response_minutes": 60, "resolution_minutes": 120},
    {"priority": "high", "response_minutes": 60, "resolution_minutes": 180},
    {"priority": "normal", "response_minutes": 120, "resolution_minutes": 240},
    {"priority": "low", "response_minutes": 570, "resolution_minutes": 1140},
]
