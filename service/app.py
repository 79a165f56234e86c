"""The FastAPI application factory."""

from __future__ import annotations

import ctypes
import fcntl
import logging
import os
import re
import signal
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from kb.errors import Conflict, Forbidden, InvalidInput, NotFound
from kb.sla_watch import check_sla
from service.backup import server_lock
from service.balancing import BalanceWorkers, WorkerLoad
from service.limits import BodySizeLimit
from service.report import write_scheduled_report
from service.routes import (
    account_pages,
    api,
    app_pages,
    articles,
    attachments,
    desk,
    knowledge,
    metrics,
    tickets,
    users,
)
from service.runtime import Runtime, open_runtime, settle_heap
from service.schemas import ErrorBody
from service.settings import Settings
from service.web import render, to_sign_in, wants_html

log = logging.getLogger("casewise")
STATIC_DIR = Path(__file__).resolve().parent / "static"
PR_SET_PDEATHSIG = 1  # prctl option (linux/prctl.h)
SCHEDULER_LOCK = "scheduler.lock"
WORKER_LOAD = "workers.load"
REPORT_CHECK_SECONDS = 600  # writes last week's report once, the first check after the week ends
ATTACHMENT_PATH = re.compile(r"^/api/v1/tickets/\d+/attachments$")
# Answers any operation may give; each body is {"detail": "what to fix"}.
COMMON_ERRORS = {
    400: "The body is not UTF-8 JSON.",
    401: "No valid token or session: send 'Authorization: Bearer <token>' or sign in.",
    403: "Visible to you, but not yours to change (or a missing CSRF token).",
    404: "Does not exist, or you may not see it.",
    409: "Not allowed in the current state (the detail names the allowed moves), or it conflicts with stored data.",
    413: "The request body is over CASEWISE_MAX_BODY_BYTES.",
    422: "Invalid input; the detail names each field and what to fix.",
    429: "Over a per-user rate limit; see Retry-After.",
}


def create_app(settings: Settings | None = None, runtime: Runtime | None = None,
               hold_server_lock: bool = True, long_lived: bool = False) -> FastAPI:
    """Build the app; it opens its own runtime on start-up unless one is given (tests).

    `hold_server_lock=False` when the caller already holds the data folder's server lock
    (`casewise serve` holds it for its one or several server processes). `long_lived` (a
    server process) freezes the loaded heap once the runtime is open (`settle_heap`).
    """
    settings = settings or (runtime.settings if runtime else Settings())
    load = WorkerLoad(settings.data_dir / WORKER_LOAD) if settings.workers > 1 else None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = runtime is None
        with server_lock(settings) if owned and hold_server_lock else nullcontext():
            async with _serving(app, owned):
                yield

    @asynccontextmanager
    async def _serving(app: FastAPI, owned: bool) -> AsyncIterator[None]:
        app.state.runtime = runtime or open_runtime(settings)
        if load is not None:  # this request is the one in flight when the server is otherwise idle
            app.state.runtime.suggester.server_busy = lambda: load.in_flight() > 1
        if long_lived:
            settle_heap()
        schedules = SchedulerLease(settings.data_dir / SCHEDULER_LOCK)
        workers = [_Periodic("casewise-sync", settings.sync_interval_seconds, app.state.runtime.index.sync),
                   _Periodic("casewise-sla", settings.sla_check_interval_seconds,
                             schedules.guard(lambda: run_sla_check(app.state.runtime)))]
        if settings.report_dir:
            workers.append(_Periodic("casewise-report", REPORT_CHECK_SECONDS, schedules.guard(
                lambda: write_scheduled_report(app.state.runtime, settings.report_dir, datetime.now(UTC)))))
        for worker in workers:
            worker.start()
        try:
            yield
        finally:
            for worker in workers:
                worker.stop()
            schedules.release()
            app.state.runtime.index.flush()  # vectors changed since the last periodic save
            if owned:
                app.state.runtime.close()

    app = FastAPI(
        title="Casewise",
        version="0.1.0",
        description="Support desk with bilingual knowledge-base search: similar resolved cases and "
        "article sections for a problem as it is typed.",
        lifespan=lifespan,
        responses={status: {"model": ErrorBody, "description": text} for status, text in COMMON_ERRORS.items()},
    )
    app.state.settings = settings
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes,
                       larger={ATTACHMENT_PATH: settings.max_attachment_bytes + 64 * 1024})
    if load is not None:
        app.add_middleware(BalanceWorkers, load=load, workers=settings.workers)
    _add_error_handlers(app)
    app.include_router(api.router)
    app.include_router(tickets.router)
    app.include_router(attachments.router)
    app.include_router(desk.router)
    app.include_router(users.router)
    app.include_router(articles.router)
    app.include_router(knowledge.router)
    app.include_router(metrics.router)
    app.include_router(account_pages.router)
    app.include_router(app_pages.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app


def _error(request: Request, status: int, message: str) -> Response:
    """JSON for API callers; a page people understand for browsers."""
    if wants_html(request):
        if status == 401:
            return to_sign_in(request)
        viewer = getattr(request.state, "viewer", None)
        return render(request, "error.html", viewer, status_code=status, status=status, message=message)
    return JSONResponse({"detail": message}, status_code=status)


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(NotFound)
    async def not_found(request: Request, error: NotFound) -> Response:
        return _error(request, 404, str(error))

    @app.exception_handler(InvalidInput)
    async def invalid(request: Request, error: InvalidInput) -> Response:
        return _error(request, 422, str(error))

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, error: Forbidden) -> Response:
        return _error(request, 403, str(error))

    @app.exception_handler(Conflict)
    async def conflict(request: Request, error: Conflict) -> Response:
        return _error(request, 409, str(error))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> Response:
        if isinstance(error.__cause__, UnicodeDecodeError):
            return JSONResponse({"detail": "request body is not valid UTF-8; send JSON encoded as UTF-8"},
                                status_code=400)
        if wants_html(request) and error.status_code in (401, 403, 404):
            return _error(request, error.status_code, str(error.detail))
        return await http_exception_handler(request, error)

    @app.exception_handler(UnicodeEncodeError)
    async def bad_unicode(request: Request, _: UnicodeEncodeError) -> Response:
        return _error(request, 422, "the text contains invalid Unicode (a lone surrogate such as \\ud800); "
                                    "send well-formed UTF-8 text")

    @app.exception_handler(sqlite3.IntegrityError)
    async def integrity(request: Request, error: sqlite3.IntegrityError) -> Response:
        log.warning("write refused by a database constraint: %s", error)
        return _error(request, 409, f"the change conflicts with stored data ({error}); nothing was written")

    @app.exception_handler(RequestValidationError)
    async def validation(_: Request, error: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": [_readable(e) for e in error.errors()]}, status_code=422)


def worker_app() -> FastAPI:
    """The app of one worker process of `casewise serve --workers N` (settings from the environment)."""
    stop_with_parent()
    return create_app(Settings(), hold_server_lock=False, long_lived=True)


def stop_with_parent() -> None:
    """Have the kernel send this process SIGTERM (a clean shutdown) when its parent dies, even by kill -9.

    Otherwise workers would outlive a killed `casewise serve`, keep answering on the port and
    writing to the database after the data folder's server lock was released. Linux only.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        log.warning("cannot tie this worker's life to its parent's (not Linux?)")
        return
    if os.getppid() == 1:  # the parent died before the request took effect
        os.kill(os.getpid(), signal.SIGTERM)


def _readable(error: dict) -> dict:
    """Validation errors without echoing the (possibly huge or binary) input back."""
    where = ".".join(str(part) for part in error.get("loc", ()) if part != "body") or "body"
    return {"field": where, "message": error.get("msg", "invalid"), "type": error.get("type")}


def run_sla_check(runtime: Runtime) -> None:
    """One SLA round: warnings, breaches and escalations on breach."""
    report = runtime.database.write(lambda db: check_sla(db, runtime.rules, datetime.now(UTC)))
    if report.breaches or report.warnings:
        log.info("SLA check: %d warnings, %d breaches, %d escalated", len(report.warnings),
                 len(report.breaches), len(report.escalated))


class SchedulerLease:
    """The SLA and report schedulers run in one process of a multi-worker server: the one holding this lock.

    Each round tries to take the lock without waiting, so if the holder stops another worker takes over.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._handle: IO[str] | None = None

    def held(self) -> bool:
        """Whether this process runs the schedulers (taking the lock if it is free)."""
        if self._handle is None:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            handle = open(self._path, "w")  # noqa: SIM115 - kept open while the lease is held
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                return False
            self._handle = handle
        return True

    def guard(self, job: Callable[[], object]) -> Callable[[], None]:
        """The job, run only while this process holds the lease."""
        def guarded() -> None:
            if self.held():
                job()
        return guarded

    def release(self) -> None:
        """Give the lease up (on shutdown)."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None


class _Periodic:
    """Runs a job every `interval` seconds in a background thread: the outbox drain (so resolved
    tickets become suggestible) and the SLA scheduler (no external cron needed)."""

    def __init__(self, name: str, interval: float, job: Callable[[], object]) -> None:
        self._job = job
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._job()
            except Exception:  # keep serving; the next round retries and the error is logged
                log.exception("%s failed", self._thread.name)
