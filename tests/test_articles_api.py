"""The article and knowledge API over a real server: review, publish, suggestions, versions, visibility."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from kb.importing import import_article_folder, import_ticket_file, load_demo_desk
from service.app import create_app
from service.runtime import open_database, open_runtime
from service.settings import Settings
from tests.conftest import FIXTURES, make_account
from tests.server import running_server

pytestmark = pytest.mark.slow
PEOPLE = {"author": ("ann", "kb_author"), "reviewer": ("rob", "kb_reviewer"), "agent": ("li", "agent"),
          "customer": ("cust", "requester"), "manager": ("mia", "manager")}
CLIENTS: dict[str, httpx.Client] = {}
BODY = "# 会议室投屏找不到设备\n\n## 症状\n会议室投屏器搜不到。\n\n## 解决步骤\n1. 把投屏器接入 NC-Office\n"


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory, embedder) -> Iterator[str]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("data"), sync_interval_seconds=0.1,
                        english_embedding_model="", chinese_embedding_model="")
    database = open_database(settings)
    load_demo_desk(database)
    import_ticket_file(database, FIXTURES / "tickets.jsonl", "test", "CW")
    import_article_folder(database, FIXTURES / "articles", "test")
    for key, (name, role) in PEOPLE.items():
        CLIENTS[key] = httpx.Client(timeout=30, headers=make_account(database, name, role))
    database.close()
    runtime = open_runtime(settings, embedder_factory=lambda _: embedder, english_factory=lambda _: None)
    with running_server(create_app(settings, runtime)) as base:
        yield base
    runtime.close()
    for client in CLIENTS.values():
        client.close()


def _as(who: str) -> httpx.Client:
    return CLIENTS[who]


def _new(url: str, who: str = "author", **fields) -> dict:
    body = {"title": "会议室投屏找不到设备 screen casting", "body": BODY, "product": "network", **fields}
    response = _as(who).post(f"{url}/api/v1/articles", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def _move(url: str, article_id: int, who: str, **body) -> httpx.Response:
    return _as(who).post(f"{url}/api/v1/articles/{article_id}/transitions", json=body)


def _suggested(url: str, who: str, text: str) -> list[str]:
    response = _as(who).post(f"{url}/api/v1/suggest", json={"title": text, "k": 5})
    assert response.status_code == 200, response.text
    return [hit["slug"] for hit in response.json()["articles"]]


def _eventually(check, seconds: float = 15.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return False


def test_review_publish_then_customers_find_it_and_archive_removes_it(url: str) -> None:
    article = _new(url, slug="meeting-room-casting")
    query = "会议室投屏器搜不到 Miracast"
    assert "meeting-room-casting" not in _suggested(url, "customer", query)
    assert _move(url, article["id"], "author", to="in_review", reviewer="rob").status_code == 200
    own = _move(url, article["id"], "author", to="published")
    assert own.status_code == 409 and "Allowed moves: draft" in own.json()["detail"]
    published = _move(url, article["id"], "reviewer", to="published")
    assert published.status_code == 200 and published.json()["reviewer"] == "rob"
    assert _eventually(lambda: "meeting-room-casting" in _suggested(url, "customer", query))
    assert _move(url, article["id"], "reviewer", to="archived").status_code == 200
    assert _eventually(lambda: "meeting-room-casting" not in _suggested(url, "customer", query))
    events = _as("author").get(f"{url}/api/v1/articles/{article['id']}/events").json()
    assert [(e["action"], e["actor"], e["data"].get("to")) for e in events] == [
        ("created", "ann", None), ("transition", "ann", "in_review"), ("transition", "rob", "published"),
        ("transition", "rob", "archived")]


def test_returned_with_comments_and_illegal_moves(url: str) -> None:
    article = _new(url)
    before = _as("author").get(f"{url}/api/v1/articles/{article['id']}/events").json()
    illegal = _move(url, article["id"], "reviewer", to="published")
    assert illegal.status_code == 409 and "Allowed moves: archived, in_review" in illegal.json()["detail"]
    assert _as("author").get(f"{url}/api/v1/articles/{article['id']}/events").json() == before
    _move(url, article["id"], "author", to="in_review")
    no_comment = _move(url, article["id"], "reviewer", to="draft")
    assert no_comment.status_code == 422 and "comment" in no_comment.json()["detail"]
    assert _move(url, article["id"], "reviewer", to="draft", comment="请补充投屏器型号").status_code == 200
    shown = _as("author").get(f"{url}/api/v1/articles/{article['id']}").json()
    assert shown["review_comments"][-1]["comment"] == "请补充投屏器型号" and shown["status"] == "draft"
    assert _move(url, article["id"], "author", to="live").status_code == 422


def test_edit_versions_diff_and_restore(url: str) -> None:
    article = _new(url)
    base = f"{url}/api/v1/articles/{article['id']}"
    edited = _as("author").patch(base, json={"tags": ["投屏", "Miracast"], "review_by": "2027-06-30"})
    assert edited.status_code == 200 and edited.json()["review_by"] == "2027-06-30"
    assert _as("author").patch(base, json={"status": "published"}).status_code == 422
    assert _as("author").patch(base, json={"audience": "everyone"}).status_code == 422
    _move(url, article["id"], "author", to="in_review")
    _move(url, article["id"], "reviewer", to="published")
    refused = _as("author").patch(base, json={"title": "新标题"})
    assert refused.status_code == 409 and "only a draft can be edited" in refused.json()["detail"]
    assert _move(url, article["id"], "author", to="draft").json()["current_version"] == 2
    changed = BODY + "2. 在投屏器设置里关闭客户端隔离\n"
    assert _as("author").patch(base, json={"body": changed}).json()["body"] == changed
    versions = _as("author").get(f"{base}/versions").json()
    assert [(v["version"], bool(v["published_at"])) for v in versions] == [(2, False), (1, True)]
    diff = _as("author").get(f"{base}/diff", params={"from": 1, "to": 2}).json()
    assert diff["added"] == 1 and "+2. 在投屏器设置里关闭客户端隔离" in diff["unified"]
    assert _as("author").get(f"{base}/diff", params={"from": 1}).status_code == 422
    assert _as("author").get(f"{base}/versions/7").status_code == 404
    restored = _as("author").post(f"{base}/versions/1/restore")
    assert restored.status_code == 200 and restored.json()["current_version"] == 3
    assert restored.json()["body"] == BODY


def test_who_sees_what(url: str) -> None:
    draft = _new(url, "agent")
    internal = _new(url, audience="internal")
    _move(url, internal["id"], "author", to="in_review")
    _move(url, internal["id"], "reviewer", to="published")
    for who, article, status in (("customer", draft, 404), ("author", draft, 200), ("agent", draft, 200),
                                 ("manager", draft, 200), ("customer", internal, 404), ("agent", internal, 200)):
        assert _as(who).get(f"{url}/api/v1/articles/{article['id']}").status_code == status, (who, status)
    listed = _as("customer").get(f"{url}/api/v1/articles", params={"page_size": 100}).json()["items"]
    assert listed and all(a["status"] == "published" and a["audience"] == "public" for a in listed)
    assert "owner" not in listed[0]
    assert _as("customer").get(f"{url}/api/v1/articles/{internal['id']}/versions").status_code == 404
    assert _as("customer").post(f"{url}/api/v1/articles", json={"title": "x", "body": "y"}).status_code == 403
    mine = _as("agent").get(f"{url}/api/v1/articles", params={"owner": "me", "status": "draft"}).json()
    assert [a["id"] for a in mine["items"]] == [draft["id"]]
    assert _as("agent").get(f"{url}/api/v1/articles/999999").status_code == 404
    assert _as("agent").get(f"{url}/api/v1/articles/abc").status_code == 422
    assert httpx.get(f"{url}/api/v1/articles").status_code == 401


def test_draft_from_a_resolved_ticket_without_personal_data(url: str) -> None:
    ticket = _as("customer").post(f"{url}/api/v1/tickets", json={
        "title": "会议室投屏连不上", "product": "network",
        "description": "我是王小明，电话 13912345678，邮箱 wangxm@corp.example.cn，会议室投屏器搜不到。"}).json()
    for body in ({"to": "assigned"}, {"to": "resolved", "solution": "投屏器改接 NC-Office 后恢复。王小明确认可用。"}):
        moved = _as("manager").post(f"{url}/api/v1/tickets/{ticket['id']}/transitions", json=body)
        assert moved.status_code == 200, moved.text
    response = _as("author").post(f"{url}/api/v1/articles/from-tickets", json={"ticket_ids": [ticket["id"]]})
    assert response.status_code == 201, response.text
    draft = response.json()
    text = draft["article"]["title"] + draft["article"]["body"]
    assert not [s for s in ("王小明", "13912345678", "wangxm@corp.example.cn") if s in text]
    assert {(r["kind"], r["text"]) for r in draft["removed"]} >= {
        ("name", "王小明"), ("phone", "13912345678"), ("email", "wangxm@corp.example.cn")}
    assert draft["article"]["audience"] == "internal" and draft["tickets"][0]["id"] == ticket["id"]
    shown = _as("author").get(f"{url}/api/v1/articles/{draft['article']['id']}").json()
    assert shown["tickets"][0]["relation"] == "source"
    unresolved = _as("customer").post(f"{url}/api/v1/tickets", json={"title": "又连不上"}).json()
    refused = _as("manager").post(f"{url}/api/v1/articles/from-tickets", json={"ticket_ids": [unresolved["id"]]})
    assert refused.status_code == 422 and "only resolved or closed" in refused.json()["detail"]
    assert _as("author").post(f"{url}/api/v1/articles/from-tickets", json={"ticket_ids": []}).status_code == 422


def test_signals_deflections_and_effectiveness(url: str) -> None:
    article = _new(url)
    _move(url, article["id"], "author", to="in_review")
    _move(url, article["id"], "reviewer", to="published")
    signals = f"{url}/api/v1/articles/{article['id']}/signals"
    assert _as("customer").post(signals, json={"kind": "opened"}).status_code == 201
    solved = _as("customer").post(signals, json={"kind": "solved_it", "query": "投屏搜不到"})
    assert solved.status_code == 201 and solved.json()["deflection_id"] is not None
    assert _as("customer").post(signals, json={"kind": "liked"}).status_code == 422
    found = _as("author").get(f"{url}/api/v1/articles/{article['id']}/effectiveness").json()
    assert (found["opened"], found["solved_it"], found["deflections"]) == (1, 1, 1)
    assert found["ranking_boost"] > 0
    assert _as("customer").get(f"{url}/api/v1/articles/{article['id']}/effectiveness").status_code == 404


def test_knowledge_reports(url: str) -> None:
    gaps = _as("agent").get(f"{url}/api/v1/knowledge/gaps", params={"days": 3650, "min_size": 2})
    assert gaps.status_code == 200 and gaps.json()["days"] == 3650
    for gap in gaps.json()["gaps"]:
        assert gap["draft"]["body"]["ticket_ids"] == [t["id"] for t in gap["tickets"]]
    assert _as("customer").get(f"{url}/api/v1/knowledge/gaps").status_code == 404
    assert _as("agent").get(f"{url}/api/v1/knowledge/gaps", params={"threshold": 2}).status_code == 422
    overdue = _new(url, review_by="2020-01-01")
    _move(url, overdue["id"], "author", to="in_review")
    _move(url, overdue["id"], "reviewer", to="published")
    stale = _as("author").get(f"{url}/api/v1/knowledge/stale", params={"owner": "me"}).json()
    assert [e["article"]["id"] for e in stale] == [overdue["id"]] and stale[0]["reasons"] == ["review_overdue"]
    duplicates = _as("author").get(f"{url}/api/v1/knowledge/duplicates")
    assert duplicates.status_code == 200
    assert all({"first", "second", "cosine", "text_similarity", "reasons"} <= set(p) for p in duplicates.json())
