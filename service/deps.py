"""Request dependencies as Annotated aliases (async: trivial work, no thread hop per request)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from kb.visibility import DEFAULT_VIEWER, Viewer
from service.runtime import Runtime
from service.settings import Settings


async def get_runtime(request: Request) -> Runtime:
    """The process's runtime (database, model, index)."""
    return request.app.state.runtime


async def get_settings(request: Request) -> Settings:
    """The app's settings."""
    return request.app.state.settings


async def current_viewer() -> Viewer:
    """Who is asking; sign-in and roles replace this default."""
    return DEFAULT_VIEWER


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
ViewerDep = Annotated[Viewer, Depends(current_viewer)]
