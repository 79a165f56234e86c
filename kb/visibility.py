"""Who is looking: decides which tickets and articles a search may return."""

from __future__ import annotations

from dataclasses import dataclass

STAFF_ROLES = ("agent", "senior_agent", "rnd", "kb_author", "kb_reviewer", "manager", "admin")
ROLES = ("requester", *STAFF_ROLES)


@dataclass(frozen=True)
class Viewer:
    """The person a query runs for."""

    name: str
    role: str

    @property
    def is_staff(self) -> bool:
        """Staff see resolved cases and internal articles; requesters see published public articles."""
        return self.role in STAFF_ROLES


# Until sign-in exists, API callers act as a support agent.
DEFAULT_VIEWER = Viewer(name="api", role="agent")
