"""Real browser tests: Playwright (sync API) driving Debian's chromium, never a downloaded browser.

Use from a test module, e.g.::

    @pytest.fixture(scope="session")
    def browser():
        with launch_chromium() as browser:
            yield browser

Playwright's sync API runs its own event loop in the calling thread, so call these from the test
thread only; the server under test runs in its own thread (tests/server.py).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Page

CHROMIUM = Path("/usr/bin/chromium")
SKIP_VARIABLE = "CASEWISE_SKIP_BROWSER_TESTS"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-dev-shm-usage"]

# Nothing may fetch Playwright's own browser builds.
os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")


def require_chromium() -> Path:
    """Debian's chromium, or fail the test (skip only when CASEWISE_SKIP_BROWSER_TESTS=1)."""
    if os.environ.get(SKIP_VARIABLE) == "1":
        pytest.skip(f"browser tests skipped: {SKIP_VARIABLE}=1")
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"browser tests need Debian's chromium at {CHROMIUM}: install it with "
            "'sudo apt-get install chromium' (./scripts/install.sh does this when it can), "
            f"or set {SKIP_VARIABLE}=1 to skip them",
            pytrace=False,
        )
    return CHROMIUM


@contextmanager
def launch_chromium() -> Iterator[Browser]:
    """Start sync Playwright and a headless /usr/bin/chromium; yields the Browser, closes both."""
    executable = require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(executable), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


def new_page(
    browser: Browser, base_url: str, locale: str = "zh-CN", viewport: tuple[int, int] = (1280, 800)
) -> Page:
    """A page in a fresh context with `locale` (navigator.language, Accept-Language) and `viewport`.

    Relative URLs in page.goto resolve against `base_url`. Close it with `page.context.close()`.
    """
    width, height = viewport
    context = browser.new_context(
        base_url=base_url,
        locale=locale,
        viewport={"width": width, "height": height},
        extra_http_headers={"Accept-Language": locale},
    )
    try:
        return context.new_page()
    except BaseException:
        context.close()
        raise


def collect_console_errors(page: Page) -> list[str]:
    """A list that fills with the page's console errors and uncaught exceptions from now on."""
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(f"console.error at {message.location.get('url') or '?'}: {message.text}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: errors.append(f"uncaught: {error}"))
    return errors
