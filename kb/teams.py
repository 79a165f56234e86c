"""Teams in tiers (L1, L2, R&D), their members' skills and hours, and routing rules (派单)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any

import sqlite_utils

from kb.calendar import BusinessCalendar
from kb.errors import InvalidInput, NotFound

TIERS = ("L1", "L2", "RND")
NEXT_TIER = {"L1": "L2", "L2": "RND"}


@dataclass(frozen=True)
class Proposal:
    """A proposed team and member, with the reason in words."""

    team: str | None
    assignee: str | None
    why: str


def save_team(db: sqlite_utils.Database, name: str, label: str, tier: str, escalates_to: str | None) -> None:
    """Create or change a team."""
    if tier not in TIERS:
        raise InvalidInput(f"tier {tier!r} is not one of {', '.join(TIERS)}")
    db.table("teams").upsert({"name": name, "label": label, "tier": tier, "escalates_to": escalates_to},
                             pk="name")


def save_member(db: sqlite_utils.Database, username: str, display_name: str, team: str,
                products: list[str], categories: list[str], work_start: str = "09:00",
                work_end: str = "18:30", available: bool = True) -> None:
    """Create or change a team member with skills and working hours."""
    get_team(db, team)
    db.table("members").upsert(
        {"username": username, "display_name": display_name, "team": team,
         "products": json.dumps(products), "categories": json.dumps(categories),
         "work_start": work_start, "work_end": work_end, "available": int(available)}, pk="username")


def add_rule(db: sqlite_utils.Database, team: str, product: str | None, category: str | None) -> None:
    """Route tickets of a product and/or category to a team."""
    get_team(db, team)
    db.table("assignment_rules").insert({"product": product, "category": category, "team": team})


def get_team(db: sqlite_utils.Database, name: str) -> dict[str, Any]:
    """One team; InvalidInput naming the known teams if it does not exist."""
    row = db.execute("SELECT * FROM teams WHERE name = ?", [name]).fetchone()
    if row is None:
        known = [r[0] for r in db.execute("SELECT name FROM teams ORDER BY name")]
        raise InvalidInput(f"team {name!r} does not exist; known teams: {', '.join(known) or 'none'}")
    return dict(row)


def list_teams(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    """Every team with its members."""
    teams = [dict(r) for r in db.execute("SELECT * FROM teams ORDER BY tier, name")]
    for team in teams:
        team["members"] = [_member(r) for r in db.execute(
            "SELECT * FROM members WHERE team = ? ORDER BY username", [team["name"]])]
    return teams


def get_member(db: sqlite_utils.Database, username: str) -> dict[str, Any]:
    """One member; NotFound if unknown."""
    row = db.execute("SELECT * FROM members WHERE username = ?", [username]).fetchone()
    if row is None:
        raise NotFound(f"no team member is called {username!r}")
    return _member(row)


def _member(row: Any) -> dict[str, Any]:
    member = dict(row)
    member["products"] = json.loads(member["products"])
    member["categories"] = json.loads(member["categories"])
    member["available"] = bool(member["available"])
    return member


def team_for(db: sqlite_utils.Database, product: str | None, category: str | None,
             tier: str | None = None) -> str | None:
    """The team of the most specific matching rule (product+category, product, category, catch-all)."""
    rows = db.execute(
        "SELECT r.team, r.product, r.category FROM assignment_rules r JOIN teams t ON t.name = r.team"
        " WHERE (r.product IS NULL OR r.product = ?) AND (r.category IS NULL OR r.category = ?)"
        " AND (? IS NULL OR t.tier = ?) ORDER BY r.id", [product, category, tier, tier]).fetchall()
    ranked = sorted(rows, key=lambda r: -((r["product"] is not None) * 2 + (r["category"] is not None)))
    return ranked[0]["team"] if ranked else None


def propose(db: sqlite_utils.Database, ticket: dict[str, Any], now: datetime, calendar: BusinessCalendar,
            team: str | None = None) -> Proposal:
    """Team by rule, then the least-loaded available member with the skill who is at work now."""
    team = team or ticket.get("team") or team_for(db, ticket.get("product"), ticket.get("category"),
                                                  tier=ticket.get("tier") or "L1")
    if team is None:
        return Proposal(None, None, "no routing rule matches this product and category")
    available = [m for m in _members_of(db, team) if m["available"]]
    skilled = [m for m in available if _skilled(m, ticket)]
    candidates = skilled or available
    at_work = [m for m in candidates if _at_work(m, now, calendar)] or candidates
    if not at_work:
        return Proposal(team, None, f"no member of {team} is available")
    loads = _open_loads(db, [m["username"] for m in at_work])
    best = min(at_work, key=lambda m: (loads.get(m["username"], 0), m["username"]))
    kind = "skilled member" if skilled else "member (nobody lists this skill)"
    return Proposal(team, best["username"],
                    f"{team}: least loaded {kind} ({loads.get(best['username'], 0)} open tickets)")


def _members_of(db: sqlite_utils.Database, team: str) -> list[dict[str, Any]]:
    return [_member(r) for r in db.execute("SELECT * FROM members WHERE team = ?", [team])]


def _skilled(member: dict[str, Any], ticket: dict[str, Any]) -> bool:
    """No listed skill means a generalist; otherwise the product or category must be listed."""
    products, categories = member["products"], member["categories"]
    if not (products or categories) or not (ticket.get("product") or ticket.get("category")):
        return True
    return ticket.get("product") in products or ticket.get("category") in categories


def _at_work(member: dict[str, Any], now: datetime, calendar: BusinessCalendar) -> bool:
    """On a working day of the desk's calendar (holidays and 调休 included), within the member's hours."""
    local = now.astimezone(calendar.zone)
    start, end = time.fromisoformat(member["work_start"]), time.fromisoformat(member["work_end"])
    return calendar.is_working_day(local.date()) and start <= local.time() < end


def _open_loads(db: sqlite_utils.Database, usernames: list[str]) -> dict[str, int]:
    marks = ",".join("?" * len(usernames))
    rows = db.execute(
        f"SELECT assignee, COUNT(*) FROM tickets WHERE assignee IN ({marks})"
        " AND status IN ('assigned', 'in_progress', 'waiting', 'escalated', 'reopened') GROUP BY assignee",
        usernames).fetchall()
    return {r[0]: r[1] for r in rows}


def load_desk(db: sqlite_utils.Database, config: dict[str, Any]) -> None:
    """Teams, members and routing rules from a desk configuration (demo data or an admin's file)."""
    for team in config.get("teams", []):
        save_team(db, team["name"], team["label"], team["tier"], team.get("escalates_to"))
    for member in config.get("members", []):
        save_member(db, **member)
    if config.get("rules"):
        db.execute("DELETE FROM assignment_rules")
        for rule in config["rules"]:
            add_rule(db, rule["team"], rule.get("product"), rule.get("category"))
