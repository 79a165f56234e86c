"""Authorization matrix: every route with an id × every role, against things that role may not see or do.

Each forbidden access must answer 404 (does not exist for you) or 403 (visible, not yours to
change). The test fails when the app gains a route with an id that the matrix does not cover.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from kb.article_workflow import create_article
from kb.desk import DeskRules
from kb.importing import load_demo_desk
from kb.intake import register_ticket
from kb.permissions import ROLES
from kb.users import create_token
from kb.visibility import Viewer
from service.app import create_app
from service.runtime import open_database, open_runtime
from service.settings import Settings
from tests.conftest import make_account
from tests.server import running_server

pytestmark = pytest.mark.slow
NOW = datetime.now(UTC)
TEAM_OF = {"agent": "l1-desk", "senior_agent": "l2-network", "rnd": "rnd"}
DENIED = (403, 404)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, embedder) -> Iterator[dict[str, Any]]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("authz"), english_embedding_model="",
                        chinese_embedding_model="")
    database = open_database(settings)
    load_demo_desk(database)
    headers = {role: make_account(database, f"{role.replace('_', '-')}.x", role,
                                  (TEAM_OF[role],) if role in TEAM_OF else ()) for role in ROLES}
    owner = make_account(database, "owner.req", "requester", organisation="Acme")

    def seed(db) -> dict[str, Any]:
        customer = Viewer("owner.req", "requester")
        ticket = register_ticket(db, {"title": "ERP 月结失败 ERP-5002", "product": "erp"}, customer, DeskRules(), NOW)
        db.execute("UPDATE tickets SET team = 'l2-erp' WHERE id = ?", [ticket["id"]])
        author = Viewer("author.x", "kb_author")
        draft = create_article(db, {"title": "草稿：月结", "body": "# 月结\n步骤", "audience": "internal"}, author, NOW)
        published = create_article(db, {"title": "内部：ERP 后台", "body": "# 后台\n内部步骤", "audience": "internal"},
                                   author, NOW)
        db.execute("UPDATE articles SET status = 'published' WHERE id = ?", [published["id"]])
        token_id, _ = create_token(db, "owner.req", "owner's", NOW)
        return {"ticket": ticket["id"], "draft": draft["id"], "draft_slug": draft["slug"],
                "internal": published["id"], "internal_slug": published["slug"], "token": token_id}

    ids = database.write(seed)
    database.write(lambda db: db.table("users").insert(
        {"username": "author.x", "display_name": "author", "role": "kb_author", "created_at": NOW.isoformat()}))
    database.close()
    runtime = open_runtime(settings, embedder_factory=lambda _: embedder, english_factory=lambda _: None)
    app = create_app(settings, runtime)
    with running_server(app) as url:
        yield {"url": url, "app": app, "headers": headers, "owner": owner, **ids}
    runtime.close()


# Who may not see each kind of thing (everyone else may, so is not probed there).
TICKET_BLIND = ("requester", "agent", "senior_agent", "rnd", "kb_author", "kb_reviewer")
DRAFT_BLIND = ("requester", "agent", "rnd")
INTERNAL_BLIND = ("requester",)
NOT_ADMIN = tuple(r for r in ROLES if r not in ("manager", "admin"))
NOT_USER_ADMIN = tuple(r for r in ROLES if r != "admin")
ALL = ROLES

# path → (method, body, which thing, roles that must be refused)
TICKET_BODY = {"to": "triaged"}
FILE = {"file": ("note.txt", b"hello")}
MATRIX: dict[tuple[str, str], tuple[dict | None, str, tuple[str, ...]]] = {
    ("GET", "/api/v1/tickets/{ticket_id}"): (None, "ticket", TICKET_BLIND),
    ("PATCH", "/api/v1/tickets/{ticket_id}"): ({"version": "9"}, "ticket", TICKET_BLIND),
    ("POST", "/api/v1/tickets/{ticket_id}/triage"): ({"accept": True}, "ticket", TICKET_BLIND),
    ("POST", "/api/v1/tickets/{ticket_id}/transitions"): (TICKET_BODY, "ticket", TICKET_BLIND),
    ("GET", "/api/v1/tickets/{ticket_id}/events"): (None, "ticket", TICKET_BLIND),
    ("GET", "/api/v1/tickets/{ticket_id}/comments"): (None, "ticket", TICKET_BLIND),
    ("POST", "/api/v1/tickets/{ticket_id}/comments"): ({"body": "x"}, "ticket", TICKET_BLIND),
    ("GET", "/api/v1/tickets/{ticket_id}/visits"): (None, "ticket", TICKET_BLIND),
    ("POST", "/api/v1/tickets/{ticket_id}/visits"): (
        {"scheduled_at": "2026-12-03T10:00:00+08:00", "place": "x", "engineer": "y"}, "ticket", TICKET_BLIND),
    ("PATCH", "/api/v1/tickets/{ticket_id}/visits/{visit_id}"): ({"outcome": "x"}, "ticket", TICKET_BLIND),
    ("POST", "/api/v1/tickets/{ticket_id}/survey"): ({"score": 5}, "ticket", TICKET_BLIND),
    ("POST", "/api/v1/tickets/{ticket_id}/solved-by"): ({"article_id": 1}, "ticket", TICKET_BLIND),
    ("GET", "/api/v1/tickets/{ticket_id}/followups"): (None, "ticket", TICKET_BLIND),
    ("POST", "/api/v1/tickets/{ticket_id}/followups"): ({"due_at": "2026-12-03T10:00:00+08:00"}, "ticket",
                                                         TICKET_BLIND),
    ("POST", "/api/v1/tickets/{ticket_id}/followups/{followup_id}/done"): ({"notes": "x"}, "ticket", TICKET_BLIND),
    ("GET", "/tickets/{ticket_id}"): (None, "ticket", TICKET_BLIND),
    ("GET", "/api/v1/tickets/{ticket_id}/attachments"): (None, "ticket", TICKET_BLIND),
    ("POST", "/api/v1/tickets/{ticket_id}/attachments"): (FILE, "ticket", TICKET_BLIND),
    ("GET", "/api/v1/tickets/{ticket_id}/attachments/{attachment_id}"): (None, "ticket", TICKET_BLIND),
    ("GET", "/api/v1/articles/{article_id}"): (None, "draft", DRAFT_BLIND),
    ("PATCH", "/api/v1/articles/{article_id}"): ({"title": "x"}, "draft", DRAFT_BLIND),
    ("POST", "/api/v1/articles/{article_id}/transitions"): ({"to": "in_review"}, "draft", DRAFT_BLIND),
    ("GET", "/api/v1/articles/{article_id}/events"): (None, "draft", DRAFT_BLIND),
    ("GET", "/api/v1/articles/{article_id}/versions"): (None, "draft", DRAFT_BLIND),
    ("GET", "/api/v1/articles/{article_id}/versions/{version}"): (None, "draft", DRAFT_BLIND),
    ("GET", "/api/v1/articles/{article_id}/diff"): (None, "draft", DRAFT_BLIND),
    ("POST", "/api/v1/articles/{article_id}/versions/{version}/restore"): (None, "draft", DRAFT_BLIND),
    ("GET", "/api/v1/articles/{article_id}/effectiveness"): (None, "internal", INTERNAL_BLIND),
    ("POST", "/api/v1/articles/{article_id}/signals"): ({"kind": "opened"}, "draft", DRAFT_BLIND),
    ("GET", "/kb/{article_id}/edit"): (None, "draft", DRAFT_BLIND),
    ("GET", "/kb/{article_id}/versions"): (None, "draft", DRAFT_BLIND),
    ("GET", "/articles/{slug}"): (None, "internal_slug", INTERNAL_BLIND),
    ("PUT", "/api/v1/teams/{name}"): ({"label": "x", "tier": "L1"}, "none", NOT_ADMIN),
    ("PUT", "/api/v1/members/{username}"): ({"display_name": "x", "team": "l1-desk"}, "none", NOT_ADMIN),
    ("PUT", "/api/v1/sla/policies/{priority}"): ({"response_minutes": 1, "resolution_minutes": 2}, "none",
                                                 NOT_ADMIN),
    ("DELETE", "/api/v1/me/tokens/{token_id}"): (None, "token", NOT_USER_ADMIN),
}
OWNER_REFUSED = [  # the requester who raised the ticket sees it, but may not do staff work on it
    ("PATCH", "/api/v1/tickets/{ticket_id}", {"version": "9"}),
    ("POST", "/api/v1/tickets/{ticket_id}/triage", {"accept": True}),
    ("POST", "/api/v1/tickets/{ticket_id}/visits", {"scheduled_at": "2026-12-03T10:00:00+08:00", "place": "x",
                                                    "engineer": "y"}),
    ("GET", "/api/v1/tickets/{ticket_id}/followups", None),
    ("POST", "/api/v1/tickets/{ticket_id}/solved-by", {"article_id": 1}),
    ("POST", "/api/v1/tickets/{ticket_id}/comments", {"body": "x", "visibility": "internal"}),
]


def _path(template: str, world: dict[str, Any], thing: str) -> str:
    values = {"ticket_id": world["ticket"], "visit_id": 1, "followup_id": 1, "attachment_id": 1, "article_id": world.get(thing, 1),
              "version": 1, "slug": world.get(thing, "x"), "name": "l1-desk", "username": "zzz", "priority": "low",
              "token_id": world["token"]}
    if thing == "draft":
        values["article_id"] = world["draft"]
    return template.format(**values)


def _call(world: dict[str, Any], method: str, path: str, headers: dict[str, str], body: dict | None) -> int:
    url = world["url"] + path + ("?from=1&to=1" if path.endswith("/diff") else "")
    payload = {"files": body} if body is FILE else {"json": body}
    return httpx.request(method, url, **payload, headers={**headers, "accept": "text/html" if not
                         path.startswith("/api/") else "application/json"}, timeout=30).status_code


def test_every_route_with_an_id_is_in_the_matrix(world: dict[str, Any]) -> None:
    routes = {(method, route.path) for route in world["app"].routes
              if "{" in getattr(route, "path", "") and not route.path.startswith("/static")
              for method in (getattr(route, "methods", None) or {"GET"}) if method != "HEAD"}
    missing = routes - set(MATRIX)
    assert not missing, f"routes with an id not covered by the authorization matrix: {sorted(missing)}"


def test_no_role_reaches_what_it_may_not_see_or_change(world: dict[str, Any]) -> None:
    leaks, checked = [], 0
    for (method, template), (body, thing, refused_roles) in MATRIX.items():
        for role in refused_roles:
            status = _call(world, method, _path(template, world, thing), world["headers"][role], body)
            checked += 1
            if status not in DENIED:
                leaks.append(f"{role} {method} {template} -> {status}")
    print(f"\nauthorization matrix: {checked} forbidden (route, role) accesses checked, {len(leaks)} leaks")
    assert not leaks, leaks


def test_the_requester_who_raised_a_ticket_cannot_do_staff_work_on_it(world: dict[str, Any]) -> None:
    for method, template, body in OWNER_REFUSED:
        status = _call(world, method, _path(template, world, "ticket"), world["owner"], body)
        assert status in DENIED, f"{method} {template} -> {status}"


def test_the_owner_and_managers_do_see_the_ticket(world: dict[str, Any]) -> None:
    path = _path("/api/v1/tickets/{ticket_id}", world, "ticket")
    for headers in (world["owner"], world["headers"]["manager"], world["headers"]["admin"]):
        assert _call(world, "GET", path, headers, None) == 200


def test_without_credentials_everything_private_is_401(world: dict[str, Any]) -> None:
    for path in ("/api/v1/tickets", f"/api/v1/tickets/{world['ticket']}", "/api/v1/me", "/api/v1/teams"):
        response = httpx.get(world["url"] + path)
        assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"
    assert httpx.get(world["url"] + "/console", headers={"accept": "text/html"}).status_code == 303
