"""Spreading keep-alive connections evenly over the processes of a multi-worker server."""

from __future__ import annotations

import fcntl
import math
import mmap
import os
from pathlib import Path

from starlette.types import ASGIApp, Message, Receive, Scope, Send

SLOTS = 64
SLOT_BYTES = 4


class WorkerLoad:
    """Requests in flight per worker process, in a small file that every worker of a server maps.

    A worker claims a slot by locking its bytes (the lock goes with the process, so a restarted
    worker reuses a dead one's slot) and is the only writer of it; reading all slots costs no
    system call.
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        if os.fstat(self._fd).st_size < SLOTS * SLOT_BYTES:
            os.ftruncate(self._fd, SLOTS * SLOT_BYTES)
        self._map = mmap.mmap(self._fd, SLOTS * SLOT_BYTES)
        self._counts = memoryview(self._map).cast("i")
        self.slot = self._claim_slot()
        self._counts[self.slot] = 0

    def _claim_slot(self) -> int:
        for slot in range(SLOTS):
            try:
                fcntl.lockf(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB, SLOT_BYTES, slot * SLOT_BYTES)
                return slot
            except OSError:
                continue
        raise RuntimeError(f"more than {SLOTS} worker processes share one load file")

    def enter(self) -> None:
        """A request started in this process."""
        self._counts[self.slot] += 1

    def leave(self) -> None:
        """A request finished in this process."""
        self._counts[self.slot] -= 1

    def in_flight(self) -> int:
        """Requests in flight in all the server's processes."""
        return sum(self._counts)

    def over_share(self, workers: int) -> bool:
        """Whether this process has more requests in flight than its even share of all of them."""
        total = sum(self._counts)
        return self._counts[self.slot] > math.ceil(total / workers)

    def close(self) -> None:
        """Release the slot (its count is reset by the next process that claims it)."""
        self._counts.release()
        self._map.close()
        os.close(self._fd)


class BalanceWorkers:
    """Ask a client to reconnect when this process holds more than its share of the requests.

    A keep-alive connection stays with the process that accepted it, and a burst of new
    connections tends to land on one process: with 16 bench clients on two workers, the
    slowest client's mean latency was 2.7 times the fastest's. An answer from a process over its
    share carries `Connection: close`; the client reconnects (transparently, one loopback
    handshake) and the connection lands anew, so the processes converge to even shares.
    """

    def __init__(self, app: ASGIApp, load: WorkerLoad, workers: int) -> None:
        self.app = app
        self.load = load
        self.workers = workers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_balanced(message: Message) -> None:
            if message["type"] == "http.response.start" and self.load.over_share(self.workers):
                message = {**message, "headers": [*message.get("headers", []), (b"connection", b"close")]}
            await send(message)

        self.load.enter()
        try:
            await self.app(scope, receive, send_balanced)
        finally:
            self.load.leave()
