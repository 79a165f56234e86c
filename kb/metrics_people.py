"""Metrics about customers and people: satisfaction, follow-up calls, deflection, per-engineer figures."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

import sqlite_utils

from kb.calendar import BusinessCalendar
from kb.metrics_data import MetricFilter, MetricSource, is_first_contact, source_for
from kb.metrics_time import epoch, rate

TOP_ARTICLES = 10


def satisfaction(db: sqlite_utils.Database, flt: MetricFilter, calendar: BusinessCalendar,
                 source: MetricSource | None = None) -> dict[str, Any]:
    """客户满意度: surveys answered in the range (count, average 1–5, distribution) and the response
    rate: of tickets closed in the range, the share with a survey (answered at any time)."""
    src = source_for(db, flt, calendar, source)
    scores = [score for score, at in src.surveys.values() if src.in_range(at)]
    closed = [t.id for t in src.tickets.values() if src.in_range(t.closed)]
    answered = sum(tid in src.surveys for tid in closed)
    counts = Counter(scores)
    return {"surveys": len(scores), "average": round(sum(scores) / len(scores), 2) if scores else None,
            "distribution": {str(score): counts[score] for score in range(1, 6)},
            "closed": len(closed), "answered": answered, "response_rate": rate(answered, len(closed))}


def followup_calls(db: sqlite_utils.Database, flt: MetricFilter, calendar: BusinessCalendar,
                   source: MetricSource | None = None) -> dict[str, Any]:
    """客服回访: follow-up calls scheduled in the range, made in the range, and overdue at its end
    (due before the end, scheduled before the end, not made by then)."""
    src = source_for(db, flt, calendar, source)
    calls = src.followups
    return {
        "scheduled": sum(src.in_range(scheduled) for _, _, _, scheduled in calls),
        "done": sum(src.in_range(done) for _, _, done, _ in calls),
        "overdue_at_end": sum(scheduled < src.end and due < src.end and (done is None or done >= src.end)
                              for _, due, done, scheduled in calls),
    }


def deflection(db: sqlite_utils.Database, flt: MetricFilter, calendar: BusinessCalendar,
               source: MetricSource | None = None) -> dict[str, Any]:
    """Self-service: suggestions shown on tickets created in the range (tickets.shown_suggestions),
    "solved it" without a ticket in the range (table `deflections`; None where it does not exist;
    ticket filters do not apply to it), and articles linked as solving tickets in the range."""
    src = source_for(db, flt, calendar, source)
    created = [t for t in src.tickets.values() if src.in_range(t.created)]
    links = [(tid, aid) for tid, aid, at in _solved_by(db) if tid in src.tickets and src.in_range(at)]
    per_article = Counter(aid for _, aid in links)
    return {
        "tickets_with_suggestions": sum(t.shown_suggestions > 0 for t in created),
        "suggestions_shown": sum(t.shown_suggestions for t in created),
        "solved_without_ticket": _deflections(src) if src.has_table("deflections") else None,
        "tickets_solved_by_articles": len({tid for tid, _ in links}),
        "article_links": len(links),
        "top_articles": _articles(db, per_article.most_common(TOP_ARTICLES)),
    }


def _solved_by(db: sqlite_utils.Database) -> list[tuple[int, int, float]]:
    rows = db.execute("SELECT ticket_id, article_id, created_at FROM ticket_articles WHERE relation = 'solved_by'")
    return [(r[0], r[1], epoch(r[2]) or 0.0) for r in rows]


def _deflections(src: MetricSource) -> int:
    return sum(src.in_range(epoch(r[0])) for r in src.db.execute("SELECT created_at FROM deflections"))


def _articles(db: sqlite_utils.Database, ranked: list[tuple[int, int]]) -> list[dict[str, Any]]:
    names = {r[0]: (r[1], r[2]) for r in db.execute("SELECT id, slug, title FROM articles")}
    return [{"id": aid, "slug": names.get(aid, ("?", "?"))[0], "title": names.get(aid, ("?", "?"))[1],
             "tickets": count} for aid, count in ranked]


def engineer_performance(db: sqlite_utils.Database, flt: MetricFilter, calendar: BusinessCalendar,
                         source: MetricSource | None = None) -> list[dict[str, Any]]:
    """绩效考核 per engineer: tickets handled (latest resolution in the range with the engineer as
    assignee), time worked (工时: business minutes in the range during which at least one ticket was
    in_progress with the engineer; parallel tickets count once), first-contact resolution and
    resolution-SLA rate of the handled tickets, and satisfaction of surveys answered in the range on
    tickets the engineer resolved."""
    src = source_for(db, flt, calendar, source)
    handled: dict[str, list[int]] = defaultdict(list)
    for ticket in src.tickets.values():
        if ticket.assignee and src.in_range(ticket.resolved):
            handled[ticket.assignee].append(ticket.id)
    worked = _time_worked(src)
    scores = _scores_by_resolver(src)
    names = _engineers(db, flt) if flt.engineer or flt.team else _engineers(db, flt) | set(handled) | set(worked)
    rows = [_engineer_row(src, name, handled.get(name, []), worked.get(name, 0.0), scores.get(name, []))
            for name in names]
    return sorted(rows, key=lambda r: (-r["handled"], r["engineer"]))


def _engineer_row(src: MetricSource, name: str, ticket_ids: list[int], worked: float,
                  scores: list[int]) -> dict[str, Any]:
    met = sum(src.tickets[tid].resolution_sla == "met" for tid in ticket_ids)
    breached = sum(src.tickets[tid].resolution_sla == "breached" for tid in ticket_ids)
    fcr = sum(is_first_contact(src, tid) for tid in ticket_ids)
    return {"engineer": name, "handled": len(ticket_ids), "time_worked_business_minutes": round(worked, 2),
            "first_contact": fcr, "fcr_rate": rate(fcr, len(ticket_ids)),
            "csat_average": round(sum(scores) / len(scores), 2) if scores else None, "csat_surveys": len(scores),
            "sla_met": met, "sla_rate": rate(met, met + breached)}


def _time_worked(src: MetricSource) -> dict[str, float]:
    """Business minutes in the range during which each engineer had at least one ticket in progress."""
    spans: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for ticket_id in src.tickets:
        for stretch in src.timeline(ticket_id).stretches:
            start, end = max(stretch.start, src.start), min(stretch.end, src.end)
            if stretch.status == "in_progress" and stretch.assignee and start < end:
                spans[stretch.assignee].append((start, end))
    return {name: sum(src.business_minutes(a, b) for a, b in merge_spans(found)) for name, found in spans.items()}


def merge_spans(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Overlapping or touching [start, end) spans merged into disjoint ones, in order."""
    merged: list[tuple[float, float]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _scores_by_resolver(src: MetricSource) -> dict[str, list[int]]:
    scores: dict[str, list[int]] = defaultdict(list)
    for ticket_id, (score, at) in src.surveys.items():
        assignee = src.tickets[ticket_id].assignee
        if assignee and src.in_range(at):
            scores[assignee].append(score)
    return scores


def _engineers(db: sqlite_utils.Database, flt: MetricFilter) -> set[str]:
    """The engineer asked for, the team's members, or every member (listed even without work)."""
    if flt.engineer:
        return {flt.engineer}
    if flt.team:
        return {r[0] for r in db.execute("SELECT username FROM members WHERE team = ?", [flt.team])}
    return {r[0] for r in db.execute("SELECT username FROM members")}
