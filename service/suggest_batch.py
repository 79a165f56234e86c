"""Suggestion queries answered in batches on the search threads.

Under load, queries arrive faster than one is answered. Answering those waiting together
runs the model once and reads each vector index once for all of them, which is far cheaper
per query (measured at 200k chunks on a 2-core machine, 8 together: query encode 5.8 → 2.6 ms
and the exact article search 2.9 → 0.8 ms per query). A query that arrives alone is answered alone, as soon
as a search thread is free, so a quiet server answers as fast as before. When nothing else is in
flight in the whole server, a helper thread takes part of a lone query's work, on the core that
would sit idle: the keyword scoring and one kind's vector search, or any second or third model
(indexer.search._rankings_alone).

After a batch of several, the next one waits briefly for the queries just answered to come back
(see `_gather`): under steady load the clients then travel in one batch instead of two halves
taking turns, and each model runs once per round instead of twice.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from starlette.exceptions import HTTPException

from indexer.index import SearchIndex
from indexer.search import FUSION_WEIGHTS, Ask, Suggestions, suggest_many
from kb.visibility import Viewer

log = logging.getLogger("casewise.search")
MAX_BATCH = 16
# A batch gathering queries stops when none arrives for GATHER_GAP_SECONDS, and after GATHER_MAX_SECONDS.
GATHER_GAP_SECONDS = 0.010
GATHER_MAX_SECONDS = 0.040


class SuggestBatcher:
    """Queues suggestion queries; each task on the search pool answers every query waiting (up to `max_batch`)."""

    def __init__(self, index: SearchIndex, pool: ThreadPoolExecutor, max_batch: int = MAX_BATCH,
                 helper: ThreadPoolExecutor | None = None, weights: Mapping[str, float] = FUSION_WEIGHTS) -> None:
        """`helper`: threads that take part of a lone query's work (its vector search, its other models);
        `weights`: the fusion weights (indexer.search.fusion_weights)."""
        self._index = index
        self._weights = weights
        self._pool = pool
        self._max_batch = max_batch
        self._helper = helper
        self._waiting: deque[tuple[Ask, Future[Suggestions]]] = deque()
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._expected = 0  # queries the next batch waits for, briefly (see _gather)
        self._busy = 0  # search threads answering a batch now
        self.dropped = 0  # queries cancelled before a search thread took them up (the client left, or timed out)
        # whether other requests are in flight in the server (set by the app when it runs several processes)
        self.server_busy: Callable[[], bool] = lambda: False

    def submit(self, text: str, k: int, viewer: Viewer) -> Future[Suggestions]:
        """Queue a query; the future holds its suggestions (cancel it to drop a query not started)."""
        future: Future[Suggestions] = Future()
        with self._lock:
            self._waiting.append((Ask(text, k, viewer), future))
            self._arrived.notify()
        # one task per query keeps the pool's bound; a task that finds the queue empty (an earlier
        # task took its query into a batch) ends at once
        self._pool.submit(self._answer_waiting)
        return future

    def answer(self, text: str, k: int, viewer: Viewer, timeout: float) -> Suggestions:
        """Submit a query and wait for its suggestions, from a worker thread (never the event loop).

        Past `timeout` seconds the query is dropped if not started, and the caller gets a 503.
        """
        future = self.submit(text, k, viewer)
        try:
            return future.result(timeout=timeout)
        except FutureTimeout:
            future.cancel()
            raise timed_out(timeout) from None

    def _answer_waiting(self) -> None:
        with self._lock:
            self._gather()
            batch = [self._waiting.popleft() for _ in range(min(self._max_batch, len(self._waiting)))]
            self._busy += 1
            # a second thread for one query only while nothing else is waiting or answered in the
            # server: a busy one gets its parallelism from the search threads, processes and batches
            alone = len(batch) == 1 and self._busy == 1 and not self.server_busy()
            helper = self._helper if alone else None
        try:
            started = [(ask, future) for ask, future in batch if future.set_running_or_notify_cancel()]
            if len(started) < len(batch):
                with self._lock:
                    self.dropped += len(batch) - len(started)
            if started:
                outcomes = self._outcomes([ask for ask, _ in started], helper)
                self._expect_back(len(started))
                for (_, future), outcome in zip(started, outcomes, strict=True):
                    _settle(future, outcome)
        finally:
            with self._lock:
                self._busy -= 1

    def _expect_back(self, answered: int) -> None:
        """Before a batch's answers go out: the next batch gathers the queries waiting now and the
        `answered` clients, who under load send their next query within milliseconds (see _gather).

        Counted before the answers go out: a client back before the count would be counted twice,
        and the next batch would wait a whole gap for a query that never comes (measured at 100k
        tickets under 16 clients, before: 43 % of batches did, about 6 ms per batch on average).
        """
        with self._lock:
            self._expected = min(self._max_batch, len(self._waiting) + answered) if answered > 1 else 0

    def _gather(self) -> None:
        """With the lock held: let queries arrive until the batch has the expected number, none has
        arrived for GATHER_GAP_SECONDS, or GATHER_MAX_SECONDS have passed.

        Only after a batch of several (a lone query on a quiet server never waits). Without it, a
        server under steady load split its clients into two halves taking turns: one half came back
        while the other was being answered. Measured with the default models (USE, MiniLM, e5) at 10k
        tickets, `casewise bench suggest` (16 clients on 2 workers, about 8 per process), four runs
        alternated with the previous commit: batches of about 8 instead of 2-7, 156.6-163.0 against
        136.3-140.5 answers a second, p50 97-101 against 113-116 ms, p95 122-131 against 140-143 ms.
        A query that comes back too late waits a whole batch, so p99 moved both ways (141-170 against
        153-157 ms). With 3 ms gaps (12 ms at most) more came back too late: the event loop sends 8
        answers and reads 8 queries first, 1-2 ms each.
        """
        if not self._waiting or len(self._waiting) >= self._expected:
            return
        give_up = time.monotonic() + GATHER_MAX_SECONDS
        while len(self._waiting) < self._expected:
            left = give_up - time.monotonic()
            if left <= 0 or not self._arrived.wait(min(GATHER_GAP_SECONDS, left)):
                return

    def _outcomes(self, asks: list[Ask], helper: ThreadPoolExecutor | None) -> list[Suggestions | Exception]:
        """Each ask's suggestions, or the error it alone raised: a failed batch is answered query by query."""
        try:
            return list(suggest_many(self._index, asks, self._weights, helper=helper))
        except Exception as error:
            if len(asks) == 1:
                return [error]
            log.exception("a batch of %d suggestion queries failed; answering each alone", len(asks))
            return [self._outcomes([ask], None)[0] for ask in asks]


def _settle(future: Future[Suggestions], outcome: Suggestions | Exception) -> None:
    if isinstance(outcome, Exception):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


def timed_out(seconds: float) -> HTTPException:
    """The answer to a suggestion query that ran past CASEWISE_QUERY_TIMEOUT_SECONDS: 503, retry later."""
    return HTTPException(503, f"the query took longer than {seconds} s (setting CASEWISE_QUERY_TIMEOUT_SECONDS); "
                              "try again", headers={"Retry-After": "1"})
