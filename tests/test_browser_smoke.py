"""A real browser (Debian's chromium via Playwright) against a real server."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from kb.importing import import_article_folder
from service.app import create_app
from service.runtime import open_database, open_runtime
from service.settings import Settings
from tests.browser import collect_console_errors, launch_chromium, new_page
from tests.conftest import FIXTURES
from tests.server import running_server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def browser():
    started = time.monotonic()
    with launch_chromium() as browser:
        print(f"chromium {browser.version} launched in {time.monotonic() - started:.2f} s")
        yield browser


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory, embedder) -> Iterator[str]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("data"))
    database = open_database(settings)
    import_article_folder(database, FIXTURES / "articles", "test")
    database.close()
    runtime = open_runtime(settings, embedder_factory=lambda _: embedder)
    with running_server(create_app(settings, runtime)) as url:
        yield url
    runtime.close()


def test_article_page_shows_its_title_without_console_errors(browser, base_url: str) -> None:
    from playwright.sync_api import expect

    page = new_page(browser, base_url)
    try:
        errors = collect_console_errors(page)
        response = page.goto("/articles/printer-wifi", wait_until="load")
        assert response is not None and response.status == 200
        expect(page).to_have_title("打印机连接无线网络失败 · Casewise")
        expect(page.get_by_role("heading", level=1, name="打印机连接无线网络失败")).to_be_visible()
        assert page.evaluate("navigator.language") == "zh-CN"
        page.wait_for_load_state("networkidle")
        # The app serves no /favicon.ico and chromium asks for one by itself: not the page's error.
        favicon = f"console.error at {base_url}/favicon.ico: "
        assert [error for error in errors if not error.startswith(favicon)] == []
    finally:
        page.context.close()
