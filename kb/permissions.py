"""Roles and what each may do (权限分配), as data: migrations seed `role_permissions` from here.

Object-level rules (which tickets a person sees) live in `kb.ticket_access`; these
permissions say which kinds of access a role has at all.
"""

from __future__ import annotations

ROLES = ("requester", "agent", "senior_agent", "rnd", "kb_author", "kb_reviewer", "manager", "admin")
SUPPORT = ("agent", "senior_agent", "rnd", "manager", "admin")
STAFF = tuple(r for r in ROLES if r != "requester")

PERMISSIONS: dict[str, tuple[str, ...]] = {
    "tickets.create": ROLES,
    "tickets.read.own": ROLES,
    "tickets.read.team": ("agent", "senior_agent", "rnd"),
    "tickets.read.resolved": ("agent", "senior_agent", "rnd", "kb_author", "kb_reviewer"),
    "tickets.read.all": ("manager", "admin"),
    "tickets.work": SUPPORT,
    "comments.internal": STAFF,
    "articles.read.internal": STAFF,
    "articles.write": ("agent", "senior_agent", "kb_author", "kb_reviewer", "manager", "admin"),
    "articles.review": ("senior_agent", "kb_reviewer", "admin"),
    "metrics.read": ("senior_agent", "manager", "admin"),
    "desk.admin": ("manager", "admin"),
    "users.admin": ("admin",),
}
# Optional: let requesters see their organisation's tickets by adding
# ('requester', 'tickets.read.organisation') to role_permissions.
OPTIONAL_PERMISSIONS = ("tickets.read.organisation",)

DEFAULT_ROLE_PERMISSIONS = [
    {"role": role, "permission": permission} for permission, roles in PERMISSIONS.items() for role in roles
]


def default_permissions(role: str) -> frozenset[str]:
    """The seeded permissions of a role (used when no database is at hand)."""
    return frozenset(p for p, roles in PERMISSIONS.items() if role in roles)
