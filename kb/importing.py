"""Importing files: validate everything first, then write in one transaction (all or nothing)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from kb.articles import read_article_folder, save_article
from kb.db import Database
from kb.teams import load_desk
from kb.ticket_files import read_ticket_file
from kb.tickets import ImportReport, import_resolved_tickets
from kb.users import create_user

DEMO_DIR = Path(__file__).resolve().parent / "demo_data"


def import_ticket_file(
    database: Database, path: Path, actor: str, number_prefix: str,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import resolved tickets from a .jsonl or .csv file."""
    records = read_ticket_file(path)
    return database.write(
        lambda db: import_resolved_tickets(db, records, actor, number_prefix, progress)
    )


def import_article_folder(database: Database, folder: Path, actor: str) -> Counter[str]:
    """Import every markdown article in a folder; returns counts of created/updated/unchanged."""
    drafts = read_article_folder(folder)
    return database.write(lambda db: Counter(save_article(db, d, actor) for d in drafts))


DEMO_PASSWORD = "casewise-demo"


def load_demo_desk(database: Database) -> None:
    """The demo desk: L1/L2/R&D teams, members with skills and the routing rules."""
    database.write(lambda db: load_desk(db, demo_desk_config()))


def demo_desk_config() -> dict[str, Any]:
    """Teams, members, rules and demo users of the demo desk."""
    return json.loads((DEMO_DIR / "desk.json").read_text(encoding="utf-8"))


def create_demo_users(database: Database, now: datetime) -> list[dict[str, Any]]:
    """One demo account per role (password DEMO_PASSWORD); existing accounts are left alone."""
    def write(db: sqlite_utils.Database) -> list[dict[str, Any]]:
        created = []
        for user in demo_desk_config()["users"]:
            if not db.execute("SELECT 1 FROM users WHERE username = ?", [user["username"]]).fetchone():
                created.append(create_user(db, user["username"], user["display_name"], user["role"],
                                           DEMO_PASSWORD, now, user.get("organisation")))
        return created
    return database.write(write)


def demo_ticket_files() -> list[Path]:
    """The demo support history shipped with Casewise."""
    return sorted((DEMO_DIR / "tickets").glob("*.jsonl"))


def demo_article_folder() -> Path:
    """The demo knowledge base shipped with Casewise."""
    return DEMO_DIR / "articles"
