"""Who is looking: the signed-in person, their role, teams and permissions."""

from __future__ import annotations

from dataclasses import dataclass, field

from kb.permissions import ROLES, STAFF, default_permissions

STAFF_ROLES = STAFF
__all__ = ["ROLES", "STAFF_ROLES", "Viewer", "DEFAULT_VIEWER", "SYSTEM"]


@dataclass(frozen=True)
class Viewer:
    """The person a query or change runs for."""

    name: str
    role: str
    teams: tuple[str, ...] = ()
    organisation: str | None = None
    permissions: frozenset[str] | None = field(default=None, compare=False)

    @property
    def is_staff(self) -> bool:
        """Staff see resolved cases, internal notes and internal articles; requesters do not."""
        return self.role in STAFF_ROLES or self.role == "system"

    def can(self, permission: str) -> bool:
        """Whether the role holds a permission (from the database when loaded, else the defaults)."""
        if self.role == "system":
            return True
        held = self.permissions if self.permissions is not None else default_permissions(self.role)
        return permission in held


# Internal callers (CLI import, scheduler) act as the system; people act as themselves.
SYSTEM = Viewer(name="system", role="system")
# Kept for tools that run without a signed-in person (evaluation, benchmarks).
DEFAULT_VIEWER = Viewer(name="api", role="agent")
