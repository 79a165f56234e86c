"""A ticket as metrics see it: its columns, its audit events, and the stretches of state they make."""

from __future__ import annotations

import math
from bisect import bisect_left
from dataclasses import dataclass, field
from functools import cached_property

FOREVER = math.inf


@dataclass(slots=True)
class TicketFacts:
    """The columns metrics read, with times as POSIX timestamps."""

    id: int
    number: str
    title: str
    status: str
    priority: str
    product: str | None
    category: str | None
    channel: str | None
    team: str | None
    assignee: str | None
    escalated: bool
    reopen_count: int
    created: float
    first_response: float | None
    resolved: float | None
    closed: float | None
    response_sla: str | None
    resolution_sla: str | None
    satisfaction: int | None
    error_codes: list[str]
    shown_suggestions: int


@dataclass(slots=True)
class Event:
    """One timeline event of a ticket: what changed that metrics care about."""

    at: float
    action: str
    status: str | None = None
    assignee: tuple[str | None] | None = None  # (new value,) when the event set the assignee
    team: str | None = None
    response_sla: str | None = None
    resolution_sla: str | None = None
    waiting_reason: str | None = None
    tier_to: str | None = None


@dataclass(slots=True)
class Stretch:
    """A stretch of time a ticket spent in one state with one assignee: [start, end)."""

    status: str
    start: float
    end: float
    assignee: str | None
    waiting_reason: str | None


@dataclass
class Timeline:
    """A ticket's events in order and the stretches of state they make."""

    events: list[Event] = field(default_factory=list)

    @cached_property
    def stretches(self) -> list[Stretch]:
        """State stretches, each until the next change (the last one until FOREVER); empty ones dropped."""
        marks: list[tuple[str, float, str | None, str | None]] = []
        status: str | None = None
        assignee = None
        for event in self.events:
            if event.assignee is not None:
                assignee = event.assignee[0]
            elif event.status is None:
                continue
            status = event.status or status
            if status is not None:
                marks.append((status, event.at, assignee, event.waiting_reason if status == "waiting" else None))
        ends = [at for _, at, _, _ in marks[1:]] + [FOREVER]
        return [Stretch(s, at, end, who, why) for (s, at, who, why), end in zip(marks, ends) if end > at]

    @cached_property
    def _starts(self) -> list[float]:
        return [stretch.start for stretch in self.stretches]

    def status_at(self, moment: float) -> str | None:
        """The state just before a moment, after every earlier event (None if the ticket did not exist)."""
        if self.events and moment > self.events[-1].at:  # after the last event: its latest state
            return next((e.status for e in reversed(self.events) if e.status), None)
        index = bisect_left(self._starts, moment) - 1
        return self.stretches[index].status if index >= 0 else None

    def first_assignee(self) -> str | None:
        """The first person the ticket was assigned to."""
        return next((e.assignee[0] for e in self.events if e.assignee and e.assignee[0]), None)

    @property
    def imported(self) -> bool:
        """Whether the ticket came in by import (its history is only its recorded times)."""
        return bool(self.events) and self.events[0].action == "imported"

    def holders(self) -> tuple[set[str], set[str]]:
        """Every team and every assignee the ticket had."""
        teams = {e.team for e in self.events if e.team}
        people = {e.assignee[0] for e in self.events if e.assignee and e.assignee[0]}
        return teams, people
