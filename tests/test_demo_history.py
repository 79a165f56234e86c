"""The demo history played through the real lifecycle: sizes, variety, and an audit trail that replays."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from kb.audit import events_for, replay
from kb.db import Database
from kb.demo_history import DemoReport, play_demo_history, shift_records
from kb.demo_plan import arrival_profile, demo_now, plan_all
from kb.desk import DeskRules
from kb.importing import demo_ticket_files
from kb.lifecycle_defaults import WAITING_REASONS
from kb.ticket_changes import encode
from kb.ticket_files import read_ticket_file

RULES = DeskRules()


@pytest.fixture(scope="module")
def records() -> list[dict]:
    return [r for path in demo_ticket_files() for r in read_ticket_file(path)]


@pytest.fixture(scope="module")
def played(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Database, DemoReport]]:
    database = Database(tmp_path_factory.mktemp("demo") / "casewise.db")
    report = play_demo_history(database, RULES)
    yield database, report
    database.close()


def rows(database: Database, sql: str, params: list | None = None) -> list:
    return database.read(lambda db: [tuple(r) for r in db.execute(sql, params or [])])


def test_every_record_becomes_a_ticket_and_the_newest_stay_open(played, records) -> None:
    database, report = played
    assert report.played and report.tickets == len(records) == 389
    assert 25 <= report.open_tickets <= 40
    assert {"new", "triaged", "assigned", "in_progress", "waiting", "escalated", "reopened"} <= set(report.statuses)
    fresh = rows(database, "SELECT MIN(created_at) FROM tickets WHERE status IN ('new', 'triaged', 'assigned')")
    newest_done = rows(database, "SELECT MAX(created_at) FROM tickets WHERE status IN ('resolved', 'closed')")
    assert fresh[0][0] > newest_done[0][0]
    ages = rows(database, "SELECT julianday(MAX(created_at)) - julianday(MIN(created_at)) FROM tickets"
                          " WHERE status IN ('waiting', 'escalated', 'reopened')")
    assert ages[0][0] > 7  # older tickets still waiting or escalated, not only this week's


def test_every_delay_reason_and_every_kind_of_event_is_present(played) -> None:
    database, report = played
    assert set(report.waits) == set(WAITING_REASONS) and min(report.waits.values()) >= 5
    waiting_now = {r[0] for r in rows(database, "SELECT waiting_reason FROM tickets WHERE status = 'waiting'")}
    assert waiting_now == set(WAITING_REASONS)
    figures = report.figures
    assert figures["to_l2"] >= 50 and figures["to_rnd"] >= 3 and figures["reopens"] >= 10
    assert figures["response_breaches"] >= 10 and figures["resolution_breaches"] >= 30
    assert figures["sla_warnings"] >= 20 and figures["visits"] >= 25 and figures["surveys"] >= 250
    assert 0 < figures["followups_done"] < figures["followups"]
    assert rows(database, "SELECT COUNT(*) FROM tickets WHERE tier = 'RND' AND rnd_request IS NOT NULL")[0][0] >= 3
    assert rows(database, "SELECT COUNT(*) FROM visits WHERE signed_by IS NOT NULL")[0][0] == figures["visits"]
    assert rows(database, "SELECT COUNT(*) FROM audit_events WHERE action = 'sla_check'")[0][0] >= 50


def test_sla_compliance_is_mostly_met_with_some_breaches(played) -> None:
    outcomes = dict(rows(played[0], "SELECT resolution_sla, COUNT(*) FROM tickets WHERE status IN "
                                    "('resolved', 'closed') GROUP BY resolution_sla"))
    share = outcomes["met"] / (outcomes["met"] + outcomes["breached"])
    assert 0.6 <= share <= 0.9


def test_resolved_tickets_keep_the_records_text(played, records) -> None:
    stored = {(r[0], r[1]): r[2:] for r in rows(
        played[0], "SELECT title, description, resolution, root_cause, status FROM tickets")}
    for record in records:
        key = (record["title"], record["description"])
        resolution, root_cause, status = stored[key]
        if status in ("resolved", "closed"):
            assert (resolution, root_cause) == (record["resolution"], record.get("root_cause"))


def test_surveys_match_the_records_satisfaction(played, records) -> None:
    scores = dict(rows(played[0], "SELECT t.title || t.description, s.score FROM surveys s "
                                  "JOIN tickets t ON t.id = s.ticket_id"))
    expected = {r["title"] + r["description"]: r["satisfaction"] for r in records if r.get("satisfaction")}
    assert scores and all(expected[key] == score for key, score in scores.items())


def test_replaying_the_audit_trail_gives_the_rows(played) -> None:
    def check(db) -> int:
        checked = 0
        for row in db.execute("SELECT * FROM tickets WHERE id % 7 = 1").fetchall():
            row = dict(row)
            replayed = encode(replay(events_for(db, "ticket", row["id"])))
            assert {k: replayed.get(k) for k in row if k != "id"} == {k: v for k, v in row.items() if k != "id"}
            checked += 1
        return checked

    assert played[0].read(check) >= 50


def test_numbers_and_events_carry_historical_times(played) -> None:
    database = played[0]
    first = rows(database, "SELECT number, created_at FROM tickets ORDER BY created_at LIMIT 1")[0]
    assert first[0].startswith("CW-20260824-")
    events = rows(database, "SELECT MIN(at), MAX(at) FROM audit_events WHERE entity_type = 'ticket'")[0]
    assert events[0] >= "2026-08-24" and events[1] < "2026-11-21"
    assert rows(database, "SELECT COUNT(*) FROM outbox WHERE entity_type = 'ticket'")[0][0] >= 389


def test_an_existing_history_is_left_alone(played) -> None:
    database = played[0]
    before = rows(database, "SELECT COUNT(*) FROM audit_events")[0][0]
    again = play_demo_history(database, RULES)
    assert not again.played and "already holds tickets" in again.note
    assert rows(database, "SELECT COUNT(*) FROM audit_events")[0][0] == before


def test_plans_are_deterministic(records) -> None:
    from kb.demo_plan import Targets

    targets = Targets(response={"urgent": 60, "high": 60, "normal": 120, "low": 570},
                      resolution={"urgent": 120, "high": 180, "normal": 240, "low": 1140}, l1_team="l1-desk",
                      l2_team_of_product={"printer": "l2-printing", "network": "l2-network", "erp": "l2-erp",
                                          "mail": "l2-office", "desktop": "l2-office"},
                      l2_teams=frozenset({"l2-printing", "l2-network", "l2-erp", "l2-office"}))
    now = demo_now(records)
    first, second = plan_all(records, targets, RULES.calendar, now), plan_all(records, targets, RULES.calendar, now)
    assert [p.steps for p in first] == [p.steps for p in second]
    assert all(s.at < now for p in first for s in p.steps)
    assert all(a.at < b.at for p in first for a, b in zip(p.steps, p.steps[1:]))


def test_arrivals_are_realistic(records) -> None:
    profile = arrival_profile(records, RULES.calendar)
    assert profile["weeks"] >= 12
    assert profile["monday_vs_other_weekdays"] >= 1.3
    assert profile["inside_working_hours"] >= 0.8
    assert profile["by_hour"]["12"] < profile["by_hour"]["10"] / 2  # lunch
    assert profile["by_weekday"]["Sat"] + profile["by_weekday"]["Sun"] < profile["by_weekday"]["Fri"]


def test_shifting_keeps_weekdays_and_hours(records) -> None:
    until = datetime.fromisoformat("2027-03-10T12:00:00+08:00")
    shifted = shift_records(records, until)
    delta = datetime.fromisoformat(shifted[0]["created_at"]) - datetime.fromisoformat(records[0]["created_at"])
    assert delta.days % 7 == 0 and delta.seconds == 0
    assert until - timedelta(weeks=1) < demo_now(shifted) <= until
    assert shift_records(records, None) is records


def test_demo_data_is_unchanged_on_disk() -> None:
    lines = sum(1 for path in demo_ticket_files() for line in Path(path).read_text("utf-8").splitlines() if line)
    assert lines == 389
    assert json.loads(Path(demo_ticket_files()[0]).read_text("utf-8").splitlines()[0])["created_at"]
