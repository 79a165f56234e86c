"""The FastAPI application factory."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from contextlib import asynccontextmanager, nullcontext

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from kb.errors import Conflict, Forbidden, InvalidInput, NotFound
from kb.sla_watch import check_sla
from service.backup import server_lock
from service.limits import BodySizeLimit
from service.routes import account_pages, api, app_pages, articles, desk, knowledge, metrics, tickets, users
from service.web import render, to_sign_in, wants_html
from service.runtime import Runtime, open_runtime
from service.settings import Settings

log = logging.getLogger("casewise")
STATIC_DIR = Path(__file__).resolve().parent / "static"


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> FastAPI:
    """Build the app; it opens its own runtime on start-up unless one is given (tests)."""
    settings = settings or (runtime.settings if runtime else Settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = runtime is None
        with server_lock(settings) if owned else nullcontext():
            async with _serving(app, owned):
                yield

    @asynccontextmanager
    async def _serving(app: FastAPI, owned: bool) -> AsyncIterator[None]:
        app.state.runtime = runtime or open_runtime(settings)
        workers = [_Periodic("casewise-sync", settings.sync_interval_seconds, app.state.runtime.index.sync),
                   _Periodic("casewise-sla", settings.sla_check_interval_seconds,
                             lambda: run_sla_check(app.state.runtime))]
        for worker in workers:
            worker.start()
        try:
            yield
        finally:
            for worker in workers:
                worker.stop()
            if owned:
                app.state.runtime.close()

    app = FastAPI(
        title="Casewise",
        version="0.1.0",
        description="Support desk with bilingual knowledge-base search: similar resolved cases and "
        "article sections for a problem as it is typed.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    _add_error_handlers(app)
    app.include_router(api.router)
    app.include_router(tickets.router)
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

    @app.exception_handler(RequestValidationError)
    async def validation(_: Request, error: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": [_readable(e) for e in error.errors()]}, status_code=422)


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
