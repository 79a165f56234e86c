"""Tickets: validation, numbering, storage and import of resolved tickets."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from kb.clock import now_iso, parse_iso
from kb.ticket_changes import decode, insert_ticket
from kb.visibility import Viewer

PRIORITIES = ("urgent", "high", "normal", "low")
LEVELS = ("high", "medium", "low")
CHANNELS = ("web", "email", "phone", "chat", "api")
# Tickets in these states hold a solution and feed the suggestion index.
INDEXABLE_STATUSES = ("resolved", "closed")
IMPORTABLE_STATUSES = INDEXABLE_STATUSES

MAX_TITLE_CHARS = 300
MAX_TEXT_CHARS = 20_000

TEXT_FIELDS = (
    "description", "product", "module", "version", "category", "problem_type",
    "requester", "contact", "organisation", "asset_model", "asset_serial", "team",
    "assignee", "language", "resolution", "root_cause",
)
# Accepted names in import files that map onto ticket columns.
FIELD_ALIASES = {"customer": "requester"}
IMPORT_FIELDS = {
    "id", "number", "title", "priority", "impact", "urgency", "status", "channel",
    "error_codes", "escalated", "onsite_visit", "satisfaction", "created_at", "resolved_at",
    "closed_at", *TEXT_FIELDS, *FIELD_ALIASES,
}


@dataclass(frozen=True)
class ImportReport:
    """What an import wrote."""

    created: int
    skipped_existing: int


def ticket_number(prefix: str, day: str, sequence: int) -> str:
    """A number people can read: PREFIX-YYYYMMDD-NNNN."""
    return f"{prefix}-{day}-{sequence:04d}"


def next_number(db: sqlite_utils.Database, prefix: str, created_at: str) -> str:
    """Allocate the next per-day number; sequences only grow, so numbers are never reused."""
    day = parse_iso(created_at).strftime("%Y%m%d")
    row = db.execute(
        "INSERT INTO ticket_sequences (day, last_value) VALUES (?, 1)"
        " ON CONFLICT(day) DO UPDATE SET last_value = last_value + 1 RETURNING last_value",
        [day],
    ).fetchone()
    return ticket_number(prefix, day, row[0])


def validate_import_record(record: Mapping[str, Any], where: str) -> list[str]:
    """Problems with one imported resolved ticket (empty list when it is fine)."""
    problems: list[str] = []
    if not isinstance(record, Mapping):
        return [f"{where}: expected an object with ticket fields, got {type(record).__name__}"]
    unknown = sorted(set(record) - IMPORT_FIELDS)
    if unknown:
        problems.append(f"{where}: unknown field(s) {', '.join(unknown)}")
    problems += _check_text(record, "title", where, required=True, limit=MAX_TITLE_CHARS)
    problems += _check_text(record, "resolution", where, required=True, limit=MAX_TEXT_CHARS)
    for field in TEXT_FIELDS:
        if field != "resolution":
            problems += _check_text(record, field, where, required=False, limit=MAX_TEXT_CHARS)
    problems += _check_choice(record, "priority", PRIORITIES, where)
    problems += _check_choice(record, "impact", LEVELS, where)
    problems += _check_choice(record, "urgency", LEVELS, where)
    problems += _check_choice(record, "channel", CHANNELS, where)
    problems += _check_choice(record, "status", IMPORTABLE_STATUSES, where)
    problems += _check_times(record, where)
    codes = record.get("error_codes")
    if codes is not None and not (
        isinstance(codes, list) and all(isinstance(c, str) for c in codes)
    ):
        problems.append(f"{where}: error_codes must be a list of strings")
    satisfaction = record.get("satisfaction")
    if satisfaction not in (None, "") and not (
        isinstance(satisfaction, int) and 1 <= satisfaction <= 5
    ):
        problems.append(f"{where}: satisfaction must be an integer 1-5 or empty")
    return problems


def _check_text(
    record: Mapping[str, Any], field: str, where: str, required: bool, limit: int
) -> list[str]:
    value = record.get(field)
    if value is None or (value == "" and not required):
        return [f"{where}: '{field}' is required"] if required else []
    if not isinstance(value, str):
        return [f"{where}: '{field}' must be text"]
    if required and not value.strip():
        return [f"{where}: '{field}' is empty"]
    if len(value) > limit:
        return [f"{where}: '{field}' is {len(value)} characters; the limit is {limit}"]
    return []


def _check_choice(
    record: Mapping[str, Any], field: str, allowed: Iterable[str], where: str
) -> list[str]:
    value = record.get(field)
    if value in (None, "") or value in allowed:
        return []
    return [f"{where}: '{field}' is {value!r}; allowed: {', '.join(allowed)}"]


def _check_times(record: Mapping[str, Any], where: str) -> list[str]:
    problems = []
    for field in ("created_at", "resolved_at", "closed_at"):
        value = record.get(field)
        if value in (None, ""):
            continue
        try:
            parse_iso(str(value))
        except ValueError:
            problems.append(f"{where}: '{field}' is not an ISO 8601 time: {value!r}")
    return problems


def external_ref(record: Mapping[str, Any]) -> str:
    """A stable identity for an imported record, so re-importing a file adds nothing twice."""
    given = record.get("id") or record.get("number")
    if given:
        return f"import:{given}"
    digest = hashlib.sha256(
        json.dumps([record.get("title"), record.get("description"), record.get("created_at")],
                   ensure_ascii=False).encode()
    ).hexdigest()[:24]
    return f"import:sha256:{digest}"


def _row_from_record(record: Mapping[str, Any], now: str) -> dict[str, Any]:
    data = {FIELD_ALIASES.get(k, k): v for k, v in record.items()}
    created_at = data.get("created_at") or now
    status = data.get("status") or "closed"
    resolved_at = data.get("resolved_at") or created_at
    row = {field: (data.get(field) or None) for field in TEXT_FIELDS}
    row.update(
        title=data["title"].strip(),
        description=(data.get("description") or "").strip(),
        priority=data.get("priority") or "normal",
        impact=data.get("impact") or None,
        urgency=data.get("urgency") or None,
        status=status,
        channel=data.get("channel") or None,
        error_codes=json.dumps(data.get("error_codes") or [], ensure_ascii=False),
        escalated=int(bool(data.get("escalated"))),
        onsite_visit=int(bool(data.get("onsite_visit"))),
        satisfaction=data.get("satisfaction") or None,
        created_at=created_at,
        updated_at=resolved_at,
        resolved_at=resolved_at,
        closed_at=data.get("closed_at") or (resolved_at if status == "closed" else None),
        external_ref=external_ref(record),
    )
    return row


def import_resolved_tickets(
    db: sqlite_utils.Database,
    records: list[Mapping[str, Any]],
    actor: str,
    number_prefix: str,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Insert resolved tickets, each with its audit event and outbox row.

    Call inside one write transaction after validating every record, so a bad
    file writes nothing. Records already imported (same external ref) are skipped.
    """
    now = now_iso()
    created = skipped = 0
    for record in records:
        row = _row_from_record(record, now)
        if db.execute(
            "SELECT 1 FROM tickets WHERE external_ref = ?", [row["external_ref"]]
        ).fetchone():
            skipped += 1
        else:
            _insert_imported(db, row, actor, number_prefix, record.get("number"), now)
            created += 1
        if progress:
            progress(1)
    return ImportReport(created=created, skipped_existing=skipped)


def _insert_imported(
    db: sqlite_utils.Database, row: dict[str, Any], actor: str, prefix: str, number: Any, now: str
) -> None:
    row["number"] = str(number) if number else next_number(db, prefix, row["created_at"])
    row["error_codes"] = json.loads(row["error_codes"])
    insert_ticket(db, row, Viewer(name=actor, role="system"), now, action="imported")


# What a suggested case shows and the triage vote reads: not the working fields, intake details or history.
CASE_COLUMNS = ("id, number, title, description, product, module, version, category, problem_type, priority, "
                "status, team, language, error_codes, asset_model, resolution, root_cause, resolved_at, closed_at")


def indexable_tickets_by_id(
    db: sqlite_utils.Database, ticket_ids: Iterable[int]
) -> dict[int, dict[str, Any]]:
    """The given tickets that are currently resolved or closed, keyed by id (the CASE_COLUMNS of each)."""
    ids = list(dict.fromkeys(ticket_ids))
    if not ids:
        return {}
    marks = ",".join("?" * len(ids))
    statuses = ",".join("?" * len(INDEXABLE_STATUSES))
    rows = db.execute(
        f"SELECT {CASE_COLUMNS} FROM tickets WHERE id IN ({marks}) AND status IN ({statuses})",
        [*ids, *INDEXABLE_STATUSES],
    ).fetchall()
    return {row["id"]: decode(dict(row)) for row in rows}


def is_indexable(ticket: Mapping[str, Any]) -> bool:
    """Whether a ticket's solution belongs in the suggestion index."""
    return ticket["status"] in INDEXABLE_STATUSES
