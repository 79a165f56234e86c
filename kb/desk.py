"""The rules a support desk runs by: business calendar, reopen window, SLA warning and escalation."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from kb.calendar import BusinessCalendar


@dataclass(frozen=True)
class DeskRules:
    """Installation-wide lifecycle settings (the service builds them from its settings)."""

    calendar: BusinessCalendar = field(default_factory=BusinessCalendar)
    ticket_prefix: str = "CW"
    reopen_window_days: int = 14
    sla_warning_share: float = 0.75
    escalate_on_breach: bool = True


def iso(moment: datetime) -> str:
    """Store a moment as UTC ISO 8601 with seconds."""
    return moment.astimezone(UTC).isoformat(timespec="seconds")
