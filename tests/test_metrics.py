"""Support metrics against hand-computed values on a small history played through the real lifecycle.

The week measured is Mon 2026-11-16 .. Sun 2026-11-22 (Asia/Shanghai, 9:00–18:30 Mon–Fri),
range [Mon 00:00, next Mon 00:00). Default SLA targets (business minutes, response/resolution):
urgent 60/120, high 60/180, normal 120/240, low 570/1140. The SLA watch runs at Mon 18:20,
Tue 10:50 and Wed 18:20 (no automatic escalation).

Tickets (all times local; "biz" = business minutes, "wall" = clock minutes):
  T1 normal web printer/hardware: Mon 10:00 new; a.li in_progress 10:30 (response 30 biz/30 wall);
     resolved 12:00 with article A (120/120, met); closed Tue 10:00; survey 5 Tue 11:00.
  T2 high phone network/connectivity E1: Mon 17:30; assigned a.li 17:40; watch Mon 18:20 → response
     warning; in_progress Tue 9:30 (90 biz / 960 wall, response breached); escalated to L2 Tue 10:00;
     c.xu assigned 10:10, in_progress 10:20; watch Tue 10:50 → resolution warning (170/180);
     resolved Tue 11:00 (180 biz / 1050 wall, met); closed (timed out) Wed 9:00; no survey.
  T3 normal email printer/hardware E2: Tue 9:00; b.wu in_progress 9:20 (20/20); waiting C (customer,
     pauses the clock: 570 biz) 10:00 → Wed 10:00; resolved Wed 11:00; reopened Wed 14:00; in_progress
     14:30; resolved Wed 16:00 (990 biz / 1860 wall; due Wed 13:00 → breached); closed Thu 10:00;
     survey 2 Thu 11:00; follow-up scheduled Thu 11:30 due Thu 17:00, never made.
  T4 urgent chat erp/software: Wed 9:00; a.li in_progress 9:20 (20/20); waiting B (no resources)
     9:30–10:30; escalated to L2 (c.xu) 11:00, in_progress 11:10; escalated to R&D (d.rd) 11:30,
     in_progress 11:40; watch Wed 18:20 → resolution breached; resolved Thu 10:00 (630/1500);
     closed Thu 15:00; survey 3 Thu 16:00.
  T5 low web mail/account: Sat 10:00, left new (one suggestion shown).
  T6 normal web printer/hardware: Fri 11-13 15:00 (before the range); a.li in_progress 15:30;
     waiting A (engineer not served) from Mon 9:00, still waiting; watch Mon 18:20 → resolution breached.
  T7 high phone network/connectivity E1: Thu 14:00; b.wu in_progress 14:10 (10/10); waiting D (other)
     14:30–15:30; resolved 16:00 with article A (120/120, met); closed Fri 10:00; survey 4 Fri 11:00;
     follow-up scheduled Fri 11:30 due 16:00, made Fri 15:00.
  T8 normal email erp/software: Fri 9:00; a.li in_progress 9:15 (15/15); still in progress.
  T9 normal web printer/how-to: Fri 10:00; cancelled 10:30.
T1 showed 2 suggestions, T5 one. One "solved it without a ticket" in the range, one before (when the
`deflections` table exists).

Hand-computed figures for the week:
  volume: created 8 (Mon 2, Tue 1, Wed 1, Thu 1, Fri 2, Sat 1), resolved 5, closed 5;
          channels web 3, phone 2, email 2, chat 1.
  first response (T1 T2 T3 T4 T7 T8): biz [30 90 20 20 10 15] → avg 30.83, median 20, p90 90;
          wall [30 960 20 20 10 15] → avg 175.83, median 20, p90 960.
  resolution (T1 T2 T3 T4 T7): biz [120 180 990 630 120] → avg 408, median 180, p90 990;
          wall [120 1050 1860 1500 120] → avg 930, median 1050, p90 1860.
  SLA compliance: response 5 met / 1 breached = 0.8333; resolution 3 met / 2 breached = 0.6.
  SLA events: response 1 breach (T2), 1 warning (T2), 0 near-breaches;
          resolution 3 breaches (T3 T4 T6), 1 warning (T2), 1 near-breach (T2).
  FCR: T1 and T7 of 5 resolved = 0.4.  Resolution rate: 5 of 7 (T9 cancelled left out) = 0.7143.
  Reopen rate: 1 (T3) of 5 = 0.2.  Escalation: 2 of 8 = 0.25; to L2 2 (0.25), to R&D 1 (0.125).
  Satisfaction: 4 surveys [5 2 3 4] avg 3.5; closed 5, answered 4 → 0.8.
  Follow-ups: scheduled 2, done 1, overdue at the end 1.
  Backlog at the end: 3 open: T5 new 1-3d (38 h), T8 in_progress 1-3d (63 h), T6 waiting 7-14d; oldest 9.38 days.
  Waiting: A 1 wait 9540 wall / 2850 biz; B 60/60; C 1440 wall / 570 biz; D 60/60.
  Deflection: 2 tickets with 3 suggestions; 2 tickets solved by article A (2 links).
  Engineers: a.li handled 1, worked 715 biz (T1 90, T2 30, T4 40, T8 555), FCR 1.0, SLA 1.0, CSAT 5;
          b.wu handled 2, worked 240 (T3 190, T7 50), FCR 0.5, SLA 0.5, CSAT 3.0 (2 surveys);
          c.xu handled 1, worked 60, FCR 0.0, SLA 1.0, no survey; d.rd handled 1, worked 470,
          FCR 0.0, SLA 0.0, CSAT 3.
  Faults: categories connectivity 2, hardware 2, software 2, account 1, how-to 1; products printer 3,
          erp 2, network 2, mail 1; error codes E1 2, E2 1 — all in 2026-W47.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kb.activity import complete_followup, record_survey, schedule_followup
from kb.articles import ArticleDraft, save_article
from kb.calendar import BusinessCalendar
from kb.db import Database
from kb.desk import DeskRules
from kb.errors import InvalidInput
from kb.intake import register_ticket
from kb.lifecycle import TransitionRequest, transition
from kb.metrics import METRICS, compute_all, metric_rows
from kb.metrics_data import MetricFilter, MetricSource
from kb.metrics_time import BusinessClock, nearest_rank, summary
from kb.sla_watch import check_sla
from kb.teams import load_desk
from kb.visibility import Viewer

SH = ZoneInfo("Asia/Shanghai")
CALENDAR = BusinessCalendar()
RULES = DeskRules(calendar=CALENDAR, escalate_on_breach=False)
DESK = {
    "teams": [{"name": "l1", "label": "L1", "tier": "L1", "escalates_to": "l2"},
              {"name": "l2", "label": "L2", "tier": "L2", "escalates_to": "rnd"},
              {"name": "rnd", "label": "R&D", "tier": "RND", "escalates_to": None}],
    "members": [{"username": "a.li", "display_name": "A", "team": "l1", "products": [], "categories": []},
                {"username": "b.wu", "display_name": "B", "team": "l1", "products": [], "categories": []},
                {"username": "c.xu", "display_name": "C", "team": "l2", "products": [], "categories": []},
                {"username": "d.rd", "display_name": "D", "team": "rnd", "products": [], "categories": []}],
    "rules": [{"team": "l1", "product": None, "category": None}],
}
TEAM_OF = {"a.li": "l1", "b.wu": "l1", "c.xu": "l2", "d.rd": "rnd"}
ROLE_OF = {"l1": "agent", "l2": "senior_agent", "rnd": "rnd"}
BOSS = Viewer("boss", "manager")
WEEK = MetricFilter(start=datetime(2026, 11, 16, tzinfo=SH), end=datetime(2026, 11, 23, tzinfo=SH))
LEVELS = {"urgent": ("high", "high"), "high": ("high", "medium"), "normal": ("medium", "medium"),
          "low": ("medium", "low")}


def at(text: str) -> datetime:
    """'Mon 10:00' in the measured week (or 'PrevFri 15:00') as a Shanghai time."""
    day, clock = text.split()
    offset = {"PrevFri": -3, "Mon": 0, "Tue": 1, "Wed": 2, "Thu": 3, "Fri": 4, "Sat": 5}[day]
    hour, minute = map(int, clock.split(":"))
    return datetime(2026, 11, 16, hour, minute, tzinfo=SH) + timedelta(days=offset)


def engineer(name: str) -> Viewer:
    return Viewer(name, ROLE_OF[TEAM_OF[name]], teams=(TEAM_OF[name],))


class Desk:
    """Drives tickets through the real domain functions, one write each, with explicit times."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def new(self, when: str, priority: str, channel: str, product: str, category: str, requester: str,
            codes: tuple[str, ...] = (), shown: int = 0) -> int:
        impact, urgency = LEVELS[priority]
        fields = {"title": f"{product} {category} {requester}", "description": "问题描述", "product": product,
                  "category": category, "channel": channel, "requester": requester, "impact": impact,
                  "urgency": urgency, "error_codes": list(codes),
                  "shown_suggestions": [{"kind": "article", "id": 1}] * shown or None}
        ticket = self.database.write(lambda db: register_ticket(db, fields, BOSS, RULES, at(when)))
        return ticket["id"]

    def move(self, ticket_id: int, when: str, actor: Viewer, **request) -> None:
        self.database.write(lambda db: transition(db, ticket_id, TransitionRequest(**request), actor, RULES,
                                                  at(when)))

    def take(self, ticket_id: int, name: str, assigned: str, started: str) -> None:
        self.move(ticket_id, assigned, BOSS, to="assigned", assignee=name)
        self.move(ticket_id, started, engineer(name), to="in_progress")

    def resolve(self, ticket_id: int, when: str, name: str, articles: tuple[int, ...] = ()) -> None:
        self.move(ticket_id, when, engineer(name), to="resolved", solution="重装驱动", article_ids=articles)

    def close(self, ticket_id: int, when: str, requester: str, score: int | None = None,
              survey_at: str | None = None) -> None:
        self.move(ticket_id, when, Viewer(requester, "requester"), to="closed", close_reason="confirmed")
        if score is not None:
            self.database.write(lambda db: record_survey(db, ticket_id, score, None, Viewer(requester, "requester"),
                                                         at(survey_at or when)))

    def watch(self, when: str) -> None:
        self.database.write(lambda db: check_sla(db, RULES, at(when)))


def play_week(database: Database) -> dict[str, int]:
    """The history in the module docstring; returns ticket ids by name."""
    database.write(lambda db: load_desk(db, DESK))
    database.write(lambda db: save_article(db, ArticleDraft(slug="printer-fix", title="打印机修复",
                                                            body="# 修复\n步骤", product="printer"), "test"))
    desk, ids = Desk(database), {}
    ids["T6"] = desk.new("PrevFri 15:00", "normal", "web", "printer", "hardware", "cust6")
    desk.take(ids["T6"], "a.li", "PrevFri 15:10", "PrevFri 15:30")
    ids["T1"] = desk.new("Mon 10:00", "normal", "web", "printer", "hardware", "cust1", shown=2)
    desk.take(ids["T1"], "a.li", "Mon 10:05", "Mon 10:30")
    desk.move(ids["T6"], "Mon 09:00", engineer("a.li"), to="waiting", waiting_reason="engineer_not_served")
    desk.resolve(ids["T1"], "Mon 12:00", "a.li", articles=(1,))
    ids["T2"] = desk.new("Mon 17:30", "high", "phone", "network", "connectivity", "cust2", codes=("E1",))
    desk.move(ids["T2"], "Mon 17:40", BOSS, to="assigned", assignee="a.li")
    desk.watch("Mon 18:20")
    ids["T3"] = desk.new("Tue 09:00", "normal", "email", "printer", "hardware", "cust3", codes=("E2",))
    desk.take(ids["T3"], "b.wu", "Tue 09:10", "Tue 09:20")
    desk.move(ids["T2"], "Tue 09:30", engineer("a.li"), to="in_progress")
    desk.move(ids["T2"], "Tue 10:00", engineer("a.li"), to="escalated", reason="需要二线")
    desk.move(ids["T3"], "Tue 10:00", engineer("b.wu"), to="waiting", waiting_reason="customer")
    desk.close(ids["T1"], "Tue 10:00", "cust1", 5, "Tue 11:00")
    desk.take(ids["T2"], "c.xu", "Tue 10:10", "Tue 10:20")
    desk.watch("Tue 10:50")
    desk.resolve(ids["T2"], "Tue 11:00", "c.xu")
    desk.move(ids["T2"], "Wed 09:00", BOSS, to="closed", close_reason="timed_out")
    ids["T4"] = desk.new("Wed 09:00", "urgent", "chat", "erp", "software", "cust4")
    desk.take(ids["T4"], "a.li", "Wed 09:10", "Wed 09:20")
    desk.move(ids["T4"], "Wed 09:30", engineer("a.li"), to="waiting", waiting_reason="no_resources")
    desk.move(ids["T3"], "Wed 10:00", engineer("b.wu"), to="in_progress")
    desk.move(ids["T4"], "Wed 10:30", engineer("a.li"), to="in_progress")
    desk.resolve(ids["T3"], "Wed 11:00", "b.wu")
    desk.move(ids["T4"], "Wed 11:00", engineer("a.li"), to="escalated", reason="需要二线", assignee="c.xu")
    desk.move(ids["T4"], "Wed 11:10", engineer("c.xu"), to="in_progress")
    desk.move(ids["T4"], "Wed 11:30", engineer("c.xu"), to="escalated", reason="产品缺陷",
              rnd_request="请修复导入", assignee="d.rd")
    desk.move(ids["T4"], "Wed 11:40", engineer("d.rd"), to="in_progress")
    desk.move(ids["T3"], "Wed 14:00", Viewer("cust3", "requester"), to="reopened", reason="还是不行")
    desk.move(ids["T3"], "Wed 14:30", engineer("b.wu"), to="in_progress")
    desk.resolve(ids["T3"], "Wed 16:00", "b.wu")
    desk.watch("Wed 18:20")
    desk.resolve(ids["T4"], "Thu 10:00", "d.rd")
    desk.close(ids["T3"], "Thu 10:00", "cust3", 2, "Thu 11:00")
    database.write(lambda db: schedule_followup(db, ids["T3"], at("Thu 17:00").isoformat(), "b.wu", BOSS,
                                                at("Thu 11:30")))
    ids["T7"] = desk.new("Thu 14:00", "high", "phone", "network", "connectivity", "cust7", codes=("E1",))
    desk.take(ids["T7"], "b.wu", "Thu 14:05", "Thu 14:10")
    desk.move(ids["T7"], "Thu 14:30", engineer("b.wu"), to="waiting", waiting_reason="other", reason="等待厂商")
    desk.close(ids["T4"], "Thu 15:00", "cust4", 3, "Thu 16:00")
    desk.move(ids["T7"], "Thu 15:30", engineer("b.wu"), to="in_progress")
    desk.resolve(ids["T7"], "Thu 16:00", "b.wu", articles=(1,))
    ids["T8"] = desk.new("Fri 09:00", "normal", "email", "erp", "software", "cust8")
    desk.take(ids["T8"], "a.li", "Fri 09:05", "Fri 09:15")
    desk.close(ids["T7"], "Fri 10:00", "cust7", 4, "Fri 11:00")
    followup = database.write(lambda db: schedule_followup(db, ids["T7"], at("Fri 16:00").isoformat(), "b.wu",
                                                           BOSS, at("Fri 11:30")))
    database.write(lambda db: complete_followup(db, ids["T7"], followup["id"], "客户满意", BOSS, at("Fri 15:00")))
    ids["T9"] = desk.new("Fri 10:00", "normal", "web", "printer", "how-to", "cust9")
    desk.move(ids["T9"], "Fri 10:30", Viewer("cust9", "requester"), to="cancelled", reason="自己解决了")
    ids["T5"] = desk.new("Sat 10:00", "low", "web", "mail", "account", "cust5", shown=1)
    _add_deflections(database)
    return ids


def _add_deflections(database: Database) -> None:
    def write(db) -> None:
        if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'deflections'").fetchone():
            for when in ("Tue 12:00", "PrevFri 12:00"):
                db.table("deflections").insert({"created_at": at(when).isoformat(), "viewer": "cust",
                                                "query": "打印机", "article_id": 1})
    database.write(write)


@pytest.fixture(scope="module")
def week(tmp_path_factory: pytest.TempPathFactory):
    database = Database(tmp_path_factory.mktemp("metrics") / "casewise.db")
    ids = play_week(database)
    yield database, ids
    database.close()


def figures(database: Database, flt: MetricFilter = WEEK) -> dict:
    return database.read(lambda db: compute_all(db, flt, CALENDAR))


def test_volume_and_arrivals(week) -> None:
    volume = figures(week[0])["volume"]
    assert (volume["created"], volume["resolved"], volume["closed"]) == (8, 5, 5)
    assert volume["by_weekday"] == {"Mon": 2, "Tue": 1, "Wed": 1, "Thu": 1, "Fri": 2, "Sat": 1, "Sun": 0}
    assert volume["by_channel"] == {"chat": 1, "email": 2, "phone": 2, "web": 3}
    assert volume["by_hour"]["09"] == 3 and volume["by_hour"]["10"] == 3


def test_first_response_and_resolution_times(week) -> None:
    result = figures(week[0])
    response, resolution = result["first_response_time"], result["resolution_time"]
    assert response["count"] == 6
    assert response["business_minutes"] == {"average": 30.83, "median": 20.0, "p90": 90.0}
    assert response["wall_minutes"] == {"average": 175.83, "median": 20.0, "p90": 960.0}
    assert resolution["count"] == 5
    assert resolution["business_minutes"] == {"average": 408.0, "median": 180.0, "p90": 990.0}
    assert resolution["wall_minutes"] == {"average": 930.0, "median": 1050.0, "p90": 1860.0}


def test_sla_compliance_breaches_and_near_breaches(week) -> None:
    result = figures(week[0])
    assert result["sla_compliance"] == {"response": {"met": 5, "breached": 1, "rate": 0.8333},
                                        "resolution": {"met": 3, "breached": 2, "rate": 0.6}}
    assert result["sla_breaches"] == {"response": {"breaches": 1, "warnings": 1, "near_breaches": 0},
                                      "resolution": {"breaches": 3, "warnings": 1, "near_breaches": 1}}


def test_rates(week) -> None:
    result = figures(week[0])
    assert result["first_contact_resolution"] == {"resolved": 5, "first_contact": 2, "rate": 0.4}
    assert result["resolution_rate"] == {"created": 7, "resolved": 5, "rate": 0.7143}
    assert result["reopen_rate"] == {"resolved": 5, "reopened": 1, "rate": 0.2}
    assert result["escalation_rate"] == {"created": 8, "escalated": 2, "to_l2": 2, "to_rnd": 1, "rate": 0.25,
                                         "rate_to_l2": 0.25, "rate_to_rnd": 0.125}


def test_satisfaction_and_followups(week) -> None:
    result = figures(week[0])
    assert result["satisfaction"] == {"surveys": 4, "average": 3.5,
                                      "distribution": {"1": 0, "2": 1, "3": 1, "4": 1, "5": 1},
                                      "closed": 5, "answered": 4, "response_rate": 0.8}
    assert result["followups"] == {"scheduled": 2, "done": 1, "overdue_at_end": 1}


def test_backlog_by_state_and_age(week) -> None:
    backlog = figures(week[0])["backlog"]
    assert backlog["open"] == 3 and backlog["oldest_days"] == 9.38
    assert {s: n for s, n in backlog["by_state"].items() if n} == {"new": 1, "in_progress": 1, "waiting": 1}
    assert backlog["by_age"] == {"<1d": 0, "1-3d": 2, "3-7d": 0, "7-14d": 1, ">14d": 0}
    assert backlog["by_state_and_age"]["waiting"]["7-14d"] == 1


def test_waiting_time_by_delay_reason(week) -> None:
    waiting = figures(week[0])["waiting_time"]
    assert waiting == {
        "engineer_not_served": {"waits": 1, "started": 1, "wall_minutes": 9540.0, "business_minutes": 2850.0},
        "no_resources": {"waits": 1, "started": 1, "wall_minutes": 60.0, "business_minutes": 60.0},
        "customer": {"waits": 1, "started": 1, "wall_minutes": 1440.0, "business_minutes": 570.0},
        "other": {"waits": 1, "started": 1, "wall_minutes": 60.0, "business_minutes": 60.0},
    }


def test_deflection(week) -> None:
    database = week[0]
    deflection = figures(database)["deflection"]
    has_table = database.read(lambda db: MetricSource(db, WEEK, CALENDAR).has_table("deflections"))
    assert deflection["solved_without_ticket"] == (1 if has_table else None)
    assert (deflection["tickets_with_suggestions"], deflection["suggestions_shown"]) == (2, 3)
    assert (deflection["tickets_solved_by_articles"], deflection["article_links"]) == (2, 2)
    assert [(a["slug"], a["tickets"]) for a in deflection["top_articles"]] == [("printer-fix", 2)]


def test_per_engineer(week) -> None:
    rows = {r["engineer"]: r for r in figures(week[0])["engineers"]}
    assert set(rows) == {"a.li", "b.wu", "c.xu", "d.rd"}
    picked = {name: (r["handled"], r["time_worked_business_minutes"], r["fcr_rate"], r["sla_rate"],
                     r["csat_average"], r["csat_surveys"]) for name, r in rows.items()}
    assert picked == {"a.li": (1, 715.0, 1.0, 1.0, 5.0, 1), "b.wu": (2, 240.0, 0.5, 0.5, 3.0, 2),
                      "c.xu": (1, 60.0, 0.0, 1.0, None, 0), "d.rd": (1, 470.0, 0.0, 0.0, 3.0, 1)}


def test_fault_statistics(week) -> None:
    faults = figures(week[0])["faults"]
    assert faults["weeks"] == ["2026-W47"]
    assert [(f["value"], f["count"]) for f in faults["categories"]] == [
        ("connectivity", 2), ("hardware", 2), ("software", 2), ("account", 1), ("how-to", 1)]
    assert [(f["value"], f["count"]) for f in faults["products"]] == [
        ("printer", 3), ("erp", 2), ("network", 2), ("mail", 1)]
    assert [(f["value"], f["count"], f["trend"]) for f in faults["error_codes"]] == [
        ("E1", 2, {"2026-W47": 2}), ("E2", 1, {"2026-W47": 1})]


def test_notable_tickets(week) -> None:
    database, ids = week
    notable = figures(database)["notable"]
    numbers = database.read(lambda db: {r[0]: name for name, tid in ids.items() for r in db.execute(
        "SELECT number FROM tickets WHERE id = ?", [tid])})
    assert sorted(numbers[b["number"]] for b in notable["breaches"]) == ["T2", "T3", "T4", "T6"]
    assert [numbers[r["number"]] for r in notable["reopens"]] == ["T3"]
    assert [numbers[r["number"]] for r in notable["lowest_satisfaction"]] == ["T3", "T4"]
    assert [numbers[r["number"]] for r in notable["oldest_open"]] == ["T6", "T8", "T5"]


def test_filters_select_tickets_held_or_matching(week) -> None:
    database = week[0]
    by_engineer = figures(database, MetricFilter(WEEK.start, WEEK.end, engineer="b.wu"))
    assert by_engineer["resolution_time"]["count"] == 2
    assert by_engineer["first_contact_resolution"] == {"resolved": 2, "first_contact": 1, "rate": 0.5}
    assert [r["engineer"] for r in by_engineer["engineers"]] == ["b.wu"]
    by_team = figures(database, MetricFilter(WEEK.start, WEEK.end, team="l2"))
    assert by_team["escalation_rate"]["created"] == 2 and by_team["escalation_rate"]["to_rnd"] == 1
    assert [r["engineer"] for r in by_team["engineers"]] == ["c.xu"]
    printers = figures(database, MetricFilter(WEEK.start, WEEK.end, product="printer"))
    assert printers["backlog"]["open"] == 1 and printers["volume"]["created"] == 3
    normal = figures(database, MetricFilter(WEEK.start, WEEK.end, priority="normal", channel="email"))
    assert normal["volume"]["created"] == 2


def test_each_metric_alone_equals_the_combined_computation(week) -> None:
    database = week[0]
    combined = figures(database)
    for name, metric in METRICS.items():
        assert database.read(lambda db: metric(db, WEEK, CALENDAR)) == combined[name], name


def test_csv_rows_one_per_figure(week) -> None:
    rows = metric_rows(figures(week[0]))
    assert ("first_response_time", "business_minutes.median", 20.0) in rows
    assert ("engineers", "b.wu.handled", 2) in rows
    assert ("waiting_time", "customer.business_minutes", 570.0) in rows
    assert len({(m, f) for m, f, _ in rows}) == len(rows)


@pytest.mark.parametrize(("changes", "message"), [
    ({"team": "nope"}, "team 'nope' does not exist"),
    ({"engineer": "ghost"}, "engineer 'ghost' does not exist"),
    ({"priority": "asap"}, "priority is 'asap'"),
    ({"channel": "fax"}, "channel is 'fax'"),
    ({"end": WEEK.start}, "the range is empty"),
])
def test_invalid_filters_are_refused(week, changes: dict, message: str) -> None:
    flt = MetricFilter(**{**WEEK.__dict__, **changes})
    with pytest.raises(InvalidInput) as error:
        week[0].read(lambda db: compute_all(db, flt, CALENDAR))
    assert message in str(error.value)


def test_summary_and_nearest_rank() -> None:
    assert nearest_rank([5, 1, 3, 2, 4], 0.9) == 5 and nearest_rank([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.9) == 9
    assert summary([1, 2, 3, 4]) == {"count": 4, "average": 2.5, "median": 2.5, "p90": 4}
    assert summary([]) == {"count": 0, "average": None, "median": None, "p90": None}


HOLIDAY_CALENDAR = BusinessCalendar(holidays=frozenset(date(2026, 10, d) for d in range(1, 8)),
                                    extra_workdays=frozenset({date(2026, 10, 10)}))
MOMENTS = st.datetimes(min_value=datetime(2026, 9, 1), max_value=datetime(2027, 2, 1), timezones=st.just(SH))


@settings(max_examples=300, deadline=None)
@given(MOMENTS, MOMENTS)
def test_business_clock_equals_the_calendar(first: datetime, second: datetime) -> None:
    clock = BusinessClock(HOLIDAY_CALENDAR)
    expected = HOLIDAY_CALENDAR.business_minutes_between(first, second)
    assert clock.minutes(first.timestamp(), second.timestamp()) == pytest.approx(expected, abs=1e-6)
    assert clock.minutes(second.timestamp(), first.timestamp()) == pytest.approx(
        HOLIDAY_CALENDAR.business_minutes_between(second, first), abs=1e-6)


def test_imported_history_counts_from_its_recorded_times(database: Database) -> None:
    """Five imported tickets (fixtures/tickets.jsonl), resolved after 60, 40, 60, 120 and 30 business minutes."""
    from kb.importing import import_ticket_file
    from tests.conftest import FIXTURES

    import_ticket_file(database, FIXTURES / "tickets.jsonl", "test", "CW")
    flt = MetricFilter(datetime(2026, 10, 5, tzinfo=SH), datetime(2026, 10, 12, tzinfo=SH))
    result = figures(database, flt)
    assert (result["volume"]["created"], result["volume"]["resolved"], result["volume"]["closed"]) == (5, 5, 5)
    assert result["resolution_time"]["business_minutes"] == {"average": 62.0, "median": 60.0, "p90": 120.0}
    assert result["backlog"]["open"] == 0 and result["resolution_rate"]["rate"] == 1.0
    assert result["first_response_time"]["count"] == 0
