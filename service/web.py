"""Rendering web pages: templates with the page language, the signed-in person and the CSRF token."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from kb.clock import parse_iso
from kb.users import get_user
from kb.visibility import Viewer
from service.i18n import client_messages, field_label, label, language_of, translator

templates = Jinja2Templates(directory=str(Path(__file__).resolve().parent / "templates"))


def render(request: Request, template: str, viewer: Viewer | None, status_code: int = 200,
           **context: Any) -> HTMLResponse:
    """A page in the visitor's language, with who is signed in and the CSRF token for forms and scripts."""
    lang = language_of(request)
    name = None
    if viewer is not None:
        name = request.app.state.runtime.database.read(lambda db: get_user(db, viewer.name))["display_name"]
    zone = request.app.state.runtime.rules.calendar.zone
    return templates.TemplateResponse(request, template, {
        "local": lambda value: _local_time(value, zone),
        "lang": lang, "t": translator(lang), "label": lambda v: label(v, lang), "fname": lambda f: field_label(f, lang), "messages": client_messages(lang),
        "viewer": viewer, "display_name": name, "csrf_token": getattr(request.state, "csrf_token", ""),
        **context}, status_code=status_code)


def _local_time(value: str | None, zone: Any) -> str:
    """A stored UTC time as the desk's local 'YYYY-MM-DD HH:MM'."""
    if not value:
        return ""
    try:
        return parse_iso(value).astimezone(zone).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return value


def to_sign_in(request: Request) -> RedirectResponse:
    """Send an anonymous visitor to the sign-in page, coming back here afterwards."""
    return RedirectResponse(f"/login?next={request.url.path}", status_code=303)


def wants_html(request: Request) -> bool:
    """Whether an error should be a page rather than JSON (browsers asking for a page)."""
    return not request.url.path.startswith(("/api/", "/healthz")) and "text/html" in request.headers.get("accept", "")
