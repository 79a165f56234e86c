"""Articles: front matter, versions, sections, safe rendering."""

from __future__ import annotations

from pathlib import Path

import pytest

from indexer.markdown import MAX_SECTION_CHARS, render_html, sections
from kb.articles import parse_article, read_article_file
from kb.db import Database
from kb.errors import InvalidInput
from kb.importing import import_article_folder
from tests.conftest import FIXTURES


def test_import_folder_creates_then_versions_changes(database: Database, tmp_path: Path) -> None:
    assert import_article_folder(database, FIXTURES / "articles", "test")["created"] == 3
    assert import_article_folder(database, FIXTURES / "articles", "test")["unchanged"] == 3
    folder = tmp_path / "kb"
    folder.mkdir()
    text = (FIXTURES / "articles" / "vpn-812.md").read_text(encoding="utf-8")
    (folder / "vpn-812.md").write_text(text + "\n## Applies to\nSecureLink 5.x\n", encoding="utf-8")
    assert import_article_folder(database, folder, "test")["updated"] == 1
    versions = database.read(lambda db: [r[0] for r in db.execute(
        "SELECT version FROM article_versions v JOIN articles a ON a.id = v.article_id WHERE a.slug = 'vpn-812'")])
    assert versions == [1, 2]


def test_front_matter_fields_are_read() -> None:
    draft = read_article_file(FIXTURES / "articles" / "printer-wifi.md")
    assert (draft.title, draft.product, draft.language, draft.tags) == (
        "打印机连接无线网络失败", "printer", "zh", ["无线", "WiFi", "JetLine"])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("---\ntitle: x\ncolour: red\n---\nbody", "unknown front matter field(s) colour"),
        ("---\ntitle: x\nstatus: live\n---\nbody", "status is 'live'"),
        ("---\ntitle: [unclosed\n---\nbody", "not valid YAML"),
        ("---\ntitle: x\n", "never ends"),
        ("---\ntitle: x\n---\n   \n", "has no body"),
        ("just text without a title", "no title"),
    ],
)
def test_bad_articles_are_refused(text: str, message: str) -> None:
    with pytest.raises(InvalidInput) as error:
        parse_article(text, "some-slug", "some-slug.md")
    assert message in str(error.value)


def test_folder_with_a_bad_file_imports_nothing(database: Database, tmp_path: Path) -> None:
    (tmp_path / "good.md").write_text("# Good\n\ntext\n", encoding="utf-8")
    (tmp_path / "bad.md").write_bytes("# Caf\u00e9\n".encode("latin-1"))
    with pytest.raises(InvalidInput, match="bad.md: not valid UTF-8"):
        import_article_folder(database, tmp_path, "test")
    assert database.read(lambda db: db.table("articles").count) == 0


def test_sections_keep_heading_path_and_lines() -> None:
    body = "# Title\n\nintro\n\n## Symptoms\nline a\n\n## Fix\n### Step 1\nrun it\n"
    found = sections(body)
    assert [s.heading_path for s in found] == [["Title"], ["Title", "Symptoms"], ["Title", "Fix", "Step 1"]]
    assert [(s.line_start, s.line_end) for s in found] == [(1, 4), (5, 7), (9, 10)]
    assert found[1].anchor == "L5" and found[1].text == "line a"


def test_long_sections_are_split_at_blank_lines() -> None:
    paragraph = "word " * 200
    found = sections(f"# T\n\n{paragraph}\n\n{paragraph}\n\n{paragraph}\n")
    assert len(found) >= 2
    assert all(len(s.text) <= MAX_SECTION_CHARS or "\n\n" not in s.text for s in found)
    assert "\n\n".join(s.text for s in found).count("word") == 600


@pytest.mark.parametrize(
    "dangerous",
    [
        "<script>alert(1)</script>",
        "[click](javascript:alert(1))",
        '<img src=x onerror="alert(1)">',
        "<a href='javascript:alert(1)'>x</a>",
        "[x](vbscript:msgbox)",
        "![x](data:text/html;base64,PHNjcmlwdD4=)",
    ],
)
def test_rendering_never_passes_raw_html_or_script_links(dangerous: str) -> None:
    rendered = render_html(f"# T\n\n{dangerous}\n")
    assert "<script" not in rendered and "<img src=x" not in rendered
    assert 'href="javascript:' not in rendered and 'href="vbscript:' not in rendered
    assert 'src="data:text/html' not in rendered


def test_headings_get_anchor_ids() -> None:
    assert '<h2 id="L3">Fix</h2>' in render_html("# T\n\n## Fix\nx\n")
