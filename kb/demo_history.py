"""The demo support history, played through the real lifecycle with historical times.

Each demo ticket record (kb/demo_data/tickets/*.jsonl) becomes a ticket that is registered,
triaged, assigned, answered, sometimes kept waiting (delay reasons A–D), escalated, visited,
resolved with the record's solution, reopened now and then, closed, surveyed and followed up,
by the domain functions a person would trigger, at the times the plan (kb.demo_plan) gives.
The SLA watch runs every half hour of opening time, so warnings and breaches are recorded as
they would have been. The newest tickets stay open in various states, so the backlog is real.
Audit events, SLA fields and the index outbox are therefore exactly what the product writes.

    report = play_demo_history(database, rules)   # desk, articles and every demo ticket file
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlite_utils

from kb import activity
from kb.db import Database
from kb.demo_plan import PLAN_SEED, Step, Targets, TicketPlan, arrival_profile, demo_now, plan_all
from kb.desk import DeskRules, iso
from kb.errors import InvalidInput
from kb.importing import (
    demo_article_folder,
    demo_desk_config,
    demo_ticket_files,
    import_article_folder,
    load_demo_desk,
)
from kb.intake import matrix_priority, register_ticket
from kb.lifecycle import TransitionRequest, transition
from kb.sla import all_policies
from kb.sla_watch import check_sla
from kb.teams import team_for
from kb.ticket_files import read_ticket_file
from kb.triage import decide
from kb.visibility import Viewer

SLA_TICK = timedelta(minutes=30)
# Customers who have a demo account sign in as it and see their own tickets.
_DEMO_REQUESTERS = {u["display_name"]: u["username"] for u in demo_desk_config()["users"] if u["role"] == "requester"}
PRIORITY_ORDER = ("low", "normal", "high", "urgent")
ROLE_OF_TIER = {"L1": "agent", "L2": "senior_agent", "RND": "rnd"}
FIRST_FIX = ("先按标准步骤处理（重启服务、重新配置客户端）/ "
             "first fix: restarted the service and reconfigured the client")
REOPEN_REASON = "客户反馈问题仍然存在 / the customer says it still happens"
PROGRESS_NOTE = ("进展更新：正在处理中，有结果会第一时间通知您。/ "
                 "Progress update: still on it, we will tell you as soon as we know more.")


@dataclass(frozen=True)
class DemoActors:
    """Who does the desk work that is nobody's assignment: the service desk and automatic closing."""

    dispatcher: str = "zhou.min"
    auto_close: str = "casewise-auto-close"


@dataclass
class DemoReport:
    """What playing the demo history wrote."""

    played: bool
    note: str = ""
    tickets: int = 0
    open_tickets: int = 0
    events: int = 0
    seconds: float = 0.0
    statuses: dict[str, int] = field(default_factory=dict)
    waits: dict[str, int] = field(default_factory=dict)
    figures: dict[str, int] = field(default_factory=dict)
    arrivals: dict[str, Any] = field(default_factory=dict)


def requester_name(customer: str) -> str:
    """The demo account of a customer who has one (so they see their tickets when signed in), else the name."""
    return _DEMO_REQUESTERS.get(customer, customer)


def play_demo_history(database: Database, rules: DeskRules, records: list[dict[str, Any]] | None = None,
                      actors: DemoActors = DemoActors(), *, with_articles: bool = True,
                      until: datetime | None = None, seed: int = PLAN_SEED) -> DemoReport:
    """Load the demo desk (and articles), then play every demo ticket record into an empty database.

    `until` shifts the whole history by whole weeks (weekdays and hours kept) so that it ends in
    the week before `until`; without it the history keeps the records' own dates. A database that
    already holds tickets is left alone (played=False).
    """
    began = time.perf_counter()
    if database.read(lambda db: db.execute("SELECT COUNT(*) FROM tickets").fetchone()[0]):
        return DemoReport(played=False, note="the database already holds tickets; the demo history was not played")
    records = records if records is not None else [r for p in demo_ticket_files() for r in read_ticket_file(p)]
    records = shift_records(records, until)
    load_demo_desk(database)
    if with_articles:
        import_article_folder(database, demo_article_folder(), "demo")
    database.write(lambda db: _play(db, rules, records, actors, seed))
    report = database.read(lambda db: summarise(db))
    report.seconds = round(time.perf_counter() - began, 2)
    report.arrivals = arrival_profile(records, rules.calendar)
    return report


def shift_records(records: list[dict[str, Any]], until: datetime | None) -> list[dict[str, Any]]:
    """The records moved by whole weeks so that the history ends within the week before `until`."""
    if until is None:
        return records
    weeks = (until - demo_now(records)) // timedelta(weeks=1)
    if weeks <= 0:
        return records
    shift = timedelta(weeks=weeks)
    return [{**r, **{k: (datetime.fromisoformat(r[k]) + shift).isoformat() for k in ("created_at", "resolved_at")
                     if r.get(k)}} for r in records]


def _play(db: sqlite_utils.Database, rules: DeskRules, records: list[dict[str, Any]], actors: DemoActors,
          seed: int) -> None:
    now = demo_now(records)
    plans = plan_all(records, _targets(db), rules.calendar, now, seed)
    player = _Player(db, rules, actors)
    watch_rules = dataclasses.replace(rules, escalate_on_breach=False)  # the records say who was escalated
    for moment, _, plan, step in _timeline(plans, rules, now):
        if plan is None:
            check_sla(db, watch_rules, moment)
        else:
            player.run(plan, step)


def _targets(db: sqlite_utils.Database) -> Targets:
    policies = all_policies(db)
    l2_teams = frozenset(r[0] for r in db.execute("SELECT name FROM teams WHERE tier = 'L2'"))
    products = [r[0] for r in db.execute("SELECT DISTINCT product FROM assignment_rules WHERE product IS NOT NULL")]
    return Targets(
        response={p.priority: p.response_minutes for p in policies},
        resolution={p.priority: p.resolution_minutes for p in policies},
        l1_team=team_for(db, None, None, tier="L1") or "l1-desk",
        l2_team_of_product={p: t for p in products if (t := team_for(db, p, None, tier="L2"))},
        l2_teams=l2_teams,
    )


def _timeline(plans: list[TicketPlan], rules: DeskRules, now: datetime) -> list[tuple[datetime, int, Any, Any]]:
    """Every step of every plan and every SLA-watch run, in time order."""
    entries: list[tuple[datetime, int, Any, Any]] = [
        (step.at, order, plan, step) for order, plan in enumerate(plans) for step in plan.steps]
    start = min(step.at for plan in plans for step in plan.steps)
    entries += [(tick, -1, None, None) for tick in sla_ticks(rules, start, now)]
    return sorted(entries, key=lambda e: (e[0], e[1]))


def sla_ticks(rules: DeskRules, start: datetime, end: datetime) -> list[datetime]:
    """Every half hour of opening time between two moments, as the server's scheduler would run."""
    calendar, ticks = rules.calendar, []
    day, last = start.astimezone(calendar.zone).date(), end.astimezone(calendar.zone).date()
    while day <= last:
        if calendar.is_working_day(day):
            moment = datetime.combine(day, calendar.opens, tzinfo=calendar.zone) + SLA_TICK
            closes = datetime.combine(day, calendar.closes, tzinfo=calendar.zone)
            while moment <= closes and moment < end:
                if moment > start:
                    ticks.append(moment)
                moment += SLA_TICK
        day += timedelta(days=1)
    return ticks


class _Player:
    """Carries out plan steps with the domain functions, as the right person."""

    def __init__(self, db: sqlite_utils.Database, rules: DeskRules, actors: DemoActors) -> None:
        self.db, self.rules, self.actors = db, rules, actors
        self.ids: dict[int, int] = {}
        self.visits: dict[int, int] = {}
        self.followups: dict[int, int] = {}
        self.members = {r[0]: (r[1], r[2]) for r in db.execute(
            "SELECT m.username, m.team, t.tier FROM members m JOIN teams t ON t.name = m.team ORDER BY m.username")}
        self.articles = _article_tags(db)

    def run(self, plan: TicketPlan, step: Step) -> None:
        getattr(self, f"_{step.kind}")(plan, step, plan.record)

    # who acts
    def _member(self, username: str) -> Viewer:
        team, tier = self.members[username]
        return Viewer(username, ROLE_OF_TIER[tier], teams=(team,))

    def _assignee(self, plan: TicketPlan) -> Viewer:
        row = self.db.execute("SELECT assignee FROM tickets WHERE id = ?", [self.ids[plan.index]]).fetchone()
        return self._member(row[0])

    def _team_member(self, plan: TicketPlan) -> Viewer:
        team = self.db.execute("SELECT team FROM tickets WHERE id = ?", [self.ids[plan.index]]).fetchone()[0]
        if team == self.members[self.actors.dispatcher][0]:
            return self._member(self.actors.dispatcher)
        return self._member(next(u for u, (t, _) in self.members.items() if t == team))

    @staticmethod
    def _requester(record: dict[str, Any]) -> Viewer:
        return Viewer(requester_name(record["customer"]), "requester")

    def _move(self, plan: TicketPlan, step: Step, actor: Viewer, **request: Any) -> None:
        transition(self.db, self.ids[plan.index], TransitionRequest(**request), actor, self.rules, step.at)

    # the steps
    def _register(self, plan: TicketPlan, step: Step, record: dict[str, Any]) -> None:
        fields = {k: record.get(k) for k in ("title", "description", "contact", "organisation", "channel", "product",
                                             "module", "version", "asset_model", "asset_serial", "problem_type",
                                             "impact", "urgency", "language")}
        fields.update(requester=requester_name(record["customer"]), error_codes=record.get("error_codes") or [],
                      shown_suggestions=self._shown(record))
        self_service = record.get("channel") in ("web", "chat")
        actor = self._requester(record) if self_service else self._member(self.actors.dispatcher)
        self.ids[plan.index] = register_ticket(self.db, fields, actor, self.rules, step.at)["id"]

    def _shown(self, record: dict[str, Any]) -> list[dict[str, Any]] | None:
        """What the web form showed while a customer typed (self-service channels only)."""
        if record.get("channel") not in ("web", "chat"):
            return None
        ranked = _matching_articles(self.articles, record, minimum=1)[:3]
        return [{"kind": "article", "id": aid, "slug": slug} for aid, slug in ranked] or None

    def _triage(self, plan: TicketPlan, step: Step, record: dict[str, Any]) -> None:
        chosen = {"category": record.get("category"), "priority": record["priority"], "team": step.args["team"]}
        computed = matrix_priority(self.db, record.get("impact"), record.get("urgency"))
        if computed and computed != record["priority"]:
            higher = PRIORITY_ORDER.index(record["priority"]) > PRIORITY_ORDER.index(computed)
            chosen["priority_reason"] = "重点客户，提高优先级 / key account" if higher else \
                "影响范围有限，降低优先级 / limited scope"
        decide(self.db, self.ids[plan.index], chosen, self._member(self.actors.dispatcher), self.rules, step.at)

    def _assign(self, plan: TicketPlan, step: Step, record: dict[str, Any]) -> None:
        actor = self._team_member(plan)
        try:
            self._move(plan, step, actor, to="assigned")
        except InvalidInput:  # nobody skilled at work: the dispatcher names someone
            self._move(plan, step, actor, to="assigned", assignee=actor.name)

    def _start(self, plan: TicketPlan, step: Step, record: dict[str, Any]) -> None:
        self._move(plan, step, self._assignee(plan), to="in_progress")

    def _resume(self, plan: TicketPlan, step: Step, record: dict[str, Any]) -> None:
        self._start(plan, step, record)

    def _wait(self, plan: TicketPlan, step: Step, record: dict[str, Any]) -> None:
        self._move(plan, step, self._assignee(plan), to="waiting", waiting_reason=step.args["reason"],
                   reason=step.args.get("note"))

    def _escalate(self, plan: TicketPlan, step: Step, record: dict[str, Any]) -> None:
        self._move(plan, step, self._assignee(plan), to="escalated", team=step.args["team"],
                   reason=step.args["reason"], rnd_request=step.args.get("rnd_request"))

    def _visit(self, plan: TicketPlan, step: Step, record: dict[str, Any]) -> None:
        actor = self._assignee(plan)
        visit = {"scheduled_at": iso(step.args["scheduled_at"]), "place": record.get("organisation") or "客户现场",
                 "engineer": actor.name, "tools": ["工具包 / toolkit", "笔记本电脑 / laptop"],
                 "spare_parts": ["备用网线 / spare cable"] if record.get("product") == "network" else []}
        self.visits[plan.index] = activity.schedule_visit(self.db, self.ids[plan.index], visit, actor, step.at)["id"]

    def _visit_done(self, plan: TicketPlan, step: Step, record: dict[str, Any]) -> None:
        outcome = {"outcome": "现场处理完成 / fixed on site", "signed_by": record["customer"],
                   "service_record": f"设备服务记录单 / service record: {record['title'][:40]}"}
        activity.record_visit(self.db, self.ids[plan.index], self.visits[plan.index], outcome,
                              self._assignee(plan), step.at)

    def _progress(self, plan: TicketPlan, step: Step, record: dict[str, Any]) -> None:
        activity.add_comment(self.db, self.ids[plan.index], PROGRESS_NOTE, "public", self._assignee(plan), step.at)

    def _resolve(self, plan: TicketPlan, step: Step, record: dict[str, Any]) -> None:
        if not step.args["final"]:
            self._move(plan, step, self._assignee(plan), to="resolved", solution=FIRST_FIX)
            return
        articles = tuple(aid for aid, _ in _matching_articles(self.articles, record, minimum=2)[:1])
        self._move(plan, step, self._assignee(plan), to="resolved", solution=record["resolution"],
                   root_cause=record.get("root_cause"), article_ids=articles)

    def _reopen(self, plan: TicketPlan, step: Step, record: dict[str, Any]) -> None:
        self._move(plan, step, self._requester(record), to="reopened", reason=REOPEN_REASON)

    def _close(self, plan: TicketPlan, step: Step, record: dict[str, Any]) -> None:
        reason = step.args["reason"]
        actor = self._requester(record) if reason == "confirmed" else Viewer(self.actors.auto_close, "manager")
        self._move(plan, step, actor, to="closed", close_reason=reason)

    def _survey(self, plan: TicketPlan, step: Step, record: dict[str, Any]) -> None:
        activity.record_survey(self.db, self.ids[plan.index], step.args["score"], step.args["comment"],
                               self._requester(record), step.at)

    def _followup(self, plan: TicketPlan, step: Step, record: dict[str, Any]) -> None:
        caller = self._member(self.actors.dispatcher)
        row = activity.schedule_followup(self.db, self.ids[plan.index], iso(step.args["due_at"]), caller.name,
                                         caller, step.at)
        self.followups[plan.index] = row["id"]

    def _followup_done(self, plan: TicketPlan, step: Step, record: dict[str, Any]) -> None:
        notes = "已回访，客户确认问题已解决 / called back: the customer confirms it stays fixed"
        activity.complete_followup(self.db, self.ids[plan.index], self.followups[plan.index], notes,
                                   self._member(self.actors.dispatcher), step.at)


def _article_tags(db: sqlite_utils.Database) -> list[tuple[int, str, str | None, list[str]]]:
    rows = db.execute("SELECT id, slug, product, tags FROM articles WHERE status = 'published' ORDER BY id")
    return [(r[0], r[1], r[2], [t.lower() for t in json.loads(r[3] or "[]") if len(str(t)) >= 2]) for r in rows]


def _matching_articles(articles: list[tuple[int, str, str | None, list[str]]], record: dict[str, Any],
                       minimum: int) -> list[tuple[int, str]]:
    """Articles of the record's product ranked by how many of their tags the ticket text mentions."""
    text = " ".join([record.get("title") or "", record.get("description") or "",
                     *(record.get("error_codes") or [])]).lower()
    scored = [(sum(tag in text for tag in tags), aid, slug) for aid, slug, product, tags in articles
              if product == record.get("product")]
    return [(aid, slug) for score, aid, slug in sorted(scored, key=lambda s: (-s[0], s[1])) if score >= minimum]


def summarise(db: sqlite_utils.Database) -> DemoReport:
    """Counts of what the history holds: states, waits by reason, escalations, breaches, visits, surveys."""
    def one(sql: str) -> int:
        return db.execute(sql).fetchone()[0]

    statuses = Counter({r[0]: r[1] for r in db.execute("SELECT status, COUNT(*) FROM tickets GROUP BY status")})
    waits = {r[0]: r[1] for r in db.execute(
        "SELECT json_extract(data, '$.waiting_reason'), COUNT(*) FROM audit_events"
        " WHERE action = 'transition' AND json_extract(data, '$.to') = 'waiting' GROUP BY 1")}
    figures = {
        "to_l2": one("SELECT COUNT(*) FROM audit_events WHERE json_extract(data, '$.to') = 'escalated'"
                     " AND json_extract(data, '$.tier[1]') = 'L2'"),
        "to_rnd": one("SELECT COUNT(*) FROM audit_events WHERE json_extract(data, '$.to') = 'escalated'"
                      " AND json_extract(data, '$.tier[1]') = 'RND'"),
        "reopens": one("SELECT COUNT(*) FROM audit_events WHERE json_extract(data, '$.to') = 'reopened'"),
        "response_breaches": one("SELECT COUNT(*) FROM tickets WHERE response_sla = 'breached'"),
        "resolution_breaches": one("SELECT COUNT(*) FROM tickets WHERE resolution_sla = 'breached'"),
        "sla_warnings": one("SELECT COUNT(*) FROM audit_events WHERE changes LIKE '%\"warning\"]%'"),
        "visits": one("SELECT COUNT(*) FROM visits"),
        "surveys": one("SELECT COUNT(*) FROM surveys"),
        "followups": one("SELECT COUNT(*) FROM followups"),
        "followups_done": one("SELECT COUNT(*) FROM followups WHERE done_at IS NOT NULL"),
        "comments": one("SELECT COUNT(*) FROM comments"),
        "article_links": one("SELECT COUNT(*) FROM ticket_articles"),
    }
    open_count = one("SELECT COUNT(*) FROM tickets WHERE status NOT IN ('resolved', 'closed', 'cancelled', 'merged')")
    return DemoReport(played=True, tickets=sum(statuses.values()), open_tickets=open_count,
                      events=one("SELECT COUNT(*) FROM audit_events WHERE entity_type = 'ticket'"),
                      statuses=dict(sorted(statuses.items())), waits=dict(sorted(waits.items())), figures=figures)
