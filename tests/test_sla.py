"""SLA due times, pauses, warnings, breaches and escalation with a frozen clock (Asia/Shanghai desk)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from kb.calendar import BusinessCalendar
from kb.db import Database
from kb.desk import DeskRules
from kb.intake import register_ticket
from kb.lifecycle import TransitionRequest, transition
from kb.sla_watch import check_sla
from kb.teams import load_desk
from kb.ticket_changes import load_ticket
from kb.visibility import Viewer

SH = ZoneInfo("Asia/Shanghai")
# National Day 2026: Oct 1–7 off, Saturday Oct 10 worked in lieu.
CALENDAR = BusinessCalendar(holidays=frozenset(date(2026, 10, d) for d in range(1, 8)),
                            extra_workdays=frozenset({date(2026, 10, 10)}))
RULES = DeskRules(calendar=CALENDAR)
AGENT = Viewer("li.wei", "agent")
DESK = {
    "teams": [{"name": "l1", "label": "L1", "tier": "L1", "escalates_to": None},
              {"name": "l2", "label": "L2", "tier": "L2", "escalates_to": None}],
    "members": [{"username": "li.wei", "display_name": "李伟", "team": "l1", "products": [], "categories": []}],
    "rules": [{"team": "l1", "product": None, "category": None}, {"team": "l2", "product": None, "category": None}],
}


def at(text: str) -> datetime:
    """A Shanghai wall-clock time."""
    return datetime.fromisoformat(text).replace(tzinfo=SH)


def local(value: str) -> str:
    return datetime.fromisoformat(value).astimezone(SH).strftime("%a %Y-%m-%d %H:%M")


@pytest.fixture
def desk(database: Database) -> Database:
    database.write(lambda db: load_desk(db, DESK))
    return database


def register(database: Database, when: datetime, impact: str = "high", urgency: str = "high") -> dict:
    fields = {"title": "ERP 无法登录", "impact": impact, "urgency": urgency}
    return database.write(lambda db: register_ticket(db, fields, AGENT, RULES, when))


def move(database: Database, ticket: dict, when: datetime, **request) -> dict:
    return database.write(lambda db: transition(db, ticket["id"], TransitionRequest(**request), AGENT, RULES, when))


def test_urgent_ticket_in_working_hours(desk: Database) -> None:
    ticket = register(desk, at("2026-11-24 10:00"))  # Tuesday
    assert local(ticket["response_due_at"]) == "Tue 2026-11-24 11:00"
    assert local(ticket["resolution_due_at"]) == "Tue 2026-11-24 12:00"


def test_ticket_late_on_friday_is_due_on_monday(desk: Database) -> None:
    ticket = register(desk, at("2026-11-27 18:00"))  # Friday, 30 min before closing
    assert local(ticket["response_due_at"]) == "Mon 2026-11-30 09:30"
    assert local(ticket["resolution_due_at"]) == "Mon 2026-11-30 10:30"


def test_ticket_at_night_starts_counting_next_morning(desk: Database) -> None:
    ticket = register(desk, at("2026-11-24 23:10"), impact="medium", urgency="medium")  # normal: 120 / 240
    assert local(ticket["response_due_at"]) == "Wed 2026-11-25 11:00"
    assert local(ticket["resolution_due_at"]) == "Wed 2026-11-25 13:00"


def test_holidays_are_skipped_and_make_up_saturday_counts(desk: Database) -> None:
    before = register(desk, at("2026-09-30 18:00"), impact="low", urgency="low")  # low: 570 / 1140
    assert local(before["response_due_at"]) == "Thu 2026-10-08 18:00"  # 30 min + 540 after the holidays
    assert local(before["resolution_due_at"]) == "Fri 2026-10-09 18:00"
    friday = register(desk, at("2026-10-09 17:30"), impact="low", urgency="low")
    assert local(friday["response_due_at"]) == "Sat 2026-10-10 17:30"  # 60 min + 510 on the make-up Saturday
    assert local(friday["resolution_due_at"]) == "Mon 2026-10-12 17:30"  # Sunday is off


def test_waiting_on_customer_pauses_the_resolution_clock(desk: Database) -> None:
    ticket = register(desk, at("2026-11-24 10:00"))  # resolution due 12:00
    move(desk, ticket, at("2026-11-24 10:05"), to="assigned")
    move(desk, ticket, at("2026-11-24 10:30"), to="waiting", waiting_reason="customer")
    # waits over the night: 10:30–18:30 (480 min) + 09:00–09:45 (45 min) = 525 business minutes
    resumed = move(desk, ticket, at("2026-11-25 09:45"), to="in_progress")
    assert resumed["sla_paused_minutes"] == 525
    assert local(resumed["resolution_due_at"]) == "Wed 2026-11-25 11:15"


def test_waiting_for_other_reasons_does_not_pause(desk: Database) -> None:
    ticket = register(desk, at("2026-11-24 10:00"))
    move(desk, ticket, at("2026-11-24 10:05"), to="assigned")
    move(desk, ticket, at("2026-11-24 10:30"), to="waiting", waiting_reason="no_resources")
    resumed = move(desk, ticket, at("2026-11-25 09:45"), to="in_progress")
    assert resumed["sla_paused_minutes"] == 0
    assert local(resumed["resolution_due_at"]) == "Tue 2026-11-24 12:00"


def test_paused_ticket_is_not_breached_while_paused(desk: Database) -> None:
    ticket = register(desk, at("2026-11-24 10:00"))
    move(desk, ticket, at("2026-11-24 10:05"), to="assigned")
    move(desk, ticket, at("2026-11-24 10:30"), to="waiting", waiting_reason="customer")
    report = desk.write(lambda db: check_sla(db, RULES, at("2026-11-26 15:00")))
    assert report.breaches == []
    assert load_ticket_row(desk, ticket)["resolution_sla"] is None


def test_warning_then_breach_then_escalation(desk: Database) -> None:
    ticket = register(desk, at("2026-11-24 10:00"))  # response due 11:00, resolution 12:00
    desk.write(lambda db: move_in(db, ticket, at("2026-11-24 10:05")))
    early = desk.write(lambda db: check_sla(db, RULES, at("2026-11-24 10:30")))
    assert early.warnings == [] and early.breaches == []
    warned = desk.write(lambda db: check_sla(db, RULES, at("2026-11-24 11:35")))  # 95/120 = 79 %
    assert warned.warnings == [ticket["number"]]
    breached = desk.write(lambda db: check_sla(db, RULES, at("2026-11-24 12:01")))
    assert breached.breaches == [ticket["number"]] and breached.escalated == [ticket["number"]]
    row = load_ticket_row(desk, ticket)
    assert row["resolution_sla"] == "breached" and row["status"] == "escalated" and row["tier"] == "L2"
    again = desk.write(lambda db: check_sla(db, RULES, at("2026-11-24 14:00")))
    assert again.breaches == [] and again.escalated == []


def test_first_response_met_or_breached(desk: Database) -> None:
    quick = register(desk, at("2026-11-24 10:00"))
    move(desk, quick, at("2026-11-24 10:05"), to="assigned")
    assert move(desk, quick, at("2026-11-24 10:50"), to="in_progress")["response_sla"] == "met"
    slow = register(desk, at("2026-11-24 10:00"))
    move(desk, slow, at("2026-11-24 10:05"), to="assigned")
    assert move(desk, slow, at("2026-11-24 11:10"), to="in_progress")["response_sla"] == "breached"


def test_reopen_window(desk: Database) -> None:
    ticket = register(desk, at("2026-11-24 10:00"))
    move(desk, ticket, at("2026-11-24 10:05"), to="assigned")
    move(desk, ticket, at("2026-11-24 10:20"), to="resolved", solution="清除浏览器缓存")
    closed = move(desk, ticket, at("2026-11-24 11:00"), to="closed")
    late = at("2026-11-24 11:00") + timedelta(days=RULES.reopen_window_days, minutes=1)
    with pytest.raises(Exception, match="closed more than 14 days ago"):
        move(desk, closed, late, to="reopened", reason="又坏了")
    assert move(desk, closed, at("2026-12-01 09:00"), to="reopened", reason="又坏了")["reopen_count"] == 1


def move_in(db, ticket: dict, when: datetime) -> None:
    transition(db, ticket["id"], TransitionRequest(to="assigned"), AGENT, RULES, when)


def load_ticket_row(database: Database, ticket: dict) -> dict:
    return database.read(lambda db: load_ticket(db, ticket["id"]))
