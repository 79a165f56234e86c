"""The article lifecycle: state machine (property-based), versions, diff and restore, visibility per
role, drafts from tickets with personal data removed, export round trip, effectiveness and stale articles."""

from __future__ import annotations

import json
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, invariant, rule

from indexer import sync
from kb import article_workflow as workflow
from kb.article_access import searchable_articles_by_id
from kb.article_io import export_article_folder
from kb.articles import STATUSES
from kb.clock import parse_iso
from kb.db import Database
from kb.desk import DeskRules
from kb.effectiveness import (
    MAX_BOOST,
    boosts_for,
    effectiveness,
    record_signal,
    record_suggested,
    solved_boost,
    stale_articles,
)
from kb.errors import CasewiseError, Conflict, Forbidden, InvalidInput, NotFound
from kb.importing import import_article_folder, import_ticket_file, load_demo_desk
from kb.knowledge_drafts import compose_draft, draft_from_tickets, split_steps
from kb.lifecycle import TransitionRequest
from kb.lifecycle import transition as move_ticket
from kb.visibility import ROLES, Viewer
from tests.conftest import FIXTURES

NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
ALLOWED = {(m["from_status"], m["to_status"]): set(m["roles"].split(","))
           for m in workflow.DEFAULT_ARTICLE_TRANSITIONS}
AUTHOR, REVIEWER, AGENT = Viewer("ann", "kb_author"), Viewer("rob", "kb_reviewer"), Viewer("li", "agent")
CUSTOMER = Viewer("cust", "requester")
BODY = "# 打印机脱机\n\n## 症状\n打印机显示脱机。\n\n## 解决步骤\n1. 重启打印机\n2. 重新添加端口\n"


def _create(database: Database, actor: Viewer = AUTHOR, **fields) -> dict:
    values = {"title": "打印机脱机 printer offline", "body": BODY, "product": "printer", **fields}
    return database.write(lambda db: workflow.create_article(db, values, actor, NOW))


def _move(database: Database, article_id: int, to: str, actor: Viewer, comment: str | None = None) -> dict:
    request = workflow.MoveRequest(to=to, comment=comment)
    return database.write(lambda db: workflow.transition(db, article_id, request, actor, NOW))


def _publish(database: Database, article_id: int) -> dict:
    _move(database, article_id, "in_review", AUTHOR)
    return _move(database, article_id, "published", REVIEWER)


# ---------------------------------------------------------------- the state machine, property-based


class ArticleLifecycle(RuleBasedStateMachine):
    """Random creates, edits, moves and restores by random people in random roles, on a real database.

    After every step: only moves in the table succeed, and never by an author of the version under
    review; refused steps write nothing; published versions never change; the current version row
    holds the article's text; every change left an audit event and an outbox row.
    """

    articles = Bundle("articles")
    PEOPLE = ("ann", "bob", "rob")

    def __init__(self) -> None:
        super().__init__()
        self.folder = tempfile.TemporaryDirectory()
        self.database = Database(Path(self.folder.name) / "casewise.db")
        self.frozen: dict[tuple[int, int], tuple[str, str]] = {}  # published (article, version) -> text

    def teardown(self) -> None:
        self.database.close()
        self.folder.cleanup()

    @initialize(target=articles)
    def first(self) -> int:
        return _create(self.database, Viewer("ann", "kb_author"))["id"]

    @rule(target=articles, person=st.sampled_from(PEOPLE), role=st.sampled_from(ROLES))
    def create(self, person: str, role: str) -> int:
        try:
            return _create(self.database, Viewer(person, role))["id"]
        except Forbidden:
            assert role not in workflow.WRITER_ROLES
            return _create(self.database, Viewer(person, "kb_author"))["id"]

    @rule(article=articles, to=st.sampled_from(STATUSES), person=st.sampled_from(PEOPLE),
          role=st.sampled_from(ROLES), comment=st.booleans())
    def move(self, article: int, to: str, person: str, role: str, comment: bool) -> None:
        self._try_move(article, to, person, role, comment)

    @rule(article=articles, person=st.sampled_from(PEOPLE))
    def submit(self, article: int, person: str) -> None:
        self._try_move(article, "in_review", person, "kb_author", False)

    @rule(article=articles, person=st.sampled_from(PEOPLE), role=st.sampled_from(workflow.REVIEWER_ROLES))
    def approve(self, article: int, person: str, role: str) -> None:
        self._try_move(article, "published", person, role, False)

    def _try_move(self, article: int, to: str, person: str, role: str, comment: bool) -> None:
        before = self._snapshot(article)
        authors = self.database.read(lambda db: workflow.version_authors(db, before[0]))
        try:
            after = _move(self.database, article, to, Viewer(person, role), "请补充截图" if comment else None)
        except CasewiseError as error:
            assert self._snapshot(article) == before, "a refused move wrote something"
            if role not in ALLOWED.get((before[0]["status"], to), set()):
                assert isinstance(error, (Conflict, Forbidden, NotFound))
            return
        assert role in ALLOWED[(before[0]["status"], to)], f"{role} moved {before[0]['status']} -> {to}"
        assert after["status"] == to
        event(f"moved {before[0]['status']} -> {to}")
        if to == "published":
            assert person not in authors, "an author approved their own version"
            self.frozen[(article, after["current_version"])] = (after["title"], after["body"])
        assert self._snapshot(article)[1] > before[1] and self._snapshot(article)[3] > before[3]

    @rule(article=articles, person=st.sampled_from(PEOPLE), role=st.sampled_from(ROLES),
          text=st.text(st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), min_size=1, max_size=40))
    def edit(self, article: int, person: str, role: str, text: str) -> None:
        before = self._snapshot(article)
        fields = {"body": f"# 标题\n\n{text}\n", "tags": [text[:10]]}
        try:
            self.database.write(lambda db: workflow.update_draft(db, article, fields, Viewer(person, role), NOW))
        except CasewiseError:
            assert self._snapshot(article) == before
            return
        assert before[0]["status"] == "draft"

    @rule(article=articles, version=st.integers(1, 6), person=st.sampled_from(PEOPLE), role=st.sampled_from(ROLES))
    def restore(self, article: int, version: int, person: str, role: str) -> None:
        before = self._snapshot(article)
        try:
            after = self.database.write(
                lambda db: workflow.restore_version(db, article, version, Viewer(person, role), NOW))
        except CasewiseError:
            assert self._snapshot(article) == before
            return
        assert after["status"] == "draft" and after["current_version"] == before[0]["current_version"] + 1

    def _snapshot(self, article_id: int) -> tuple[dict, int, list, int]:
        def read(db):
            row = dict(db.execute("SELECT * FROM articles WHERE id = ?", [article_id]).fetchone())
            events = db.execute("SELECT COUNT(*) FROM audit_events WHERE entity_id = ?"
                                " AND entity_type = 'article'", [article_id]).fetchone()[0]
            versions = [tuple(r) for r in db.execute(
                "SELECT version, title, body, front_matter FROM article_versions WHERE article_id = ?"
                " ORDER BY version", [article_id])]
            queued = db.execute("SELECT COUNT(*) FROM outbox WHERE entity_type = 'article' AND entity_id = ?",
                                [article_id]).fetchone()[0]
            return row, events, versions, queued
        return self.database.read(read)

    @invariant()
    def versions_are_whole_and_published_ones_never_change(self) -> None:
        def check(db) -> None:
            for row in db.execute("SELECT * FROM articles").fetchall():
                versions = {r["version"]: r for r in db.execute(
                    "SELECT * FROM article_versions WHERE article_id = ?", [row["id"]])}
                assert sorted(versions) == list(range(1, row["current_version"] + 1))
                current = versions[row["current_version"]]
                assert (current["title"], current["body"]) == (row["title"], row["body"])
        self.database.read(check)
        for (article, version), text in self.frozen.items():
            stored = self.database.read(lambda db: db.execute(
                "SELECT title, body FROM article_versions WHERE article_id = ? AND version = ?",
                [article, version]).fetchone())
            assert tuple(stored) == text, "a published version changed"


ArticleLifecycle.TestCase.settings = settings(
    max_examples=60, stateful_step_count=40, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
test_article_lifecycle = ArticleLifecycle.TestCase


def test_every_state_is_reachable_and_the_table_is_in_the_database(database: Database) -> None:
    assert {to for _, to in ALLOWED} == set(STATUSES)
    stored = database.read(lambda db: db.execute("SELECT COUNT(*) FROM article_transitions").fetchone()[0])
    assert stored == len(workflow.DEFAULT_ARTICLE_TRANSITIONS)


# ---------------------------------------------------------------- review


def test_author_cannot_approve_own_version_unless_configured(database: Database) -> None:
    article = _create(database, Viewer("rob", "kb_reviewer"))
    _move(database, article["id"], "in_review", Viewer("rob", "kb_reviewer"))
    with pytest.raises(Conflict, match="another reviewer must approve"):
        _move(database, article["id"], "published", Viewer("rob", "kb_reviewer"))
    database.write(lambda db: db.execute("UPDATE article_transitions SET distinct_reviewer = 0"
                                         " WHERE to_status = 'published'"))
    assert _move(database, article["id"], "published", Viewer("rob", "kb_reviewer"))["status"] == "published"


def test_return_needs_a_comment_and_the_author_sees_it(database: Database) -> None:
    article = _create(database)
    _move(database, article["id"], "in_review", AUTHOR)
    with pytest.raises(InvalidInput, match="needs: comment"):
        _move(database, article["id"], "draft", REVIEWER)
    _move(database, article["id"], "draft", REVIEWER, comment="请补充 Windows 11 的截图")
    shown = database.read(lambda db: workflow.article_for(db, article["id"], AUTHOR))
    assert shown["status"] == "draft" and shown["review_comments"][0]["comment"] == "请补充 Windows 11 的截图"
    assert shown["allowed_moves"] == ["archived", "in_review"]


def test_illegal_move_names_allowed_moves_and_writes_nothing(database: Database) -> None:
    article = _create(database)
    events = database.read(lambda db: len(workflow.article_events(db, article["id"], AUTHOR)))
    with pytest.raises(Conflict, match="Allowed moves: archived, in_review"):
        _move(database, article["id"], "published", AUTHOR)
    assert database.read(lambda db: len(workflow.article_events(db, article["id"], AUTHOR))) == events


def test_publish_and_archive_update_the_index_through_the_outbox(database: Database) -> None:
    article = _create(database)
    chunks = lambda: database.read(lambda db: db.execute(  # noqa: E731
        "SELECT COUNT(*) FROM chunks WHERE kind = 'article' AND entity_id = ?", [article["id"]]).fetchone()[0])
    _publish(database, article["id"])
    sync.rechunk_pending(database)
    assert chunks() >= 2
    _move(database, article["id"], "archived", REVIEWER)
    sync.rechunk_pending(database)
    assert chunks() == 0
    actions = [(e["action"], e["data"].get("to")) for e in
               database.read(lambda db: workflow.article_events(db, article["id"], AUTHOR))]
    assert actions == [("created", None), ("transition", "in_review"), ("transition", "published"),
                       ("transition", "archived")]


def test_publishing_sets_reviewer_and_a_review_by_date(database: Database) -> None:
    article = _publish(database, _create(database)["id"])
    assert article["reviewer"] == "rob"
    assert article["review_by"] == (NOW.date() + timedelta(days=workflow.REVIEW_INTERVAL_DAYS)).isoformat()
    kept = _publish(database, _create(database, review_by="2027-03-01")["id"])
    assert kept["review_by"] == "2027-03-01"


# ---------------------------------------------------------------- versions, diff, restore


def test_published_change_is_a_new_version_and_diff_shows_it(database: Database) -> None:
    article = _publish(database, _create(database)["id"])
    with pytest.raises(Conflict, match="only a draft can be edited"):
        database.write(lambda db: workflow.update_draft(db, article["id"], {"title": "x"}, AUTHOR, NOW))
    assert _move(database, article["id"], "draft", AUTHOR)["current_version"] == 2
    new_body = BODY.replace("2. 重新添加端口", "2. 删除并重新添加 TCP/IP 端口\n3. 打印测试页")
    database.write(lambda db: workflow.update_draft(db, article["id"], {"body": new_body, "tags": ["脱机"]},
                                                    AUTHOR, NOW))
    versions = database.read(lambda db: workflow.list_versions(db, article["id"], AUTHOR))
    assert [(v["version"], v["published_at"] is not None) for v in versions] == [(2, False), (1, True)]
    diff = database.read(lambda db: workflow.diff_versions(db, article["id"], 1, 2, AUTHOR))
    assert diff["fields"] == {"tags": [[], ["脱机"]]}
    assert (diff["added"], diff["removed"]) == (2, 1)
    assert "-2. 重新添加端口" in diff["unified"] and "+3. 打印测试页" in diff["unified"]
    changed = [r for r in diff["side_by_side"] if r["op"] != "equal"]
    assert changed[0] == {"op": "replace", "old_no": 8, "old": "2. 重新添加端口", "new_no": 8,
                          "new": "2. 删除并重新添加 TCP/IP 端口"}
    assert changed[1]["op"] == "insert" and changed[1]["old"] is None


def test_restore_copies_an_old_version_into_a_new_draft(database: Database) -> None:
    article = _publish(database, _create(database)["id"])
    _move(database, article["id"], "draft", AUTHOR)
    database.write(lambda db: workflow.update_draft(db, article["id"], {"title": "改坏了", "body": "# 改坏了\n"},
                                                    AUTHOR, NOW))
    _publish(database, article["id"])
    restored = database.write(lambda db: workflow.restore_version(db, article["id"], 1, AUTHOR, NOW))
    assert (restored["status"], restored["current_version"], restored["title"]) == ("draft", 3, article["title"])
    assert restored["body"] == BODY
    versions = database.read(lambda db: workflow.list_versions(db, article["id"], AUTHOR))
    assert [v["version"] for v in versions] == [3, 2, 1]
    with pytest.raises(NotFound, match="no version 9"):
        database.write(lambda db: workflow.restore_version(db, article["id"], 9, AUTHOR, NOW))
    _move(database, article["id"], "in_review", AUTHOR)
    with pytest.raises(Conflict, match="in review"):
        database.write(lambda db: workflow.restore_version(db, article["id"], 1, AUTHOR, NOW))


lines = st.lists(st.text(st.sampled_from("ab 中文#-\t"), max_size=6), max_size=12)


@given(old=lines, new=lines)
def test_diff_rows_rebuild_both_texts(old: list[str], new: list[str]) -> None:
    diff = workflow.diff_markdown("\n".join(old), "\n".join(new))
    rows = diff["side_by_side"]
    assert [r["old"] for r in rows if r["old"] is not None] == "\n".join(old).splitlines()
    assert [r["new"] for r in rows if r["new"] is not None] == "\n".join(new).splitlines()
    assert all(r["old"] == r["new"] for r in rows if r["op"] == "equal")
    same = "\n".join(old).splitlines() == "\n".join(new).splitlines()
    assert (diff["added"] == 0 and diff["removed"] == 0) == same


# ---------------------------------------------------------------- who sees what


@pytest.mark.parametrize(("status", "audience", "expected"), [
    ("published", "public", {"requester", "agent", "kb_author", "kb_reviewer", "owner"}),
    ("published", "internal", {"agent", "kb_author", "kb_reviewer", "owner"}),
    ("archived", "public", {"agent", "kb_author", "kb_reviewer", "owner"}),
    ("draft", "public", {"kb_author", "kb_reviewer", "owner"}),
    ("in_review", "internal", {"kb_author", "kb_reviewer", "owner"}),
])
def test_visibility_per_role(database: Database, status: str, audience: str, expected: set[str]) -> None:
    article = _create(database, Viewer("li", "agent"), audience=audience)
    database.write(lambda db: db.execute("UPDATE articles SET status = ? WHERE id = ?", [status, article["id"]]))
    viewers = {"requester": CUSTOMER, "agent": Viewer("other", "agent"), "kb_author": AUTHOR,
               "kb_reviewer": REVIEWER, "owner": Viewer("li", "agent")}
    seen = set()
    for label, viewer in viewers.items():
        try:
            database.read(lambda db, v=viewer: workflow.article_for(db, article["id"], v))
        except NotFound:
            listed = database.read(
                lambda db, v=viewer: workflow.list_articles(db, v, workflow.ArticleFilter(), 1, 50))
            assert article["id"] not in [a["id"] for a in listed[0]]
            continue
        seen.add(label)
        searchable = database.read(lambda db, v=viewer: searchable_articles_by_id(db, [article["id"]], v))
        assert (article["id"] in searchable) == (status != "archived")
    assert seen == expected


def test_requesters_never_see_working_fields_or_history(database: Database) -> None:
    article = _publish(database, _create(database)["id"])
    shown = database.read(lambda db: workflow.article_for(db, article["id"], CUSTOMER))
    assert "owner" not in shown and "allowed_moves" not in shown and shown["body"] == BODY
    for read in (workflow.list_versions, workflow.article_events):
        with pytest.raises(NotFound):
            database.read(lambda db, read=read: read(db, article["id"], CUSTOMER))


def test_bad_fields_are_refused_naming_each(database: Database) -> None:
    with pytest.raises(InvalidInput) as error:
        _create(database, audience="everyone", language="fr", review_by="next week")
    assert {"audience is 'everyone'", "language is 'fr'", "review_by is 'next week'"} <= {
        p.split(";")[0] for p in error.value.problems}
    with pytest.raises(Forbidden, match="cannot write articles"):
        _create(database, CUSTOMER)
    _create(database, slug="printer-offline")
    with pytest.raises(Conflict, match="taken"):
        _create(database, slug="printer-offline")
    assert _create(database)["slug"] == "printer-offline-2"


# ---------------------------------------------------------------- drafts from tickets, personal data


@pytest.fixture
def desk_with_tickets(database: Database) -> Database:
    load_demo_desk(database)
    import_ticket_file(database, FIXTURES / "tickets.jsonl", "test", "CW")
    return database


def _ticket(number: str = "CW-1", **fields) -> dict:
    return {"id": 1, "number": number, "title": "打印机脱机", "description": "", "status": "closed",
            "resolution": "重启后恢复。", "root_cause": None, "language": "zh", "product": "printer", **fields}


def test_personal_data_is_removed_and_reported() -> None:
    ticket = _ticket(
        description="客户张琳（138-0000-1960）反映打印机脱机，邮件 zhang.lin@example.com，宁波海拓进出口贸易有限公司财务部",
        resolution="远程协助张琳删除打印机后重新添加 TCP/IP 端口。打印测试页正常", requester="张琳",
        contact="138-0000-1960", organisation="宁波海拓进出口贸易有限公司", error_codes=["E-1023"])
    draft = compose_draft([ticket], ["陈刚"])
    text = draft.fields["title"] + draft.fields["body"]
    for secret in ("张琳", "138-0000-1960", "zhang.lin@example.com", "宁波海拓进出口贸易有限公司"):
        assert secret not in text
    assert {(r.kind, r.text) for r in draft.removed} == {
        ("name", "张琳"), ("phone", "138-0000-1960"), ("email", "zhang.lin@example.com"),
        ("organisation", "宁波海拓进出口贸易有限公司")}
    assert "1. 远程协助[姓名]删除打印机后重新添加 TCP/IP 端口。" in draft.fields["body"]
    assert "`E-1023`" in draft.fields["body"] and draft.fields["tags"] == ["E-1023"]


def test_demo_tickets_leave_no_known_personal_data_in_drafts() -> None:
    """Every demo ticket drafted alone: its customer, contact and organisation never reach the draft."""
    demo = Path(__file__).resolve().parent.parent / "kb" / "demo_data"
    staff = [m["display_name"] for m in json.loads((demo / "desk.json").read_text(encoding="utf-8"))["members"]]
    records = [json.loads(line) for path in sorted((demo / "tickets").glob("*.jsonl"))
               for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    removed = 0
    for n, record in enumerate(records):
        draft = compose_draft([{**record, "number": f"T{n}", "requester": record.get("customer")}], staff)
        text = draft.fields["title"] + draft.fields["body"]
        assert not [v for v in (record.get("customer"), record.get("contact"), record.get("organisation"))
                    if v and v in text], record["title"]
        removed += len(draft.removed)
    assert removed >= 30


def test_the_requesters_account_name_is_removed_too(desk_with_tickets: Database) -> None:
    from kb.users import create_user

    database = desk_with_tickets
    database.write(lambda db: create_user(db, "wh.liu", "刘文华", "requester", "correct horse battery", NOW))
    database.write(lambda db: db.execute(
        "UPDATE tickets SET requester = 'wh.liu', description = '我是刘文华，打印机连不上 WiFi' WHERE id = 1"))
    result = database.write(lambda db: draft_from_tickets(db, [1], Viewer("mia", "manager"), NOW))
    assert "刘文华" not in result["article"]["body"]
    assert {"kind": "name", "text": "刘文华", "field": "description"}.items() <= result["removed"][0].items()


def test_steps_split_at_sentences() -> None:
    assert split_steps("删除旧驱动。安装 4.2 版本；重启。") == ["删除旧驱动。", "安装 4.2 版本", "重启。"]
    assert split_steps("Removed the old driver. Installed 4.2. Rebooted") == [
        "Removed the old driver.", "Installed 4.2.", "Rebooted"]


def test_draft_from_tickets_links_back_and_refuses_open_tickets(desk_with_tickets: Database) -> None:
    database = desk_with_tickets
    ids = database.read(lambda db: [r[0] for r in db.execute("SELECT id FROM tickets ORDER BY id LIMIT 2")])
    result = database.write(lambda db: draft_from_tickets(db, ids, AGENT, NOW))
    article = result["article"]
    assert (article["status"], article["audience"], article["owner"]) == ("draft", "internal", "li")
    shown = database.read(lambda db: workflow.article_for(db, article["id"], AGENT))
    assert {(t["id"], t["relation"]) for t in shown["tickets"]} == {(i, "source") for i in ids}
    events = database.read(lambda db: workflow.article_events(db, article["id"], AGENT))
    assert events[0]["action"] == "drafted" and len(events[0]["data"]["tickets"]) == 2
    database.write(lambda db: db.execute("UPDATE tickets SET status = 'in_progress' WHERE id = ?", [ids[0]]))
    with pytest.raises(InvalidInput, match="only resolved or closed"):
        database.write(lambda db: draft_from_tickets(db, ids, Viewer("mia", "manager"), NOW))
    with pytest.raises(NotFound):  # an agent outside the ticket's team does not see it at all
        database.write(lambda db: draft_from_tickets(db, ids, AGENT, NOW))
    with pytest.raises(Forbidden):
        database.write(lambda db: draft_from_tickets(db, ids[1:], CUSTOMER, NOW))


# ---------------------------------------------------------------- export round trip


def test_export_then_import_gives_back_every_field(database: Database, tmp_path: Path) -> None:
    import_article_folder(database, FIXTURES / "articles", "test")
    _publish(database, _create(database, title="VPN 812: 'quotes' & colons: yes", review_by="2027-01-31",
                               tags=["VPN", "812"], language="mixed", audience="internal")["id"])
    files = export_article_folder(database, tmp_path / "out")
    assert len(files) == 4
    assert import_article_folder(database, tmp_path / "out", "test")["unchanged"] == 4
    copy = Database(tmp_path / "copy.db")
    try:
        import_article_folder(copy, tmp_path / "out", "test")
        columns = "slug, title, product, category, tags, language, status, audience, body, owner, review_by"
        rows = [d.read(lambda db: [tuple(r) for r in db.execute(f"SELECT {columns} FROM articles ORDER BY slug")])
                for d in (database, copy)]
        assert rows[0] == rows[1]
    finally:
        copy.close()


# ---------------------------------------------------------------- effectiveness, stale, boost


def test_effectiveness_counts_signals_solved_tickets_and_reopens(desk_with_tickets: Database) -> None:
    database = desk_with_tickets
    article = _publish(database, _create(database)["id"])
    ticket_ids = database.read(lambda db: [r[0] for r in db.execute("SELECT id FROM tickets LIMIT 2")])
    database.write(lambda db: record_suggested(db, [article["id"], 999_999], AGENT, NOW))
    for kind in ("opened", "opened", "solved_it"):
        database.write(lambda db, kind=kind: record_signal(db, article["id"], kind, CUSTOMER, NOW, query="打印机脱机"))
    rules = DeskRules()
    for ticket_id in ticket_ids:
        database.write(lambda db, t=ticket_id: db.execute(
            "INSERT INTO ticket_articles (ticket_id, article_id, relation, created_at)"
            " VALUES (?, ?, 'solved_by', ?)",
            [t, article["id"], NOW.isoformat()]))
    closed = database.read(lambda db: db.execute("SELECT closed_at, resolved_at FROM tickets WHERE id = ?",
                                                 [ticket_ids[0]]).fetchone())
    soon = parse_iso(closed[0] or closed[1]) + timedelta(days=1)
    database.write(lambda db: move_ticket(db, ticket_ids[0], TransitionRequest(to="reopened", reason="又脱机了"),
                                          Viewer("mia", "manager"), rules, soon))
    found = database.read(lambda db: effectiveness(db, article["id"], AGENT))
    assert {k: found[k] for k in ("suggested", "opened", "solved_it", "deflections", "solved_by_tickets",
                                  "reopened_tickets", "reopen_rate", "solved_rate")} == {
        "suggested": 1, "opened": 2, "solved_it": 1, "deflections": 1, "solved_by_tickets": 2,
        "reopened_tickets": 1, "reopen_rate": 0.5, "solved_rate": 0.5}
    deflection = database.read(lambda db: dict(db.execute("SELECT * FROM deflections").fetchone()))
    again = database.write(
        lambda db: record_signal(db, article["id"], "solved_it", AGENT, NOW, ticket_id=ticket_ids[1]))
    assert again["id"] == 5 and again["deflection_id"] is None  # with a ticket it is not a deflection
    assert (deflection["viewer"], deflection["query"], deflection["ticket_id"]) == ("cust", "打印机脱机", None)
    stale = database.read(lambda db: stale_articles(db, NOW.date()))
    assert stale[0]["reasons"] == ["reopened_tickets"] and stale[0]["reopened_tickets"][0]["id"] == ticket_ids[0]


def test_signals_need_a_visible_article_and_a_known_kind(database: Database) -> None:
    draft = _create(database)
    with pytest.raises(NotFound):
        database.write(lambda db: record_signal(db, draft["id"], "opened", CUSTOMER, NOW))
    with pytest.raises(InvalidInput, match="not one of"):
        database.write(lambda db: record_signal(db, draft["id"], "liked", AUTHOR, NOW))


def test_stale_lists_overdue_articles_for_their_owner(database: Database) -> None:
    overdue = _publish(database, _create(database, review_by="2026-10-01")["id"])
    _publish(database, _create(database, Viewer("bob", "kb_author"), review_by="2026-09-01")["id"])
    _publish(database, _create(database, review_by="2027-10-01")["id"])
    mine = database.read(lambda db: stale_articles(db, date(2026, 11, 20), owner="ann"))
    assert [(e["article"]["id"], e["reasons"], e["days_overdue"]) for e in mine] == [
        (overdue["id"], ["review_overdue"], 50)]
    assert len(database.read(lambda db: stale_articles(db, date(2026, 11, 20)))) == 2


@given(solved=st.integers(0, 10_000), opened=st.integers(0, 10_000), more=st.integers(1, 100))
def test_boost_is_bounded_and_moves_the_right_way(solved: int, opened: int, more: int) -> None:
    boost = solved_boost(solved, opened)
    assert 0.0 <= boost < MAX_BOOST
    assert (boost == 0.0) == (solved == 0)
    assert solved_boost(solved + more, opened) >= boost
    assert solved_boost(solved, max(opened, solved) + more) <= boost


def test_boosts_for_reads_signal_counts(database: Database) -> None:
    article = _publish(database, _create(database)["id"])
    for _ in range(5):
        database.write(lambda db: record_signal(db, article["id"], "solved_it", AGENT, NOW))
    boosts = database.read(lambda db: boosts_for(db, [article["id"], 12345]))
    assert boosts == {article["id"]: pytest.approx(solved_boost(5, 0)), 12345: 0.0}
