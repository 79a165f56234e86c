"""Who is calling: a bearer token (API) or a session cookie (web), turned into a Viewer.

Cookie-authenticated API calls that change something must carry the session's CSRF
token in `X-CSRF-Token`; web forms carry it in a hidden `csrf_token` field.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from datetime import UTC, datetime

from fastapi import Request
from starlette.exceptions import HTTPException

from kb.errors import NotFound
from kb.users import session_user, user_for_token, viewer_for
from kb.visibility import Viewer

SESSION_COOKIE = "casewise_session"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class Unauthorized(HTTPException):
    """401 with a hint of how to authenticate."""

    def __init__(self, detail: str) -> None:
        super().__init__(401, detail, headers={"WWW-Authenticate": "Bearer"})


class TokenCache:
    """Recently checked bearer tokens and who they belong to, for `seconds` (0: no caching).

    Spares the database (and a thread hop) on every keystroke's request; a revoked token or a
    disabled account stops working within that many seconds.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._held: dict[str, tuple[Viewer, float]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def key(header: str) -> str:
        return hashlib.sha256(header.encode()).hexdigest()

    def get(self, header: str) -> Viewer | None:
        """The cached viewer for an Authorization header, if still fresh."""
        if not self.seconds:
            return None
        held = self._held.get(self.key(header))
        return held[0] if held and held[1] > time.monotonic() else None

    def put(self, header: str, viewer: Viewer) -> None:
        """Remember a checked token."""
        if self.seconds:
            with self._lock:
                if len(self._held) > 10_000:
                    self._held.clear()
                self._held[self.key(header)] = (viewer, time.monotonic() + self.seconds)


def cached_token_viewer(request: Request) -> Viewer | None:
    """The viewer of a recently checked bearer token, without touching the database."""
    header = request.headers.get("authorization")
    return request.app.state.runtime.token_cache.get(header) if header else None


def viewer_from_request(request: Request) -> Viewer | None:
    """The signed-in person, or None when the request carries no credentials."""
    database = request.app.state.runtime.database
    header = request.headers.get("authorization")
    if header:
        viewer = _token_viewer(database, header)
        request.app.state.runtime.token_cache.put(header, viewer)
        return viewer
    session_id = request.cookies.get(SESSION_COOKIE)
    if not session_id:
        return None
    found = database.read(lambda db: session_user(db, session_id, datetime.now(UTC)))
    if found is None:
        return None
    username, csrf = found
    request.state.csrf_token = csrf
    if request.method not in SAFE_METHODS and request.url.path.startswith("/api/"):
        sent = request.headers.get("x-csrf-token", "")
        if not secrets.compare_digest(sent, csrf):
            raise HTTPException(403, "missing or wrong X-CSRF-Token header (the page's csrf token) for a cookie session")
    return _viewer(database, username)


def _token_viewer(database, header: str) -> Viewer:
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("use 'Authorization: Bearer <token>' (create one with `casewise create-token`)")
    viewer = database.read(lambda db: _token_holder(db, token.strip()))  # one snapshot, per request
    if viewer is None:
        raise Unauthorized("the token is unknown or revoked, or its account is disabled")
    return viewer


def _token_holder(db, token: str) -> Viewer | None:
    username = user_for_token(db, token)
    if username is None:
        return None
    try:
        return viewer_for(db, username)
    except NotFound:
        return None


def _viewer(database, username: str) -> Viewer:
    try:
        return database.read(lambda db: viewer_for(db, username))
    except NotFound:
        raise Unauthorized("this account is disabled") from None


def check_form_csrf(request: Request, sent: str | None) -> None:
    """Web forms: the hidden csrf_token field must match the session's."""
    expected = getattr(request.state, "csrf_token", None)
    if not expected or not sent or not secrets.compare_digest(sent, expected):
        raise HTTPException(403, "the form expired or did not come from this site; reload the page and try again")
