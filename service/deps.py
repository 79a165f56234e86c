"""Request dependencies as Annotated aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from kb.visibility import Viewer
from service.auth import Unauthorized, cached_token_viewer, viewer_from_request
from service.runtime import Runtime
from service.settings import Settings


async def get_runtime(request: Request) -> Runtime:
    """The process's runtime (database, model, index)."""
    return request.app.state.runtime


async def get_settings(request: Request) -> Settings:
    """The app's settings."""
    return request.app.state.settings


async def current_viewer(request: Request) -> Viewer:
    """The signed-in person (token or session); 401 when there is none."""
    viewer = cached_token_viewer(request) or await run_in_threadpool(viewer_from_request, request)
    if viewer is None:
        raise Unauthorized("sign in, or send 'Authorization: Bearer <token>'")
    return viewer


def optional_viewer(request: Request) -> Viewer | None:
    """The signed-in person, or None for anonymous visitors (web pages redirect them to sign in)."""
    return viewer_from_request(request)


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
ViewerDep = Annotated[Viewer, Depends(current_viewer)]
OptionalViewerDep = Annotated[Viewer | None, Depends(optional_viewer)]
