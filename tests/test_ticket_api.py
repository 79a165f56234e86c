"""The ticket API over a real server: the README scenario, errors, paging, timeline."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from kb.importing import import_article_folder, import_ticket_file, load_demo_desk
from scripts import scenario
from service.app import create_app
from service.runtime import open_database, open_runtime
from service.settings import Settings
from tests.conftest import FIXTURES, make_account
from tests.server import running_server

pytestmark = pytest.mark.slow
HTTP = httpx.Client(timeout=30)
TOKENS: dict[str, str] = {}


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory, embedder) -> Iterator[str]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("data"), sync_interval_seconds=0.1,
                        english_embedding_model="", chinese_embedding_model="")
    database = open_database(settings)
    load_demo_desk(database)
    import_ticket_file(database, FIXTURES / "tickets.jsonl", "test", "CW")
    import_article_folder(database, FIXTURES / "articles", "test")
    HTTP.headers.update(make_account(database, "tester", "manager"))
    TOKENS["customer"] = make_account(database, "wh.liu", "requester")["Authorization"].split()[1]
    database.close()
    runtime = open_runtime(settings, embedder_factory=lambda _: embedder, english_factory=lambda _: None)
    with running_server(create_app(settings, runtime)) as url:
        yield url
    runtime.close()


def _new_ticket(base_url: str, **fields) -> dict:
    body = {"title": "VPN 连不上 error 812", "description": "在家连 VPN 报 812", "product": "network", **fields}
    response = HTTP.post(f"{base_url}/api/v1/tickets", json=body, timeout=30)
    assert response.status_code == 201, response.text
    return response.json()


def _move(base_url: str, ticket_id: int, **body) -> httpx.Response:
    return HTTP.post(f"{base_url}/api/v1/tickets/{ticket_id}/transitions", json=body, timeout=30)


def test_readme_scenario_end_to_end(base_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    staff = HTTP.headers["Authorization"].split()[1]
    waited = scenario.run(scenario.Client(base_url, staff), scenario.Client(base_url, TOKENS["customer"]))
    printed = capsys.readouterr().out
    assert "closed (customer confirmed)" in printed and "survey: 5/5" in printed
    assert waited < 2.0


def test_registration_numbers_priority_and_due_times(base_url: str) -> None:
    ticket = _new_ticket(base_url, impact="high", urgency="high")
    assert ticket["number"].startswith("CW-") and ticket["status"] == "new"
    assert ticket["priority"] == "urgent" and ticket["team"] == "l1-desk" and ticket["tier"] == "L1"
    assert ticket["response_due_at"] < ticket["resolution_due_at"]
    assert set(ticket["triage_proposal"]) >= {"category", "priority", "team", "based_on"}


def test_priority_override_needs_a_reason(base_url: str) -> None:
    body = {"title": "x", "impact": "low", "urgency": "low", "priority": "urgent"}
    response = HTTP.post(f"{base_url}/api/v1/tickets", json=body, timeout=30)
    assert response.status_code == 422 and "priority_reason" in response.json()["detail"]
    body["priority_reason"] = "客户是重点客户 / key account"
    assert HTTP.post(f"{base_url}/api/v1/tickets", json=body, timeout=30).json()["priority"] == "urgent"


def test_illegal_transition_is_409_naming_allowed_moves_and_writes_nothing(base_url: str) -> None:
    ticket = _new_ticket(base_url)
    before = HTTP.get(f"{base_url}/api/v1/tickets/{ticket['id']}/events").json()
    response = _move(base_url, ticket["id"], to="closed")
    assert response.status_code == 409
    assert "Allowed moves:" in response.json()["detail"] and "triaged" in response.json()["detail"]
    assert HTTP.get(f"{base_url}/api/v1/tickets/{ticket['id']}/events").json() == before
    assert HTTP.get(f"{base_url}/api/v1/tickets/{ticket['id']}").json()["status"] == "new"


def test_waiting_needs_a_listed_reason(base_url: str) -> None:
    ticket = _new_ticket(base_url)
    assert _move(base_url, ticket["id"], to="assigned").status_code == 200
    missing = _move(base_url, ticket["id"], to="waiting")
    assert missing.status_code == 422 and "waiting_reason" in missing.json()["detail"]
    wrong = _move(base_url, ticket["id"], to="waiting", waiting_reason="lunch")
    assert wrong.status_code == 422
    other = _move(base_url, ticket["id"], to="waiting", waiting_reason="other")
    assert other.status_code == 422 and "reason" in other.json()["detail"]
    ok = _move(base_url, ticket["id"], to="waiting", waiting_reason="no_resources")
    assert ok.status_code == 200 and ok.json()["waiting_reason"] == "no_resources"


def test_resolve_needs_a_solution_and_not_solved_reopens(base_url: str) -> None:
    ticket = _new_ticket(base_url)
    _move(base_url, ticket["id"], to="assigned")
    assert _move(base_url, ticket["id"], to="resolved").status_code == 422
    assert _move(base_url, ticket["id"], to="resolved", solution="重置 VPN 证书").status_code == 200
    reopened = _move(base_url, ticket["id"], to="reopened", reason="客户说还是不行")
    assert reopened.status_code == 200 and reopened.json()["reopen_count"] == 1


def test_patch_cannot_change_state_or_owner(base_url: str) -> None:
    ticket = _new_ticket(base_url)
    for field, value in (("status", "closed"), ("assignee", "li.wei"), ("response_due_at", "2030-01-01")):
        response = HTTP.patch(f"{base_url}/api/v1/tickets/{ticket['id']}", json={field: value})
        assert response.status_code == 422, field
    changed = HTTP.patch(f"{base_url}/api/v1/tickets/{ticket['id']}", json={"version": "SecureLink 5.2"})
    assert changed.status_code == 200 and changed.json()["version"] == "SecureLink 5.2"


def test_unknown_ids_are_404_and_bad_ids_422(base_url: str) -> None:
    assert HTTP.get(f"{base_url}/api/v1/tickets/999999").status_code == 404
    assert _move(base_url, 999999, to="triaged").status_code == 404
    assert HTTP.get(f"{base_url}/api/v1/tickets/abc").status_code == 422
    assert HTTP.get(f"{base_url}/api/v1/tickets/99999999999999999999999").status_code == 422


def test_merge_and_cancel(base_url: str) -> None:
    first, second = _new_ticket(base_url), _new_ticket(base_url)
    assert _move(base_url, second["id"], to="merged").status_code == 422
    assert _move(base_url, second["id"], to="merged", merge_into=second["id"]).status_code == 422
    merged = _move(base_url, second["id"], to="merged", merge_into=first["id"])
    assert merged.status_code == 200 and merged.json()["merged_into"] == first["id"]
    assert _move(base_url, first["id"], to="cancelled").status_code == 422
    assert _move(base_url, first["id"], to="cancelled", reason="客户撤回").json()["status"] == "cancelled"


def test_list_filters_and_paging(base_url: str) -> None:
    _new_ticket(base_url, title="打印机卡纸 50% 100_percent")
    page = HTTP.get(f"{base_url}/api/v1/tickets", params={"status": "new", "page_size": 2}).json()
    assert page["page_size"] == 2 and len(page["items"]) <= 2 and page["total"] >= 2
    assert all(item["status"] == "new" for item in page["items"])
    literal = HTTP.get(f"{base_url}/api/v1/tickets", params={"q": "50%"}).json()
    assert [t["title"] for t in literal["items"]] == ["打印机卡纸 50% 100_percent"]
    assert HTTP.get(f"{base_url}/api/v1/tickets", params={"q": "%"}).json()["total"] == 1
    assert HTTP.get(f"{base_url}/api/v1/tickets", params={"status": "bogus"}).status_code == 422


def test_comments_visits_and_survey_rules(base_url: str) -> None:
    ticket = _new_ticket(base_url)
    url = f"{base_url}/api/v1/tickets/{ticket['id']}"
    assert HTTP.post(f"{url}/comments", json={"body": "内部：疑似证书过期", "visibility": "internal"}).status_code == 201
    assert HTTP.post(f"{url}/comments", json={"body": "   "}).status_code == 422
    assert HTTP.post(f"{url}/survey", json={"score": 5}).status_code == 409
    assert HTTP.post(f"{url}/visits", json={"scheduled_at": "2026-11-24T10:00:00", "place": "x",
                                            "engineer": "y"}).status_code == 422
    events = HTTP.get(f"{url}/events").json()
    assert [e["action"] for e in events] == ["created", "commented"]


def test_attachments_are_stored_listed_and_downloaded(base_url: str) -> None:
    ticket = _new_ticket(base_url)
    url = f"{base_url}/api/v1/tickets/{ticket['id']}/attachments"
    content = "打印机日志 printer log\n".encode() * 100
    created = HTTP.post(url, files={"file": ("spooler log.txt", content, "text/plain")})
    assert created.status_code == 201, created.text
    meta = created.json()
    assert meta["name"] == "spooler log.txt" and meta["size"] == len(content) and "stored_as" not in meta
    assert [a["id"] for a in HTTP.get(url).json()] == [meta["id"]]
    download = HTTP.get(f"{url}/{meta['id']}")
    assert download.content == content and download.headers["content-disposition"].startswith("attachment")
    assert HTTP.post(url, files={"file": ("empty.txt", b"")}).status_code == 422
    assert "attachment_added" in [e["action"] for e in HTTP.get(f"{base_url}/api/v1/tickets/{ticket['id']}/events").json()]
