"""Is an article doing its job? Usage signals, per-article effectiveness, stale articles, the ranking boost.

Signals (`article_signals`): 'suggested' (shown in suggestions), 'opened' (someone read it),
'solved_it' (someone said it solved their problem). A 'solved it' with no ticket is also a
deflection (`deflections`): the problem was solved without registering a ticket.

The ranking boost (`solved_boost`) is bounded and documented there; search adds it to an
article's fused score.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

import sqlite_utils

from kb.article_access import decode, staff_article, visible_article
from kb.desk import iso
from kb.errors import InvalidInput
from kb.ticket_access import visible_ticket
from kb.visibility import Viewer

SIGNAL_KINDS = ("suggested", "opened", "solved_it")
# The most a 'solved it' history can add to an article's fused score. Fused scores are sums of
# weighted z-scores (the first article of a demo query scores about 2-7): 1.5 can change the first
# article only where the first two are within 1.5 (about 30 % of demo ticket titles), never a clear winner.
# Measured in tests/test_knowledge.py (replayed signals, held-out wordings): hit@1 0.792 -> 0.833,
# MRR@5 0.875 -> 0.896, controls without signals unchanged; 0.5 and 1.0 changed nothing there.
MAX_BOOST = 1.5
# 'Solved it' count at which the evidence weight reaches one half.
HALF_SATURATION = 5
MAX_QUERY_CHARS = 2000


def solved_boost(solved_it: int, opened: int, max_boost: float = MAX_BOOST,
                 half_saturation: float = HALF_SATURATION) -> float:
    """Score added to an article with a 'solved it' history; always in [0, max_boost).

    boost = max_boost × evidence × rate, where
    evidence = solved / (solved + half_saturation)   (few signals count little), and
    rate = (solved + 1) / (max(opened, solved) + 2)   (share of readers it helped, Laplace-smoothed).
    Zero without any 'solved it'; grows with 'solved it', shrinks as more readers open it without
    saying it helped. It does not depend on the query, so it only reorders articles that already
    match about equally well.
    """
    solved, seen = max(solved_it, 0), max(opened, solved_it, 0)
    if solved == 0:
        return 0.0
    evidence = solved / (solved + half_saturation)
    rate = (solved + 1) / (seen + 2)
    return max_boost * evidence * rate


def apply_boosts(scored: list[tuple[int, float]], boosts: dict[int, float]) -> list[tuple[int, float]]:
    """(article id, score) pairs with each article's boost added, best first (ties keep their order)."""
    boosted = [(article_id, score + boosts.get(article_id, 0.0)) for article_id, score in scored]
    return sorted(boosted, key=lambda pair: -pair[1])


def record_signal(db: sqlite_utils.Database, article_id: int, kind: str, viewer: Viewer, now: datetime,
                  ticket_id: int | None = None, query: str | None = None) -> dict[str, Any]:
    """Record one signal for an article the viewer may see; returns it (with the deflection id, if any)."""
    if kind not in SIGNAL_KINDS:
        raise InvalidInput(f"signal kind {kind!r} is not one of: {', '.join(SIGNAL_KINDS)}")
    if len(query or "") > MAX_QUERY_CHARS:
        raise InvalidInput(f"query is {len(query or '')} characters; the limit is {MAX_QUERY_CHARS}")
    visible_article(db, article_id, viewer)
    if ticket_id is not None:
        visible_ticket(db, ticket_id, viewer)
    row = {"article_id": article_id, "kind": kind, "viewer": viewer.name, "ticket_id": ticket_id,
           "created_at": iso(now)}
    signals = db.table("article_signals").insert(row)
    signal = {**row, "id": signals.last_pk, "deflection_id": None}
    if kind == "solved_it" and ticket_id is None:
        deflections = db.table("deflections").insert({"created_at": iso(now), "viewer": viewer.name,
                                                      "query": query or "", "article_id": article_id,
                                                      "ticket_id": None})
        signal["deflection_id"] = deflections.last_pk
    return signal


def record_suggested(db: sqlite_utils.Database, article_ids: Iterable[int], viewer: Viewer, now: datetime,
                     ticket_id: int | None = None) -> int:
    """One 'suggested' signal per article shown (e.g. the suggestions a ticket form showed); returns the count."""
    ids = list(dict.fromkeys(article_ids))
    existing = {r[0] for r in db.execute(
        f"SELECT id FROM articles WHERE id IN ({','.join('?' * len(ids))})", ids)} if ids else set()
    rows = [{"article_id": i, "kind": "suggested", "viewer": viewer.name, "ticket_id": ticket_id,
             "created_at": iso(now)} for i in ids if i in existing]
    db.table("article_signals").insert_all(rows)
    return len(rows)


def signal_counts(db: sqlite_utils.Database, article_ids: Iterable[int]) -> dict[int, dict[str, int]]:
    """Signal counts per article and kind (zeros included)."""
    ids = list(dict.fromkeys(article_ids))
    counts = {i: dict.fromkeys(SIGNAL_KINDS, 0) for i in ids}
    if not ids:
        return counts
    rows = db.execute(f"SELECT article_id, kind, COUNT(*) FROM article_signals WHERE article_id IN"
                      f" ({','.join('?' * len(ids))}) GROUP BY article_id, kind", ids)
    for article_id, kind, count in rows:
        counts[article_id][kind] = count
    return counts


def boosts_for(db: sqlite_utils.Database, article_ids: Iterable[int]) -> dict[int, float]:
    """The ranking boost of each article (0.0 for those never marked 'solved it')."""
    return {i: solved_boost(c["solved_it"], c["opened"]) for i, c in signal_counts(db, article_ids).items()}


def effectiveness(db: sqlite_utils.Database, article_id: int, viewer: Viewer) -> dict[str, Any]:
    """Times suggested, opened, marked 'solved it'; tickets it solved and how many of those reopened (staff)."""
    staff_article(db, article_id, viewer)
    counts = signal_counts(db, [article_id])[article_id]
    solved = db.execute(
        "SELECT COUNT(*), SUM(t.reopen_count > 0 OR t.status = 'reopened') FROM ticket_articles l"
        " JOIN tickets t ON t.id = l.ticket_id WHERE l.article_id = ? AND l.relation = 'solved_by'",
        [article_id]).fetchone()
    linked, reopened = solved[0], solved[1] or 0
    deflections = db.execute("SELECT COUNT(*) FROM deflections WHERE article_id = ?", [article_id]).fetchone()[0]
    return {
        "article_id": article_id, **counts, "deflections": deflections,
        "solved_by_tickets": linked, "reopened_tickets": reopened,
        "reopen_rate": round(reopened / linked, 4) if linked else None,
        "solved_rate": round(counts["solved_it"] / counts["opened"], 4) if counts["opened"] else None,
        "ranking_boost": round(solved_boost(counts["solved_it"], counts["opened"]), 4),
    }


def stale_articles(db: sqlite_utils.Database, today: date, owner: str | None = None) -> list[dict[str, Any]]:
    """Published articles past their review-by date or linked (solved-by) to reopened tickets.

    Each entry: the article (without body), its reasons, days overdue and the reopened tickets.
    """
    where, params = ("AND a.owner = ?", [owner]) if owner else ("", [])
    overdue = db.execute(f"SELECT a.* FROM articles a WHERE a.status = 'published' AND a.review_by < ? {where}",
                         [today.isoformat(), *params]).fetchall()
    reopened = db.execute(
        "SELECT a.*, t.id AS t_id, t.number AS t_number, t.title AS t_title, t.reopen_count AS t_reopens"
        " FROM articles a JOIN ticket_articles l ON l.article_id = a.id AND l.relation = 'solved_by'"
        f" JOIN tickets t ON t.id = l.ticket_id WHERE a.status = 'published' {where}"
        " AND (t.reopen_count > 0 OR t.status = 'reopened') ORDER BY a.id, t.id", params).fetchall()
    found: dict[int, dict[str, Any]] = {}
    for row in overdue:
        entry = _entry(found, row)
        entry["reasons"].append("review_overdue")
        entry["days_overdue"] = (today - date.fromisoformat(row["review_by"][:10])).days
    for row in reopened:
        entry = _entry(found, row)
        if "reopened_tickets" not in entry["reasons"]:
            entry["reasons"].append("reopened_tickets")
        entry["reopened_tickets"].append({"id": row["t_id"], "number": row["t_number"], "title": row["t_title"],
                                          "reopen_count": row["t_reopens"]})
    return sorted(found.values(),
                  key=lambda e: (-len(e["reasons"]), -(e["days_overdue"] or 0), e["article"]["id"]))


def _entry(found: dict[int, dict[str, Any]], row: Any) -> dict[str, Any]:
    if row["id"] not in found:
        article = {k: row[k] for k in row.keys() if k != "body" and not k.startswith("t_")}
        found[row["id"]] = {"article": decode(article), "reasons": [], "days_overdue": None,
                            "reopened_tickets": []}
    return found[row["id"]]
