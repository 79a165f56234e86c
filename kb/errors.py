"""Domain errors; the service maps them to HTTP status codes and the CLI to exit codes."""


class CasewiseError(Exception):
    """Base class for errors a user can act on; the message says what to fix."""


class NotFound(CasewiseError):
    """The thing does not exist, or the actor may not see it."""


class InvalidInput(CasewiseError):
    """Input that breaks a rule; nothing was written."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []

    def __str__(self) -> str:
        if not self.problems:
            return self.args[0]
        shown = "\n".join(f"  - {p}" for p in self.problems[:20])
        more = f"\n  ... and {len(self.problems) - 20} more" if len(self.problems) > 20 else ""
        return f"{self.args[0]}\n{shown}{more}"


class Conflict(CasewiseError):
    """The change is not allowed in the current state."""


class Forbidden(CasewiseError):
    """The actor may see the thing but not do this to it."""
