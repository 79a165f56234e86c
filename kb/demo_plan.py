"""Planning the demo history: each demo ticket record becomes a list of dated lifecycle steps.

Pure functions: a record, a seeded random generator and the SLA targets give the same steps
every time. `kb.demo_history` carries the steps out with the real domain functions. The
record fixes what is known (creation and resolution time, priority, final team, escalation,
on-site visit, satisfaction, closing); the plan fills in what a real desk would have done in
between: triage, assignment, first response, waits with the manuals' delay reasons A–D,
escalation steps, visits, a few reopens, progress notes, closing, surveys and follow-up calls.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from kb.calendar import BusinessCalendar
from kb.clock import parse_iso

PLAN_SEED = 20261123
MINUTE = timedelta(minutes=1)
# The backlog left at the end: fresh tickets not yet worked, work in progress from the last days,
# and older tickets still waiting, escalated or reopened (one pool each, newest first).
FRESH_STATES = (*["new"] * 4, *["triaged"] * 2, *["assigned"] * 4)
IN_PROGRESS = 6
WAITING_STATES = ("waiting:engineer_not_served", "waiting:no_resources", "waiting:customer", "waiting:other") * 2
ESCALATED = 5
REOPENED = 3
OTHER_WAIT_NOTES = ("等待第三方厂商回复 / waiting for the vendor's answer",
                    "等待网络运营商排查线路 / waiting for the carrier to check the line",
                    "等待备件到货后统一安排 / waiting for a batch of spare parts")
SURVEY_COMMENTS = {1: "问题拖了很久才解决 / took far too long", 2: "沟通不及时 / nobody kept me informed",
                   3: "解决了，但比较慢 / solved, but slowly", 4: "处理得不错 / good job", 5: "非常满意，谢谢！/ excellent, thanks!"}


@dataclass(frozen=True)
class Step:
    """One thing to do to a ticket at a moment."""

    at: datetime
    kind: str
    args: dict[str, Any] = field(default_factory=dict)


@dataclass
class TicketPlan:
    """The steps of one demo ticket, oldest first; `open_state` is set for tickets left open."""

    index: int
    record: dict[str, Any]
    steps: list[Step]
    open_state: str | None = None


@dataclass(frozen=True)
class Targets:
    """SLA targets in business minutes per priority, and the teams a ticket may move through."""

    response: dict[str, float]
    resolution: dict[str, float]
    l1_team: str
    l2_team_of_product: dict[str, str]
    l2_teams: frozenset[str]


class _Steps:
    """Collects steps; `ordered` sorts them by time (ties keep their order), a second apart at least."""

    def __init__(self) -> None:
        self.steps: list[Step] = []

    def add(self, at: datetime, kind: str, **args: Any) -> datetime:
        self.steps.append(Step(at, kind, args))
        return at

    def ordered(self) -> list[Step]:
        result: list[Step] = []
        for step in sorted(self.steps, key=lambda s: s.at):
            if result and step.at <= result[-1].at:
                step = Step(result[-1].at + timedelta(seconds=1), step.kind, step.args)
            result.append(step)
        return result


def arrival_profile(records: list[dict[str, Any]], calendar: BusinessCalendar) -> dict[str, Any]:
    """When demo tickets arrive (local time): weekdays, hours, share inside working hours, weeks covered."""
    local = [parse_iso(r["created_at"]).astimezone(calendar.zone) for r in records]
    weekdays = Counter(m.strftime("%a") for m in local)
    working = sum(calendar.is_open(m) for m in local)
    weeks = sorted({f"{m.isocalendar()[0]}-W{m.isocalendar()[1]:02d}" for m in local})
    weekday_counts = [weekdays[d] for d in ("Mon", "Tue", "Wed", "Thu", "Fri")]
    return {
        "tickets": len(local), "weeks": len(weeks), "first_week": weeks[0] if weeks else None,
        "last_week": weeks[-1] if weeks else None,
        "by_weekday": {d: weekdays[d] for d in ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")},
        "by_hour": {f"{h:02d}": sum(m.hour == h for m in local) for h in range(24)},
        "inside_working_hours": round(working / len(local), 3) if local else None,
        "monday_vs_other_weekdays": round(weekday_counts[0] / (sum(weekday_counts[1:]) / 4), 2)
        if sum(weekday_counts[1:]) else None,
    }


def demo_now(records: list[dict[str, Any]]) -> datetime:
    """The moment the demo history stops: 20 minutes after the last ticket arrived."""
    return max(parse_iso(r["created_at"]) for r in records) + 20 * MINUTE


def open_targets(records: list[dict[str, Any]], now: datetime) -> dict[int, str]:
    """Which records stay open at `now` and in which state (deterministic)."""
    created = {i: parse_iso(r["created_at"]) for i, r in enumerate(records)}
    newest = sorted(created, key=lambda i: created[i], reverse=True)
    chosen = dict(zip(newest, FRESH_STATES))

    def pool(days: tuple[float, float], keep: Any = lambda i: True) -> list[int]:
        low, high = now - timedelta(days=days[1]), now - timedelta(days=days[0])
        return [i for i in newest if i not in chosen and low <= created[i] < high and keep(i)]

    for index in pool((0, 6))[::2][:IN_PROGRESS]:
        chosen[index] = "in_progress"
    for index in pool((3, 21), lambda i: bool(records[i].get("escalated")))[::2][:ESCALATED]:
        chosen[index] = "escalated"
    span = {i: parse_iso(r["resolved_at"]) - created[i] for i, r in enumerate(records)}
    for index, state in zip(sorted(pool((3, 21)), key=lambda i: span[i], reverse=True), WAITING_STATES):
        chosen[index] = state
    for index in pool((2, 21), lambda i: (records[i].get("satisfaction") or 5) <= 4)[:REOPENED]:
        chosen[index] = "reopened"
    for index, record in enumerate(records):
        if index not in chosen and parse_iso(record["resolved_at"]) > now:
            chosen[index] = "in_progress"
    return chosen


def plan_all(records: list[dict[str, Any]], targets: Targets, calendar: BusinessCalendar,
             now: datetime, seed: int = PLAN_SEED) -> list[TicketPlan]:
    """A plan for every record, deterministic for a seed."""
    left_open = open_targets(records, now)
    return [plan_ticket(i, r, random.Random(f"{seed}:{i}"), targets, calendar, now, left_open.get(i))
            for i, r in enumerate(records)]


def plan_ticket(index: int, record: dict[str, Any], rng: random.Random, targets: Targets,
                calendar: BusinessCalendar, now: datetime, open_state: str | None) -> TicketPlan:
    """The steps of one record; an open ticket stops at its target state before `now`."""
    choices = _choices(record, rng, targets, calendar, open_state)
    created = parse_iso(record["created_at"])
    end = now - 5 * MINUTE if open_state else parse_iso(record["resolved_at"])
    steps = _Steps()
    steps.add(created, "register")
    first_team = record["team"] if record.get("team") in targets.l2_teams and not choices["escalated"] \
        else targets.l1_team
    started = _first_response(steps, record, rng, targets, calendar, created, end, first_team)
    working = _customer_wait(steps, rng, choices, calendar, started, end)
    last_start = _escalations(steps, record, choices, targets, working, end)
    _last_stretch(steps, record, rng, choices, calendar, last_start, end)
    if not open_state:
        _after_resolution(steps, record, rng, calendar, end, now)
    return TicketPlan(index, record, _cut(steps.ordered(), open_state), open_state)


def _choices(record: dict[str, Any], rng: random.Random, targets: Targets, calendar: BusinessCalendar,
             open_state: str | None) -> dict[str, Any]:
    """What the record leaves open, decided once: waiting reason, reopen, escalation path."""
    target = open_state or ""
    escalated = bool(record.get("escalated")) and not open_state or target == "escalated"
    wait = target.split(":", 1)[1] if target.startswith("waiting:") else None
    wait_minutes = None
    if not open_state:
        wait, wait_minutes = _wait(record, rng, targets, calendar)
    reopen = target == "reopened" or (not open_state and rng.random() < _reopen_chance(record))
    to_rnd = escalated and not open_state and record.get("team") == "rnd"
    return {"escalated": escalated, "to_rnd": to_rnd, "wait": wait, "wait_minutes": wait_minutes, "reopen": reopen,
            "visit": bool(record.get("onsite_visit")) and not open_state}


def _wait(record: dict[str, Any], rng: random.Random, targets: Targets,
          calendar: BusinessCalendar) -> tuple[str | None, float | None]:
    """A delay reason, and for a customer wait on a ticket that ran over its target, the business
    minutes of that wait: in most such cases the customer was the reason (which pauses the clock)."""
    target = targets.resolution[record["priority"]]
    minutes = calendar.business_minutes_between(parse_iso(record["created_at"]), parse_iso(record["resolved_at"]))
    reasons = ("customer", "no_resources", "engineer_not_served", "other")
    if minutes > target:
        draw = rng.random()
        if draw < 0.65:
            return "customer", minutes - target * rng.uniform(0.55, 0.9)
        return (rng.choice(reasons[1:]), None) if draw < 0.85 else (None, None)
    if rng.random() < 0.18:
        return rng.choices(reasons, (0.3, 0.25, 0.3, 0.15))[0], None
    return None, None


def _reopen_chance(record: dict[str, Any]) -> float:
    satisfaction = record.get("satisfaction")
    return 0.35 if satisfaction is not None and satisfaction <= 2 else 0.04


def _first_response(steps: _Steps, record: dict[str, Any], rng: random.Random, targets: Targets,
                    calendar: BusinessCalendar, created: datetime, end: datetime, team: str) -> datetime:
    """Triage (to `team`), assignment and first response: mostly within the target, some close, a few late."""
    target = targets.response[record["priority"]]
    draw = rng.random()
    minutes = rng.uniform(2, 0.5 * target) if draw < 0.7 else \
        rng.uniform(0.5 * target, 0.95 * target) if draw < 0.9 else rng.uniform(1.05 * target, 2.5 * target)
    started = min(calendar.add_business_minutes(created, minutes), created + 0.3 * (end - created))
    steps.add(created + 0.3 * (started - created), "triage", team=team)
    steps.add(created + 0.6 * (started - created), "assign")
    return steps.add(started, "start")


def _customer_wait(steps: _Steps, rng: random.Random, choices: dict[str, Any], calendar: BusinessCalendar,
                   started: datetime, end: datetime) -> datetime:
    """Soon after the first response, the long wait for the customer that explains a long ticket."""
    if not choices["wait_minutes"]:
        return started
    began = min(calendar.add_business_minutes(started, rng.uniform(5, 20)), started + 0.05 * (end - started))
    steps.add(began, "wait", reason="customer", note=None)
    resumed = min(calendar.add_business_minutes(began, choices["wait_minutes"]), end - 10 * MINUTE)
    return steps.add(resumed, "resume")


def _escalations(steps: _Steps, record: dict[str, Any], choices: dict[str, Any], targets: Targets,
                 started: datetime, end: datetime) -> datetime:
    """L1 → L2 (and L2 → R&D) with the new tier's assignment and start; returns the last start."""
    if not choices["escalated"]:
        return started
    work = end - started
    l2_team = record["team"] if record.get("team") in targets.l2_teams else \
        targets.l2_team_of_product.get(record.get("product") or "")
    steps.add(started + 0.30 * work, "escalate", team=l2_team,
              reason="一线无法解决，需要二线支持 / needs second-line expertise")
    steps.add(started + 0.33 * work, "assign")
    last = steps.add(started + 0.36 * work, "start")
    if choices["to_rnd"]:
        steps.add(started + 0.55 * work, "escalate", team="rnd", reason="疑似产品缺陷 / suspected product defect",
                  rnd_request=f"请研发分析并修复 / please analyse and fix: {record['title']}")
        steps.add(started + 0.58 * work, "assign")
        last = steps.add(started + 0.61 * work, "start")
    return last


def _last_stretch(steps: _Steps, record: dict[str, Any], rng: random.Random, choices: dict[str, Any],
                  calendar: BusinessCalendar, start: datetime, end: datetime) -> None:
    """Visit, wait, progress note, a failed first fix and reopen, then the resolution at `end`."""
    length = end - start
    if choices["visit"]:
        steps.add(start + 0.05 * length, "visit", scheduled_at=start + 0.4 * length)
        steps.add(start + 0.45 * length, "visit_done")
    if choices["wait"] and not choices["wait_minutes"]:
        reason, began = choices["wait"], start + 0.1 * length
        steps.add(began, "wait", reason=reason, note=rng.choice(OTHER_WAIT_NOTES) if reason == "other" else None)
        steps.add(began + rng.uniform(0.3, 0.6) * length, "resume")
    if length > timedelta(hours=8):
        steps.add(start + 0.75 * length, "progress")
    if choices["reopen"]:
        steps.add(start + 0.8 * length, "resolve", final=False)
        steps.add(start + 0.87 * length, "reopen")
        steps.add(start + 0.92 * length, "start")
    steps.add(end, "resolve", final=True)


def _after_resolution(steps: _Steps, record: dict[str, Any], rng: random.Random, calendar: BusinessCalendar,
                      resolved: datetime, now: datetime) -> None:
    """Closing (confirmed, or timed out after 3 days), the survey and follow-up calls, all before `now`."""
    if record.get("status") != "closed":
        return
    confirmed = rng.random() < 0.85
    delay = timedelta(hours=rng.uniform(0.5, 30)) if confirmed else timedelta(days=3)
    closed = _before(resolved + delay, resolved, now)
    steps.add(closed, "close", reason="confirmed" if confirmed else "timed_out")
    score = record.get("satisfaction")
    if score:
        steps.add(_before(closed + timedelta(hours=rng.uniform(0.2, 20)), closed, now), "survey", score=score,
                  comment=SURVEY_COMMENTS[score] if rng.random() < 0.6 or score <= 2 else None)
    if (score is not None and score <= 3) or rng.random() < 0.1:
        due = calendar.add_business_minutes(closed, 570)
        scheduled = steps.add(_before(closed + 30 * MINUTE, closed, now), "followup", due_at=due)
        done = due - timedelta(hours=rng.uniform(0, 3))
        if scheduled < done < now and rng.random() < 0.85:
            steps.add(done, "followup_done")


def _before(moment: datetime, floor: datetime, now: datetime) -> datetime:
    """`moment`, but before `now` (and never before `floor`)."""
    return max(min(moment, now - MINUTE), floor + timedelta(seconds=1))


_CUT_AFTER = {"new": "register", "triaged": "triage", "assigned": "assign", "in_progress": "start",
              "escalated": "escalate", "reopened": "reopen"}


def _cut(steps: list[Step], open_state: str | None) -> list[Step]:
    """Keep an open ticket's steps up to the first one that puts it in its target state."""
    if not open_state:
        return steps
    last_kind = "wait" if open_state.startswith("waiting:") else _CUT_AFTER[open_state]
    for position, step in enumerate(steps):
        if step.kind == last_kind:
            return steps[:position + 1]
    return steps
