"""Sign-in, sign-out and the language switch."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from kb.users import Lockout, attempt_sign_in, close_session, open_session
from service.auth import SESSION_COOKIE, check_form_csrf
from service.deps import OptionalViewerDep, RuntimeDep
from service.i18n import LANG_COOKIE, LANGUAGES
from service.web import render

router = APIRouter(include_in_schema=False)
LOGIN_CSRF_COOKIE = "casewise_login_csrf"


def safe_next(target: str | None) -> str:
    """Only local paths: never redirect a signed-in person to another site."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, viewer: OptionalViewerDep, next: str = "/") -> Response:
    """The sign-in form (a fresh anti-forgery token in a cookie and the form)."""
    if viewer is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return _login_form(request, next, None, 200)


def _login_form(request: Request, next_path: str, error: str | None, status: int,
                headers: dict[str, str] | None = None) -> HTMLResponse:
    token = secrets.token_urlsafe(24)
    page = render(request, "login.html", None, status_code=status, next=safe_next(next_path), error=error,
                  login_csrf=token)
    page.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict",
                    secure=request.app.state.settings.cookie_secure)
    for key, value in (headers or {}).items():
        page.headers[key] = value
    return page


@router.post("/login", response_class=HTMLResponse)
def login(request: Request, runtime: RuntimeDep, username: Annotated[str, Form(max_length=64)],
          password: Annotated[str, Form(max_length=1000)], csrf_token: Annotated[str, Form(max_length=100)] = "",
          next: Annotated[str, Form(max_length=2000)] = "/") -> Response:
    """Check the password (with lockout), open a session and set the HttpOnly, SameSite cookie."""
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not secrets.compare_digest(expected, csrf_token):
        return _login_form(request, next, "the form expired; please sign in again", 403)
    settings = runtime.settings
    lockout = Lockout(settings.login_max_failures, settings.login_lockout_seconds)
    now = datetime.now(UTC)
    outcome = runtime.database.write(lambda db: attempt_sign_in(db, username.strip(), password, now, lockout))
    if outcome.refused is not None:
        refused = outcome.refused
        retry = {"Retry-After": str(refused.retry_after)} if refused.retry_after else None
        return _login_form(request, next, str(refused), 429 if refused.retry_after else 401, retry)
    lifetime = timedelta(hours=settings.session_hours)
    session_id, _ = runtime.database.write(lambda db: open_session(db, username.strip(), now, lifetime))
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(SESSION_COOKIE, session_id, max_age=int(lifetime.total_seconds()), httponly=True,
                        samesite="lax", secure=settings.cookie_secure)
    response.delete_cookie(LOGIN_CSRF_COOKIE)
    return response


@router.post("/logout")
def logout(request: Request, runtime: RuntimeDep, viewer: OptionalViewerDep,
           csrf_token: Annotated[str, Form(max_length=100)] = "") -> Response:
    """End the session (the form carries the CSRF token)."""
    session_id = request.cookies.get(SESSION_COOKIE)
    if viewer is not None and session_id:
        check_form_csrf(request, csrf_token)
        runtime.database.write(lambda db: close_session(db, session_id))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.post("/lang")
def switch_language(lang: Annotated[str, Form(max_length=5)], next: Annotated[str, Form(max_length=2000)] = "/") -> Response:
    """Remember the chosen language (zh or en) in a cookie."""
    response = RedirectResponse(safe_next(next), status_code=303)
    if lang in LANGUAGES:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 24 * 3600, samesite="lax")
    return response
