"""Request body size limit as pure ASGI middleware (covers chunked bodies too)."""

from __future__ import annotations

import json
import re

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send


def _message(max_bytes: int) -> str:
    return (f"request body is larger than {max_bytes} bytes (settings CASEWISE_MAX_BODY_BYTES, and "
            "CASEWISE_MAX_ATTACHMENT_BYTES for attachments)")


class _TooLarge(HTTPException):
    """Raised from `receive`; an HTTPException so FastAPI's body parsing passes it on as 413."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(status_code=413, detail=_message(max_bytes))


class BodySizeLimit:
    """Answer 413 when a request body exceeds `max_bytes`, whether declared or streamed."""

    def __init__(self, app: ASGIApp, max_bytes: int, larger: dict[re.Pattern[str], int] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.larger = larger or {}

    def _limit(self, scope: Scope) -> int:
        """The limit for this path: uploads (attachments) have their own, larger one."""
        path = scope.get("path", "")
        return next((limit for pattern, limit in self.larger.items() if pattern.match(path)), self.max_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes = self._limit(scope)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_bytes:
            await self._reject(send, max_bytes)
            return
        received = 0
        response_started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    raise _TooLarge(max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not response_started:
                await self._reject(send, max_bytes)

    async def _reject(self, send: Send, max_bytes: int) -> None:
        body = json.dumps({"detail": _message(max_bytes)}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
