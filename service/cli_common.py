"""What every `casewise` command shares: the consoles and turning domain errors into exit code 2."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console

from kb.errors import CasewiseError

console = Console(stderr=True)
out = Console()


@contextmanager
def user_errors() -> Iterator[None]:
    """Show domain errors as a message and exit 2, never a traceback."""
    try:
        yield
    except CasewiseError as error:
        console.print(f"error: {error}", style="red", highlight=False, markup=False)
        raise typer.Exit(2) from None
