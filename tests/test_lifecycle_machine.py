"""Property-based test of the ticket lifecycle: random sequences of actions by random roles.

Checks after every step: only moves in the transitions table succeed, refused ones write
nothing, replaying a ticket's events reproduces its row, and SLA due times agree with
the business calendar (pauses included).
"""

from __future__ import annotations

import json
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule

from kb.audit import events_for, replay
from kb.calendar import BusinessCalendar
from kb.clock import parse_iso
from kb.db import Database
from kb.desk import DeskRules
from kb.errors import CasewiseError, Conflict
from kb.intake import register_ticket
from kb.lifecycle import TransitionRequest, transition
from kb.lifecycle_defaults import DEFAULT_TRANSITIONS, PAUSING_WAITING_REASONS, STATES, WAITING_REASONS
from kb.sla import policy_for
from kb.sla_watch import check_sla
from kb.teams import load_desk
from kb.ticket_changes import encode
from kb.visibility import Viewer

CALENDAR = BusinessCalendar(holidays=frozenset({datetime(2026, 12, 25).date()}))
RULES = DeskRules(calendar=CALENDAR, reopen_window_days=3)
ROLES = ("requester", "agent", "senior_agent", "rnd", "manager", "kb_author")
ALLOWED = {(t["from_status"], t["to_status"]): set(t["roles"].split(",")) for t in DEFAULT_TRANSITIONS}
DESK = {
    "teams": [{"name": "l1", "label": "L1", "tier": "L1", "escalates_to": None},
              {"name": "l2", "label": "L2", "tier": "L2", "escalates_to": "rnd"},
              {"name": "rnd", "label": "R&D", "tier": "RND", "escalates_to": None}],
    "members": [{"username": "a1", "display_name": "A1", "team": "l1", "products": [], "categories": []},
                {"username": "b1", "display_name": "B1", "team": "l2", "products": [], "categories": []}],
    "rules": [{"team": "l1", "product": None, "category": None}, {"team": "l2", "product": None, "category": None},
              {"team": "rnd", "product": None, "category": None}],
}
EXAMPLES = 150
STEPS = 80


class TicketLifecycle(RuleBasedStateMachine):
    """Random registrations, moves, SLA checks and clock jumps against a real database file."""

    tickets = Bundle("tickets")

    def __init__(self) -> None:
        super().__init__()
        self.folder = tempfile.TemporaryDirectory()
        self.database = Database(Path(self.folder.name) / "casewise.db")
        self.database.write(lambda db: load_desk(db, DESK))
        self.now = datetime(2026, 11, 20, 8, 30, tzinfo=UTC)  # a Friday, 16:30 in Shanghai
        self.refused = self.succeeded = 0
        self.ids: list[int] = []

    def teardown(self) -> None:
        self.database.close()
        self.folder.cleanup()

    @rule(target=tickets, impact=st.sampled_from(["high", "medium", "low"]),
          urgency=st.sampled_from(["high", "medium", "low"]), by=st.sampled_from(["requester", "agent"]))
    def register(self, impact: str, urgency: str, by: str) -> int:
        actor = Viewer("cust" if by == "requester" else "agent1", by)
        fields = {"title": "打印机脱机 printer offline", "impact": impact, "urgency": urgency}
        ticket = self.database.write(lambda db: register_ticket(db, fields, actor, RULES, self.now))
        self.ids.append(ticket["id"])
        return ticket["id"]

    @rule(ticket=tickets, to=st.sampled_from(STATES), role=st.sampled_from(ROLES), details=st.booleans(),
          waiting=st.sampled_from(sorted(WAITING_REASONS)), other=tickets)
    def move(self, ticket: int, to: str, role: str, details: bool, waiting: str, other: int) -> None:
        self._attempt(ticket, to, role, details, waiting, other)

    def _attempt(self, ticket: int, to: str, role: str, details: bool, waiting: str, other: int) -> None:
        actor = Viewer("cust", role) if role == "requester" else Viewer(f"{role}1", role, teams=("l1", "l2", "rnd"))
        request = TransitionRequest(
            to=to, reason="因为 because" if details else None, waiting_reason=waiting if details else None,
            solution="重装驱动 reinstall the driver" if details else None, merge_into=other if details else None,
            rnd_request="请研发分析日志" if details else None)
        before = self._snapshot(ticket)
        try:
            after = self.database.write(lambda db: transition(db, ticket, request, actor, RULES, self.now))
        except CasewiseError as error:
            self.refused += 1
            assert self._snapshot(ticket) == before, "a refused move wrote something"
            if (before[0]["status"], to) not in ALLOWED or role not in ALLOWED[(before[0]["status"], to)]:
                assert isinstance(error, Conflict) or "does not exist" in str(error)
            return
        self.succeeded += 1
        assert role in ALLOWED[(before[0]["status"], to)], f"{role} moved {before[0]['status']} -> {to}"
        assert after["status"] == to

    @rule(ticket=tickets, data=st.data())
    def legal_move(self, ticket: int, data: st.DataObject) -> None:
        """A move the table allows, by a role allowed to make it, with its details (so walks go deep)."""
        status = self._snapshot(ticket)[0]["status"]
        moves = sorted((to, sorted(roles)) for (source, to), roles in ALLOWED.items() if source == status)
        forward = [m for m in moves if m[0] not in ("cancelled", "merged")]
        if forward and data.draw(st.integers(0, 9)) < 9:
            moves = forward
        if not moves:
            return
        to, roles = data.draw(st.sampled_from(moves))
        other = data.draw(st.sampled_from(self.ids))
        self._attempt(ticket, to, data.draw(st.sampled_from(roles)), True,
                  data.draw(st.sampled_from(sorted(WAITING_REASONS))), other)

    @rule(minutes=st.integers(min_value=1, max_value=3 * 24 * 60))
    def advance_clock(self, minutes: int) -> None:
        self.now += timedelta(minutes=minutes)

    @rule()
    def sla_check(self) -> None:
        self.database.write(lambda db: check_sla(db, RULES, self.now))

    def _snapshot(self, ticket_id: int) -> tuple[dict, int]:
        def read(db):
            row = dict(db.execute("SELECT * FROM tickets WHERE id = ?", [ticket_id]).fetchone())
            count = db.execute("SELECT COUNT(*) FROM audit_events").fetchone()[0]
            return row, count
        return self.database.read(read)

    @invariant()
    def replay_equals_row_and_due_times_follow_the_calendar(self) -> None:
        def check(db) -> None:
            for row in db.execute("SELECT * FROM tickets").fetchall():
                row = dict(row)
                replayed = encode(replay(events_for(db, "ticket", row["id"])))
                assert {k: replayed.get(k) for k in row if k != "id"} == {k: v for k, v in row.items() if k != "id"}
                _check_due_times(db, row)
        self.database.read(check)


def _check_due_times(db, row: dict) -> None:
    policy = policy_for(db, row["priority"])
    created = parse_iso(row["created_at"])
    assert parse_iso(row["response_due_at"]) == CALENDAR.add_business_minutes(created, policy.response_minutes)
    expected = CALENDAR.add_business_minutes(created, policy.resolution_minutes + row["sla_paused_minutes"])
    assert parse_iso(row["resolution_due_at"]) == expected
    paused = row["status"] == "waiting" and row["waiting_reason"] in PAUSING_WAITING_REASONS
    assert (row["sla_paused_since"] is not None) == paused


TicketLifecycle.TestCase.settings = settings(
    max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
test_ticket_lifecycle = TicketLifecycle.TestCase


def test_state_machine_reaches_every_state() -> None:
    """The default table lets every state be reached (so the random walk explores them all)."""
    targets = {to for _, to in ALLOWED}
    assert targets == set(STATES) - {"new"}
    assert json.dumps(sorted(targets))
