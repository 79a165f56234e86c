"""Accounts: argon2 passwords with lockout and backoff, hashed revocable tokens, sessions, disabling."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kb.db import Database
from kb.errors import Conflict, InvalidInput, NotFound
from kb.users import (
    Lockout,
    SignInRefused,
    attempt_sign_in,
    close_session,
    create_token,
    create_user,
    open_session,
    revoke_token,
    session_user,
    set_active,
    set_password,
    user_for_token,
    viewer_for,
)

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
LOCKOUT = Lockout(max_failures=3, first_lock_seconds=60, max_lock_seconds=600)


@pytest.fixture
def accounts(database: Database) -> Database:
    database.write(lambda db: create_user(db, "li.wei", "李伟", "agent", "correct horse battery", NOW))
    return database


def sign_in(database: Database, password: str, at: datetime):
    """Like the sign-in page: the attempt (and its failure count) commits, then a refusal is raised."""
    outcome = database.write(lambda db: attempt_sign_in(db, "li.wei", password, at, LOCKOUT))
    if outcome.refused:
        raise outcome.refused
    return outcome.viewer


def test_passwords_are_argon2_and_never_returned(accounts: Database) -> None:
    stored = accounts.read(lambda db: db.execute("SELECT password_hash FROM users").fetchone()[0])
    assert stored.startswith("$argon2id$") and "correct" not in stored
    assert sign_in(accounts, "correct horse battery", NOW).role == "agent"


def test_lockout_doubles_and_a_correct_password_waits_too(accounts: Database) -> None:
    for _ in range(2):
        with pytest.raises(SignInRefused, match="wrong user name or password"):
            sign_in(accounts, "nope", NOW)
    with pytest.raises(SignInRefused):
        sign_in(accounts, "nope", NOW)  # third failure: locked for 60 s
    with pytest.raises(SignInRefused, match="try again in") as locked:
        sign_in(accounts, "correct horse battery", NOW + timedelta(seconds=30))
    assert 0 < locked.value.retry_after <= 31
    with pytest.raises(SignInRefused):
        sign_in(accounts, "nope", NOW + timedelta(seconds=61))  # fourth: 120 s
    with pytest.raises(SignInRefused, match="try again in"):
        sign_in(accounts, "correct horse battery", NOW + timedelta(seconds=150))
    assert sign_in(accounts, "correct horse battery", NOW + timedelta(seconds=190)).name == "li.wei"


def test_unknown_names_get_the_same_answer(accounts: Database) -> None:
    with pytest.raises(SignInRefused, match="wrong user name or password"):
        outcome = accounts.write(lambda db: attempt_sign_in(db, "nobody", "whatever12", NOW, LOCKOUT))
        raise outcome.refused


def test_bad_accounts_are_refused_with_reasons(accounts: Database) -> None:
    with pytest.raises(InvalidInput) as error:
        accounts.write(lambda db: create_user(db, "X Y", " ", "boss", "short", NOW))
    assert len(error.value.problems) == 4
    with pytest.raises(Conflict):
        accounts.write(lambda db: create_user(db, "li.wei", "again", "agent", None, NOW))


def test_tokens_are_hashed_revocable_and_die_with_a_disabled_account(accounts: Database) -> None:
    token_id, token = accounts.write(lambda db: create_token(db, "li.wei", "cli", NOW))
    assert token.startswith("cw_") and accounts.read(
        lambda db: db.execute("SELECT COUNT(*) FROM api_tokens WHERE token_hash = ?", [token]).fetchone()[0]) == 0
    assert accounts.read(lambda db: user_for_token(db, token)) == "li.wei"
    accounts.write(lambda db: revoke_token(db, token_id, "li.wei", NOW))
    assert accounts.read(lambda db: user_for_token(db, token)) is None
    with pytest.raises(NotFound):
        accounts.write(lambda db: revoke_token(db, token_id, "someone.else", NOW))
    accounts.write(lambda db: set_active(db, "li.wei", False))
    with pytest.raises(NotFound):
        accounts.read(lambda db: viewer_for(db, "li.wei"))


def test_sessions_expire_close_and_end_when_disabled(accounts: Database) -> None:
    session, csrf = accounts.write(lambda db: open_session(db, "li.wei", NOW, timedelta(hours=1)))
    assert accounts.read(lambda db: session_user(db, session, NOW)) == ("li.wei", csrf)
    assert accounts.read(lambda db: session_user(db, session, NOW + timedelta(hours=2))) is None
    accounts.write(lambda db: close_session(db, session))
    assert accounts.read(lambda db: session_user(db, session, NOW)) is None
    other, _ = accounts.write(lambda db: open_session(db, "li.wei", NOW, timedelta(hours=1)))
    accounts.write(lambda db: set_active(db, "li.wei", False))
    assert accounts.read(lambda db: session_user(db, other, NOW)) is None


def test_set_password_lifts_a_lockout(accounts: Database) -> None:
    for _ in range(3):
        with pytest.raises(SignInRefused):
            sign_in(accounts, "nope", NOW)
    accounts.write(lambda db: set_password(db, "li.wei", "a new long password"))
    assert sign_in(accounts, "a new long password", NOW).name == "li.wei"
