"""Keep chunks and the search indexes equal to the database.

1. `rechunk_pending` drains the outbox: for each changed ticket or article it
   rewrites the entity's chunk rows (new AUTOINCREMENT ids) in one transaction
   and advances `chunked_through`.
2. `missing_and_extra` compares the chunk ids an index holds with the
   database's; the index manager embeds the missing and drops the extra.
Both steps are idempotent, so a crash at any point is repaired by running them again.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

import sqlite_utils

from indexer.analysis import latin_share
from indexer.chunking import Chunk, article_chunks, ticket_chunks
from kb import outbox
from kb.articles import get_article, is_indexed
from kb.db import Database
from kb.errors import NotFound
from kb.ticket_changes import load_ticket
from kb.tickets import is_indexable

CHUNKED_THROUGH = "chunked_through"
CHUNKER_VERSION_KEY = "chunker_version"
# Bump when chunking or keyword analysis changes: stored chunks are then rewritten.
CHUNKER_VERSION = "4"
OUTBOX_BATCH = 500


def chunked_through(db: sqlite_utils.Database) -> int:
    """The last outbox row whose change is reflected in the chunks table."""
    return int(outbox.get_state(db, CHUNKED_THROUGH, "0"))


def chunk_state(db: sqlite_utils.Database) -> tuple[int, int]:
    """(last outbox row reflected in the chunks, newest chunk id): changes whenever any chunk is rewritten."""
    newest = db.execute("SELECT MAX(id) FROM chunks").fetchone()[0]
    return chunked_through(db), int(newest or 0)


def rechunk_pending(database: Database, batch: int = OUTBOX_BATCH) -> int:
    """Rewrite chunks for every entity changed since `chunked_through`; returns rows processed."""
    total = 0
    while True:
        done = database.write(lambda db: _rechunk_batch(db, batch))
        total += done
        if done < batch:
            return total


def chunker_outdated(database: Database) -> bool:
    """Whether the stored chunks were made by another chunker version (they must all be rewritten)."""
    return database.read(lambda db: outbox.get_state(db, CHUNKER_VERSION_KEY, "")) != CHUNKER_VERSION


def rechunk_all_if_outdated(database: Database, force: bool = False, batch: int = OUTBOX_BATCH) -> int:
    """Rewrite every entity's chunks when the chunker changed (or `force`); returns entities done."""
    if not force and not chunker_outdated(database):
        return 0
    entities = database.read(lambda db: [
        (kind, row[0]) for kind, table in (("ticket", "tickets"), ("article", "articles"))
        for row in db.execute(f"SELECT id FROM {table} ORDER BY id")
    ])
    for start in range(0, len(entities), batch):
        part = entities[start:start + batch]
        database.write(lambda db, part=part: [rewrite_chunks(db, kind, entity) for kind, entity in part])
    database.write(lambda db: outbox.set_state(db, CHUNKER_VERSION_KEY, CHUNKER_VERSION))
    return len(entities)


def _rechunk_batch(db: sqlite_utils.Database, batch: int) -> int:
    rows = outbox.rows_after(db, chunked_through(db), batch)
    for entity_type, entity_id in dict.fromkeys((r.entity_type, r.entity_id) for r in rows):
        rewrite_chunks(db, entity_type, entity_id)
    if rows:
        outbox.set_state(db, CHUNKED_THROUGH, str(rows[-1].id))
    return len(rows)


def rewrite_chunks(db: sqlite_utils.Database, entity_type: str, entity_id: int) -> None:
    """Replace an entity's chunks with fresh ones (none if it should not be searchable)."""
    db.execute("DELETE FROM chunks WHERE kind = ? AND entity_id = ?", [entity_type, entity_id])
    _insert_chunks(db, entity_type, entity_id, _chunks_for(db, entity_type, entity_id))


def _chunks_for(db: sqlite_utils.Database, entity_type: str, entity_id: int) -> list[Chunk]:
    try:
        if entity_type == "ticket":
            ticket = load_ticket(db, entity_id)
            return ticket_chunks(ticket) if is_indexable(ticket) else []
        article = get_article(db, entity_id)
        return article_chunks(article) if is_indexed(article) else []
    except NotFound:
        return []


def _insert_chunks(db: sqlite_utils.Database, kind: str, entity_id: int, chunks: Iterable[Chunk]) -> None:
    db.conn.executemany(
        "INSERT INTO chunks (kind, entity_id, position, heading_path, anchor, line_start, line_end,"
        " text, terms, latin_share) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (kind, entity_id, c.position, json.dumps(c.heading_path, ensure_ascii=False), c.anchor,
             c.line_start, c.line_end, c.text, " ".join(c.terms), round(latin_share(c.text), 3))
            for c in chunks
        ],
    )


def chunk_ids(db: sqlite_utils.Database, kind: str, latin_shares: tuple[float, float] = (0.0, 1.0)) -> set[int]:
    """Ids of the chunks of a kind in the database (only those whose share of Latin letters is in the
    closed range `latin_shares`, if asked)."""
    rows = db.execute("SELECT id FROM chunks WHERE kind = ? AND latin_share BETWEEN ? AND ?", [kind, *latin_shares])
    return {row[0] for row in rows}


def missing_and_extra(db_ids: set[int], index_ids: Iterable[int]) -> tuple[list[int], list[int]]:
    """Ids the index lacks, and ids it holds that the database no longer has."""
    held = set(index_ids)
    return sorted(db_ids - held), sorted(held - db_ids)


def chunk_texts(db: sqlite_utils.Database, ids: list[int]) -> list[tuple[int, int, str, str]]:
    """(id, entity id, text, terms) of the given chunks, in id order."""
    marks = ",".join("?" * len(ids))
    rows = db.execute(f"SELECT id, entity_id, text, terms FROM chunks WHERE id IN ({marks}) ORDER BY id", ids)
    return [(row[0], row[1], row[2], row[3]) for row in rows]
