"""People who sign in: users with roles, argon2 password hashes, lockout with backoff, API tokens, sessions.

Tokens and session ids are random 256-bit secrets shown once; only their SHA-256 is
stored (a fast hash is right for high-entropy secrets; passwords get argon2id).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlite_utils
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from kb.clock import parse_iso
from kb.desk import iso
from kb.errors import Conflict, InvalidInput, NotFound
from kb.permissions import ROLES
from kb.visibility import Viewer

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
MIN_PASSWORD_CHARS = 10
TOKEN_PREFIX = "cw_"
_HASHER = PasswordHasher()


@dataclass(frozen=True)
class Lockout:
    """Failed sign-ins before a lockout, and the first lockout's length (doubling after each failure)."""

    max_failures: int = 5
    first_lock_seconds: int = 60
    max_lock_seconds: int = 3600


class SignInRefused(Exception):
    """Wrong name or password, or locked; the message never says which name exists."""

    def __init__(self, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class SignIn:
    """The outcome of a sign-in attempt: the person, or why not (returned, not raised, so that the
    failure count is committed with the attempt)."""

    viewer: Viewer | None
    refused: SignInRefused | None = None


def create_user(db: sqlite_utils.Database, username: str, display_name: str, role: str, password: str | None,
                now: datetime, organisation: str | None = None) -> dict[str, Any]:
    """Add a user; a password is needed to sign in on the web (API tokens work without one)."""
    problems = _user_problems(username, display_name, role, password)
    if problems:
        raise InvalidInput("the user cannot be created", problems)
    if db.execute("SELECT 1 FROM users WHERE username = ?", [username]).fetchone():
        raise Conflict(f"user {username!r} already exists")
    db.table("users").insert({
        "username": username, "display_name": display_name.strip(), "role": role, "organisation": organisation,
        "password_hash": _HASHER.hash(password) if password else None, "created_at": iso(now)})
    return get_user(db, username)


def _user_problems(username: str, display_name: str, role: str, password: str | None) -> list[str]:
    problems = []
    if not USERNAME.match(username):
        problems.append("username: 2–64 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit")
    if not display_name.strip():
        problems.append("display name is empty")
    if role not in ROLES:
        problems.append(f"role {role!r} is not one of: {', '.join(ROLES)}")
    if password is not None and len(password) < MIN_PASSWORD_CHARS:
        problems.append(f"password has {len(password)} characters; use at least {MIN_PASSWORD_CHARS}")
    return problems


def get_user(db: sqlite_utils.Database, username: str) -> dict[str, Any]:
    """A user without secrets; NotFound if unknown."""
    row = db.execute("SELECT * FROM users WHERE username = ?", [username]).fetchone()
    if row is None:
        raise NotFound(f"no user is called {username!r}")
    return {k: v for k, v in dict(row).items() if k != "password_hash"}


def list_users(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    """Every user without secrets."""
    return [{k: v for k, v in dict(r).items() if k != "password_hash"}
            for r in db.execute("SELECT * FROM users ORDER BY username")]


def viewer_for(db: sqlite_utils.Database, username: str) -> Viewer:
    """The Viewer of an active user: role, teams (from team membership) and permissions (from the table)."""
    user = db.execute("SELECT * FROM users WHERE username = ? AND active = 1", [username]).fetchone()
    if user is None:
        raise NotFound(f"no active user is called {username!r}")
    teams = tuple(r[0] for r in db.execute("SELECT team FROM members WHERE username = ?", [username]))
    permissions = frozenset(r[0] for r in db.execute(
        "SELECT permission FROM role_permissions WHERE role = ?", [user["role"]]))
    return Viewer(name=username, role=user["role"], teams=teams, organisation=user["organisation"],
                  permissions=permissions)


def attempt_sign_in(db: sqlite_utils.Database, username: str, password: str, now: datetime,
                    lockout: Lockout) -> SignIn:
    """Sign-in check with lockout: after `max_failures` wrong passwords the account waits, doubling each time.

    Returns the outcome instead of raising, so the caller's transaction keeps the failure count.
    """
    row = db.execute("SELECT * FROM users WHERE username = ? AND active = 1", [username]).fetchone()
    if row is None or not row["password_hash"]:
        _HASHER.hash(password)  # same work whether or not the name exists
        return SignIn(None, SignInRefused("wrong user name or password"))
    if row["locked_until"] and parse_iso(row["locked_until"]) > now:
        wait = int((parse_iso(row["locked_until"]) - now).total_seconds()) + 1
        return SignIn(None, SignInRefused(f"too many failed sign-ins; try again in {wait} s", retry_after=wait))
    if not _matches(row["password_hash"], password):
        _record_failure(db, row, now, lockout)
        return SignIn(None, SignInRefused("wrong user name or password"))
    db.execute("UPDATE users SET failed_logins = 0, locked_until = NULL WHERE username = ?", [username])
    return SignIn(viewer_for(db, username))


def _matches(password_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _record_failure(db: sqlite_utils.Database, row: Any, now: datetime, lockout: Lockout) -> None:
    failures = row["failed_logins"] + 1
    locked_until = None
    if failures >= lockout.max_failures:
        seconds = min(lockout.first_lock_seconds * 2 ** (failures - lockout.max_failures), lockout.max_lock_seconds)
        locked_until = iso(now + timedelta(seconds=seconds))
    db.execute("UPDATE users SET failed_logins = ?, locked_until = ? WHERE username = ?",
               [failures, locked_until, row["username"]])


def set_password(db: sqlite_utils.Database, username: str, password: str) -> None:
    """Replace a user's password (and lift any lockout)."""
    get_user(db, username)
    if len(password) < MIN_PASSWORD_CHARS:
        raise InvalidInput(f"password has {len(password)} characters; use at least {MIN_PASSWORD_CHARS}")
    db.execute("UPDATE users SET password_hash = ?, failed_logins = 0, locked_until = NULL WHERE username = ?",
               [_HASHER.hash(password), username])


def set_active(db: sqlite_utils.Database, username: str, active: bool) -> None:
    """Disable an account (its tokens and sessions stop working at once) or enable it again."""
    get_user(db, username)
    db.execute("UPDATE users SET active = ? WHERE username = ?", [int(active), username])
    if not active:
        db.execute("DELETE FROM web_sessions WHERE username = ?", [username])


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_token(db: sqlite_utils.Database, username: str, name: str, now: datetime) -> tuple[int, str]:
    """A new API token for a user: (id, the token itself — shown once, stored only hashed)."""
    get_user(db, username)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    table = db.table("api_tokens")
    table.insert({"username": username, "name": name or "token", "token_hash": _digest(token), "created_at": iso(now)})
    return table.last_pk, token


def user_for_token(db: sqlite_utils.Database, token: str) -> str | None:
    """The user a live token belongs to, or None."""
    row = db.execute("SELECT username FROM api_tokens WHERE token_hash = ? AND revoked_at IS NULL",
                     [_digest(token)]).fetchone()
    return row[0] if row else None


def list_tokens(db: sqlite_utils.Database, username: str) -> list[dict[str, Any]]:
    """A user's tokens (never the secrets)."""
    return [dict(r) for r in db.execute(
        "SELECT id, name, created_at, revoked_at FROM api_tokens WHERE username = ? ORDER BY id",
        [username])]


def revoke_token(db: sqlite_utils.Database, token_id: int, owner: str | None, now: datetime) -> None:
    """Revoke a token; `owner` limits it to that user's tokens (None: any, for admins)."""
    row = db.execute("SELECT username, revoked_at FROM api_tokens WHERE id = ?", [token_id]).fetchone()
    if row is None or (owner is not None and row["username"] != owner):
        raise NotFound(f"token {token_id} does not exist")
    if row["revoked_at"] is None:
        db.execute("UPDATE api_tokens SET revoked_at = ? WHERE id = ?", [iso(now), token_id])


def open_session(db: sqlite_utils.Database, username: str, now: datetime, lifetime: timedelta) -> tuple[str, str]:
    """A web session: (session id for the cookie, CSRF token for forms)."""
    session_id, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
    db.table("web_sessions").insert({"id_hash": _digest(session_id), "username": username, "csrf_token": csrf,
                                     "created_at": iso(now), "expires_at": iso(now + lifetime)})
    return session_id, csrf


def session_user(db: sqlite_utils.Database, session_id: str, now: datetime) -> tuple[str, str] | None:
    """(username, CSRF token) of a live session, or None."""
    row = db.execute("SELECT username, csrf_token, expires_at FROM web_sessions WHERE id_hash = ?",
                     [_digest(session_id)]).fetchone()
    if row is None or parse_iso(row["expires_at"]) <= now:
        return None
    return row["username"], row["csrf_token"]


def close_session(db: sqlite_utils.Database, session_id: str) -> None:
    """Sign out: forget the session."""
    db.execute("DELETE FROM web_sessions WHERE id_hash = ?", [_digest(session_id)])
