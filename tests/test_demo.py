"""The shipped demo data: size, languages, and that suggestions on it are relevant."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from indexer.index import SearchIndex
from indexer.search import suggest
from kb.db import Database
from kb.importing import demo_article_folder, demo_ticket_files, import_article_folder, import_ticket_file
from kb.visibility import Viewer

pytestmark = pytest.mark.slow
AGENT = Viewer("agent", "agent")


@pytest.fixture(scope="module")
def demo_index(tmp_path_factory: pytest.TempPathFactory, embedder):
    folder: Path = tmp_path_factory.mktemp("demo")
    database = Database(folder / "casewise.db")
    import_article_folder(database, demo_article_folder(), "test")
    for path in demo_ticket_files():
        import_ticket_file(database, path, "test", "CW")
    yield SearchIndex.open(database, embedder, folder / "index")
    database.close()


def test_demo_history_is_large_bilingual_and_covers_product_lines(demo_index: SearchIndex) -> None:
    rows = demo_index.database.read(lambda db: db.execute("SELECT product, language FROM tickets").fetchall())
    assert len(rows) >= 300
    products = Counter(r["product"] for r in rows)
    assert {"printer", "network", "erp", "mail", "desktop"} <= set(products)
    languages = Counter(r["language"] for r in rows)
    assert languages["zh"] >= 100 and languages["en"] >= 50 and languages["mixed"] >= 20
    articles = demo_index.database.read(lambda db: db.execute("SELECT language FROM articles").fetchall())
    assert len(articles) >= 40
    assert {"zh", "en"} <= {a["language"] for a in articles}


@pytest.mark.parametrize(
    ("text", "product", "words"),
    [
        ("打印机无法连接网络", "printer", ("打印", "printer")),
        ("VPN keeps disconnecting", "network", ("vpn",)),
        ("报销单审批一直卡着不动", "erp", ("报销", "审批", "expense")),
        ("Outlook keeps asking for my password", "mail", ("outlook",)),
        ("电脑开机蓝屏 0x0000007B", "desktop", ("蓝屏", "0x0000007b", "bsod")),
        ("scanner cannot send scan to email", "printer", ("scan", "扫描")),
    ],
)
def test_suggestions_are_about_the_problem(demo_index: SearchIndex, text: str, product: str,
                                           words: tuple[str, ...]) -> None:
    found = suggest(demo_index, text, 5, AGENT)
    for case in found.cases[:3]:
        problem = f"{case.entity['title']} {case.entity['description']}".lower()
        assert any(word in problem for word in words), (text, case.entity["title"])
    assert found.articles[0].entity["product"] == product


def test_exact_error_code_finds_its_article_first(demo_index: SearchIndex) -> None:
    found = suggest(demo_index, "0x0000011b", 5, AGENT)
    assert "0x0000011b" in found.articles[0].entity["slug"]
    assert all("0x0000011b" in (c.entity["title"] + c.entity["description"] + " ".join(c.entity["error_codes"])).lower()
               for c in found.cases[:3])
