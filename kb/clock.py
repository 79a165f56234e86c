"""Time helpers: all stored times are ISO 8601 strings with an offset."""

from datetime import UTC, datetime


def utc_now() -> datetime:
    """The current moment (aware, UTC)."""
    return datetime.now(UTC)


def now_iso() -> str:
    """The current UTC time as ISO 8601 with seconds precision."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def parse_iso(value: str) -> datetime:
    """Parse an ISO 8601 timestamp; a naive value is taken as UTC."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
