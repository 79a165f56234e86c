"""Desk configuration API: teams and members, routing rules, SLA policies, transitions, SLA check."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from kb import sla, teams
from kb.errors import NotFound
from kb.lifecycle_defaults import WAITING_REASONS
from kb.sla_watch import check_sla
from kb.visibility import Viewer
from service.deps import RuntimeDep, ViewerDep

router = APIRouter(prefix="/api/v1", tags=["desk"])
HHMM = r"^([01]\d|2[0-3]):[0-5]\d$"


class TeamBody(BaseModel):
    """A team in a tier."""

    model_config = ConfigDict(extra="forbid")
    label: str = Field(..., min_length=1, max_length=200)
    tier: Literal["L1", "L2", "RND"]
    escalates_to: str | None = Field(None, max_length=100)


class MemberBody(BaseModel):
    """A team member's skills and working hours."""

    model_config = ConfigDict(extra="forbid")
    display_name: str = Field(..., min_length=1, max_length=200)
    team: str = Field(..., min_length=1, max_length=100)
    products: list[str] = Field(default_factory=list, max_length=50)
    categories: list[str] = Field(default_factory=list, max_length=50)
    work_start: str = Field("09:00", pattern=HHMM)
    work_end: str = Field("18:30", pattern=HHMM)
    available: bool = True


class RuleBody(BaseModel):
    """Route a product and/or category to a team (both empty: catch-all)."""

    model_config = ConfigDict(extra="forbid")
    team: str = Field(..., min_length=1, max_length=100)
    product: str | None = Field(None, max_length=200)
    category: str | None = Field(None, max_length=200)


class PolicyBody(BaseModel):
    """SLA targets of a priority, in business minutes."""

    model_config = ConfigDict(extra="forbid")
    response_minutes: float = Field(..., gt=0, le=100_000)
    resolution_minutes: float = Field(..., gt=0, le=1_000_000)


def _staff(viewer: Viewer) -> None:
    if not viewer.is_staff:
        raise NotFound("team lists are for support staff")


def _manager(viewer: Viewer) -> None:
    if not viewer.can("desk.admin"):
        raise NotFound("desk settings are for managers and admins")


@router.get("/teams")
def list_teams(runtime: RuntimeDep, viewer: ViewerDep) -> list[dict[str, Any]]:
    """Teams by tier, with members, skills and hours (staff only)."""
    _staff(viewer)
    return runtime.database.read(teams.list_teams)


@router.put("/teams/{name}")
def put_team(name: str, body: TeamBody, runtime: RuntimeDep, viewer: ViewerDep) -> dict[str, Any]:
    """Create or change a team."""
    _manager(viewer)
    upward = (body.escalates_to or "").strip() or None

    def write(db: Any) -> None:
        if upward and upward != name:
            teams.get_team(db, upward)
        teams.save_team(db, name, body.label, body.tier, upward)
    runtime.database.write(write)
    return runtime.database.read(lambda db: teams.get_team(db, name))


@router.put("/members/{username}")
def put_member(username: str, body: MemberBody, runtime: RuntimeDep, viewer: ViewerDep) -> dict[str, Any]:
    """Create or change a team member."""
    _manager(viewer)
    runtime.database.write(lambda db: teams.save_member(db, username, **body.model_dump()))
    return runtime.database.read(lambda db: teams.get_member(db, username))


@router.post("/assignment-rules", status_code=201)
def add_rule(body: RuleBody, runtime: RuntimeDep, viewer: ViewerDep) -> dict[str, Any]:
    """Add a routing rule; the most specific matching rule wins."""
    _manager(viewer)
    runtime.database.write(lambda db: teams.add_rule(db, body.team, body.product, body.category))
    return body.model_dump()


@router.get("/sla/policies")
def policies(runtime: RuntimeDep, viewer: ViewerDep) -> list[dict[str, Any]]:
    """Response and resolution targets per priority (business minutes), with the calendar's time zone and hours."""
    calendar = runtime.rules.calendar
    return [{**asdict(p), "timezone": calendar.timezone, "hours": f"{calendar.opens:%H:%M}-{calendar.closes:%H:%M}"}
            for p in runtime.database.read(sla.all_policies)]


@router.put("/sla/policies/{priority}")
def put_policy(priority: Literal["urgent", "high", "normal", "low"], body: PolicyBody, runtime: RuntimeDep,
               viewer: ViewerDep) -> dict[str, Any]:
    """Change the targets of a priority (applies to tickets registered from now on)."""
    _manager(viewer)
    policy = sla.SlaPolicy(priority, body.response_minutes, body.resolution_minutes)
    runtime.database.write(lambda db: sla.set_policy(db, policy))
    return asdict(policy)


@router.post("/sla/check")
def run_sla_check(runtime: RuntimeDep, viewer: ViewerDep) -> dict[str, Any]:
    """Check every open ticket now (the scheduler also does this every CASEWISE_SLA_CHECK_INTERVAL_SECONDS)."""
    _manager(viewer)
    report = runtime.database.write(lambda db: check_sla(db, runtime.rules, datetime.now(UTC)))
    return asdict(report)


@router.get("/transitions")
def transitions(runtime: RuntimeDep, viewer: ViewerDep) -> dict[str, Any]:
    """The allowed moves (from, to, roles, required details) and the waiting reasons."""
    rows = runtime.database.read(lambda db: [dict(r) for r in db.execute(
        "SELECT * FROM transitions ORDER BY from_status, to_status")])
    return {"transitions": rows, "waiting_reasons": WAITING_REASONS}
