"""Per-user request limits (sliding one-minute window, in memory: one process serves the desk)."""

from __future__ import annotations

import math
import threading
import time
from collections import defaultdict, deque

from starlette.exceptions import HTTPException

WINDOW_SECONDS = 60.0


class TooManyRequests(HTTPException):
    """429 with Retry-After."""

    def __init__(self, retry_after: int, limit: int, setting: str) -> None:
        super().__init__(429, f"more than {limit} requests a minute; wait {retry_after} s (setting {setting})",
                         headers={"Retry-After": str(retry_after)})


class RateLimiter:
    """At most `limit` calls per key in any 60-second window."""

    def __init__(self, limit: int, setting: str) -> None:
        self.limit = limit
        self.setting = setting
        self._calls: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def check(self, key: str) -> None:
        """Count one call for `key`; raise TooManyRequests when over the limit."""
        now = time.monotonic()
        with self._lock:
            calls = self._calls[key]
            while calls and calls[0] <= now - WINDOW_SECONDS:
                calls.popleft()
            if len(calls) >= self.limit:
                retry_after = max(1, math.ceil(calls[0] + WINDOW_SECONDS - now))
                raise TooManyRequests(retry_after, self.limit, self.setting)
            calls.append(now)
