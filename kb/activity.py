"""What happens on a ticket besides state changes: comments, on-site visits, surveys, follow-up calls."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import sqlite_utils

from kb import sla
from kb.desk import iso
from kb.errors import Conflict, Forbidden, InvalidInput, NotFound
from kb.ticket_access import visible_ticket
from kb.ticket_changes import change_ticket
from kb.visibility import Viewer

VISIBILITIES = ("public", "internal")
MAX_COMMENT_CHARS = 20_000


def add_comment(db: sqlite_utils.Database, ticket_id: int, body: str, visibility: str, actor: Viewer,
                now: datetime) -> dict[str, Any]:
    """Add a public or internal comment; a staff member's first public comment is the first response."""
    ticket = visible_ticket(db, ticket_id, actor)
    if visibility not in VISIBILITIES:
        raise InvalidInput(f"visibility {visibility!r} is not one of: public, internal")
    if visibility == "internal" and not actor.can("comments.internal"):
        raise Forbidden("only support staff can write internal comments; use visibility 'public'")
    if not body.strip():
        raise InvalidInput("the comment is empty; write something")
    comment = {"ticket_id": ticket_id, "author": actor.name, "visibility": visibility, "body": body.strip(),
               "created_at": iso(now)}
    table = db.table("comments")
    table.insert(comment)
    comment["id"] = table.last_pk
    responded = sla.first_response_values(ticket, now) if actor.is_staff and visibility == "public" else {}
    change_ticket(db, ticket, responded, "commented", actor, iso(now),
                  {"comment_id": comment["id"], "visibility": visibility})
    return comment


def comments_for(db: sqlite_utils.Database, ticket_id: int, viewer: Viewer) -> list[dict[str, Any]]:
    """A ticket's comments the viewer may read (internal ones only for staff)."""
    visible_ticket(db, ticket_id, viewer)
    where = "" if viewer.is_staff else " AND visibility = 'public'"
    return [dict(r) for r in db.execute(
        f"SELECT * FROM comments WHERE ticket_id = ?{where} ORDER BY id", [ticket_id])]


def schedule_visit(db: sqlite_utils.Database, ticket_id: int, visit: dict[str, Any], actor: Viewer,
                   now: datetime) -> dict[str, Any]:
    """Plan an on-site visit (上门服务): time, place, engineer, tools and spare parts."""
    ticket = _staff_ticket(db, ticket_id, actor, "schedule on-site visits")
    if ticket["status"] in ("closed", "cancelled", "merged"):
        raise Conflict(f"ticket {ticket['number']} is {ticket['status']}; visits are for tickets still being worked")
    row = {"ticket_id": ticket_id, "scheduled_at": visit["scheduled_at"], "place": visit["place"],
           "engineer": visit["engineer"], "tools": json.dumps(visit.get("tools") or [], ensure_ascii=False),
           "spare_parts": json.dumps(visit.get("spare_parts") or [], ensure_ascii=False),
           "created_at": iso(now), "updated_at": iso(now)}
    table = db.table("visits")
    table.insert(row)
    visit_id = table.last_pk
    change_ticket(db, ticket, {"onsite_visit": 1}, "visit_scheduled", actor, iso(now),
                  {"visit_id": visit_id, "scheduled_at": row["scheduled_at"], "place": row["place"],
                   "engineer": row["engineer"]})
    return get_visit(db, ticket_id, visit_id)


def record_visit(db: sqlite_utils.Database, ticket_id: int, visit_id: int, outcome: dict[str, Any],
                 actor: Viewer, now: datetime) -> dict[str, Any]:
    """Record a visit's outcome, service record (设备服务记录单) and the customer's sign-off."""
    ticket = _staff_ticket(db, ticket_id, actor, "record on-site visits")
    before = get_visit(db, ticket_id, visit_id)
    values = {k: v for k, v in outcome.items() if v is not None}
    if values.get("signed_by") and not values.get("signed_at"):
        values["signed_at"] = iso(now)
    db.table("visits").update(visit_id, {**values, "updated_at": iso(now)})
    change_ticket(db, ticket, {}, "visit_recorded", actor, iso(now),
                  {"visit_id": visit_id, "changes": {k: [before.get(k), v] for k, v in values.items()}})
    return get_visit(db, ticket_id, visit_id)


def get_visit(db: sqlite_utils.Database, ticket_id: int, visit_id: int) -> dict[str, Any]:
    """One visit of a ticket; NotFound otherwise."""
    row = db.execute("SELECT * FROM visits WHERE id = ? AND ticket_id = ?", [visit_id, ticket_id]).fetchone()
    if row is None:
        raise NotFound(f"ticket {ticket_id} has no visit {visit_id}")
    return _decode_visit(dict(row))


def visits_for(db: sqlite_utils.Database, ticket_id: int, viewer: Viewer) -> list[dict[str, Any]]:
    """A ticket's visits, oldest first."""
    visible_ticket(db, ticket_id, viewer)
    return [_decode_visit(dict(r)) for r in db.execute(
        "SELECT * FROM visits WHERE ticket_id = ? ORDER BY id", [ticket_id])]


def _decode_visit(row: dict[str, Any]) -> dict[str, Any]:
    row["tools"], row["spare_parts"] = json.loads(row["tools"]), json.loads(row["spare_parts"])
    return row


def record_survey(db: sqlite_utils.Database, ticket_id: int, score: int, comment: str | None, actor: Viewer,
                  now: datetime) -> dict[str, Any]:
    """The customer's satisfaction (1–5 and a comment) on a closed ticket; once per ticket."""
    ticket = visible_ticket(db, ticket_id, actor)
    if ticket["status"] != "closed":
        raise Conflict(f"ticket {ticket['number']} is {ticket['status']}; the survey comes after it is closed")
    if db.execute("SELECT 1 FROM surveys WHERE ticket_id = ?", [ticket_id]).fetchone():
        raise Conflict(f"ticket {ticket['number']} already has its satisfaction survey")
    if not 1 <= score <= 5:
        raise InvalidInput(f"score is {score}; give 1 (very unhappy) to 5 (very happy)")
    survey = {"ticket_id": ticket_id, "score": score, "comment": comment, "created_at": iso(now)}
    db.table("surveys").insert(survey)
    change_ticket(db, ticket, {"satisfaction": score}, "surveyed", actor, iso(now), {"comment": comment})
    return survey


def schedule_followup(db: sqlite_utils.Database, ticket_id: int, due_at: str, assignee: str | None,
                      actor: Viewer, now: datetime) -> dict[str, Any]:
    """Plan a follow-up call (客服回访)."""
    ticket = _staff_ticket(db, ticket_id, actor, "schedule follow-up calls")
    row = {"ticket_id": ticket_id, "due_at": due_at, "assignee": assignee or actor.name, "created_at": iso(now)}
    table = db.table("followups")
    table.insert(row)
    row["id"] = table.last_pk
    change_ticket(db, ticket, {}, "followup_scheduled", actor, iso(now), {"followup_id": row["id"], "due_at": due_at})
    return row


def complete_followup(db: sqlite_utils.Database, ticket_id: int, followup_id: int, notes: str, actor: Viewer,
                      now: datetime) -> dict[str, Any]:
    """Record that a follow-up call was made, with notes."""
    ticket = _staff_ticket(db, ticket_id, actor, "record follow-up calls")
    row = db.execute("SELECT * FROM followups WHERE id = ? AND ticket_id = ?", [followup_id, ticket_id]).fetchone()
    if row is None:
        raise NotFound(f"ticket {ticket_id} has no follow-up {followup_id}")
    if row["done_at"]:
        raise Conflict(f"follow-up {followup_id} was already recorded at {row['done_at']}")
    db.table("followups").update(followup_id, {"done_at": iso(now), "notes": notes})
    change_ticket(db, ticket, {}, "followup_done", actor, iso(now), {"followup_id": followup_id})
    return dict(db.execute("SELECT * FROM followups WHERE id = ?", [followup_id]).fetchone())


def followups_for(db: sqlite_utils.Database, ticket_id: int, viewer: Viewer) -> list[dict[str, Any]]:
    """A ticket's follow-up calls."""
    _staff_ticket(db, ticket_id, viewer, "see follow-up calls")
    return [dict(r) for r in db.execute("SELECT * FROM followups WHERE ticket_id = ? ORDER BY id", [ticket_id])]


def _staff_ticket(db: sqlite_utils.Database, ticket_id: int, actor: Viewer, what: str) -> dict[str, Any]:
    ticket = visible_ticket(db, ticket_id, actor)
    if not actor.can("tickets.work"):
        raise Forbidden(f"only support staff may {what}")
    return ticket


def link_solving_article(db: sqlite_utils.Database, ticket_id: int, article_id: int, actor: Viewer,
                         now: datetime) -> dict[str, Any]:
    """'This solved it' on a ticket: link the article as solved-by and count a signal for its ranking."""
    from kb.effectiveness import record_signal

    ticket = _staff_ticket(db, ticket_id, actor, "link articles to")
    signal = record_signal(db, article_id, "solved_it", actor, now, ticket_id=ticket_id)
    db.table("ticket_articles").insert({"ticket_id": ticket_id, "article_id": article_id, "relation": "solved_by",
                                        "created_at": iso(now)}, replace=True)
    change_ticket(db, ticket, {}, "article_linked", actor, iso(now), {"article_id": article_id})
    return signal


MAX_ATTACHMENT_NAME = 200


def add_attachment(db: sqlite_utils.Database, ticket_id: int, name: str, content_type: str, size: int, sha256: str,
                   stored_as: str, actor: Viewer, now: datetime) -> dict[str, Any]:
    """Record a file already written to disk (metadata only here); the audit event names it."""
    ticket = visible_ticket(db, ticket_id, actor)
    clean = (name or "").replace("/", "_").replace("\\", "_").strip()[:MAX_ATTACHMENT_NAME] or "attachment"
    row = {"ticket_id": ticket_id, "name": clean, "size": size, "content_type": content_type or
           "application/octet-stream", "sha256": sha256, "stored_as": stored_as, "created_by": actor.name,
           "created_at": iso(now)}
    table = db.table("attachments")
    table.insert(row)
    row["id"] = table.last_pk
    change_ticket(db, ticket, {}, "attachment_added", actor, iso(now),
                  {"attachment_id": row["id"], "name": clean, "size": size})
    return _public_attachment(row)


def attachments_for(db: sqlite_utils.Database, ticket_id: int, viewer: Viewer) -> list[dict[str, Any]]:
    """A ticket's attachments (metadata)."""
    visible_ticket(db, ticket_id, viewer)
    return [_public_attachment(dict(r)) for r in db.execute(
        "SELECT * FROM attachments WHERE ticket_id = ? ORDER BY id", [ticket_id])]


def get_attachment(db: sqlite_utils.Database, ticket_id: int, attachment_id: int, viewer: Viewer) -> dict[str, Any]:
    """One attachment with where it is stored; NotFound unless the viewer sees the ticket."""
    visible_ticket(db, ticket_id, viewer)
    row = db.execute("SELECT * FROM attachments WHERE id = ? AND ticket_id = ?", [attachment_id, ticket_id]).fetchone()
    if row is None:
        raise NotFound(f"ticket {ticket_id} has no attachment {attachment_id}")
    return dict(row)


def _public_attachment(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k != "stored_as"}
