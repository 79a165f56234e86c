"""`casewise create-user`, `create-token`, `revoke-token`: accounts from the command line."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.console import Console

from kb import users
from kb.clock import utc_now
from kb.permissions import ROLES
from service.cli_common import user_errors
from service.runtime import open_database
from service.settings import Settings

out = Console()


def create_user(
    username: Annotated[str, typer.Argument(help="Sign-in name: lowercase letters, digits, '.', '_', '-'.")],
    role: Annotated[str, typer.Option(help=f"One of: {', '.join(ROLES)}.")],
    name: Annotated[str | None, typer.Option(help="Display name (default: the username).")] = None,
    organisation: Annotated[str | None, typer.Option(help="A requester's organisation.")] = None,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from standard "
                                                 "input instead of prompting.")] = False,
    no_password: Annotated[bool, typer.Option("--no-password", help="API-token-only account (no web sign-in).")] = False,
) -> None:
    """Create an account; the password (10+ characters) is prompted for unless given on stdin."""
    password = None if no_password else _read_password(password_stdin)
    user = _write(lambda db: users.create_user(db, username, name or username, role, password, utc_now(), organisation))
    out.print(f"created {user['username']} ({user['role']})")


def create_token(
    username: Annotated[str, typer.Argument(help="The account the token acts as.")],
    name: Annotated[str, typer.Option(help="What the token is for.")] = "cli",
) -> None:
    """Print a new API token for an account (shown once; stored only hashed)."""
    token_id, token = _write(lambda db: users.create_token(db, username, name, utc_now()))
    Console(stderr=True).print(f"token {token_id} for {username}; send it as 'Authorization: Bearer <token>'")
    out.print(token, highlight=False)


def revoke_token(token_id: Annotated[int, typer.Argument(help="The token's id (GET /api/v1/me/tokens).")]) -> None:
    """Revoke an API token."""
    _write(lambda db: users.revoke_token(db, token_id, None, utc_now()))
    out.print(f"token {token_id} revoked")


def set_password(
    username: Annotated[str, typer.Argument(help="The account.")],
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from standard "
                                                 "input instead of prompting.")] = False,
) -> None:
    """Set a new password (10+ characters); this also lifts a sign-in lockout."""
    password = _read_password(password_stdin)
    _write(lambda db: users.set_password(db, username, password))
    out.print(f"password of {username} changed")


def disable_user(
    username: Annotated[str, typer.Argument(help="The account.")],
    enable: Annotated[bool, typer.Option("--enable", help="Enable the account again instead.")] = False,
) -> None:
    """Disable an account: its sessions end and its tokens stop working (history is kept)."""
    _write(lambda db: users.set_active(db, username, enable))
    out.print(f"{username} {'enabled' if enable else 'disabled'}")


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    return typer.prompt("Password", hide_input=True, confirmation_prompt=True)


def _write(fn):
    with user_errors():
        database = open_database(Settings())
        try:
            return database.write(fn)
        finally:
            database.close()
