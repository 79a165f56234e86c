"""Accounts API: who am I, my API tokens, and user administration (admins)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from kb import users
from kb.clock import utc_now
from kb.errors import NotFound
from kb.permissions import ROLES
from kb.visibility import Viewer
from service.deps import RuntimeDep, ViewerDep
from service.schemas import PathId

router = APIRouter(prefix="/api/v1", tags=["accounts"])


class TokenBody(BaseModel):
    """A name for the new token (what it is for)."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field("api", min_length=1, max_length=100)


class UserBody(BaseModel):
    """A new account."""

    model_config = ConfigDict(extra="forbid")
    username: str = Field(..., min_length=2, max_length=64, pattern=r"^[a-z0-9][a-z0-9._-]{1,63}$")
    display_name: str = Field(..., min_length=1, max_length=200)
    role: str = Field(..., description=f"One of: {', '.join(ROLES)}.")
    password: str | None = Field(None, min_length=10, max_length=1000)
    organisation: str | None = Field(None, max_length=300)


def _admin(viewer: Viewer) -> None:
    if not viewer.can("users.admin"):
        raise NotFound("user administration is for admins")


@router.get("/me")
def me(viewer: ViewerDep, runtime: RuntimeDep) -> dict[str, Any]:
    """The signed-in user: role, teams, organisation and permissions."""
    user = runtime.database.read(lambda db: users.get_user(db, viewer.name))
    return {**user, "teams": list(viewer.teams), "permissions": sorted(viewer.permissions or ())}


@router.get("/me/tokens")
def my_tokens(viewer: ViewerDep, runtime: RuntimeDep) -> list[dict[str, Any]]:
    """Your API tokens (names and dates; the secrets are never shown again)."""
    return runtime.database.read(lambda db: users.list_tokens(db, viewer.name))


@router.post("/me/tokens", status_code=201)
def new_token(body: TokenBody, viewer: ViewerDep, runtime: RuntimeDep) -> dict[str, Any]:
    """A new API token for you; copy it now, it is stored only hashed."""
    token_id, token = runtime.database.write(lambda db: users.create_token(db, viewer.name, body.name, utc_now()))
    return {"id": token_id, "name": body.name, "token": token}


@router.delete("/me/tokens/{token_id}", status_code=204)
def revoke(token_id: PathId, viewer: ViewerDep, runtime: RuntimeDep) -> None:
    """Revoke one of your tokens (admins: anyone's)."""
    owner = None if viewer.can("users.admin") else viewer.name
    runtime.database.write(lambda db: users.revoke_token(db, token_id, owner, utc_now()))


@router.get("/users")
def list_users(viewer: ViewerDep, runtime: RuntimeDep) -> list[dict[str, Any]]:
    """Every account (admins)."""
    _admin(viewer)
    return runtime.database.read(users.list_users)


@router.post("/users", status_code=201)
def create_user(body: UserBody, viewer: ViewerDep, runtime: RuntimeDep) -> dict[str, Any]:
    """Create an account (admins)."""
    _admin(viewer)
    return runtime.database.write(lambda db: users.create_user(
        db, body.username, body.display_name, body.role, body.password, utc_now(), body.organisation))
