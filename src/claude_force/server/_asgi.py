"""What the server's plain-ASGI middlewares share (request ids, security headers, the guard).

Plain ASGI rather than Starlette's ``BaseHTTPMiddleware``, so streamed responses (SSE) pass
through untouched. Each middleware handles HTTP requests only; everything else (lifespan,
websockets) goes straight to the app.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HttpMiddleware(ABC):
    """A plain ASGI middleware: :meth:`http` sees the HTTP requests, the rest passes by."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.http(scope, receive, send)

    @abstractmethod
    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one HTTP request (usually by calling ``self.app``)."""


def with_headers(send: Send, headers: Sequence[tuple[bytes, bytes]]) -> Send:
    """``send``, adding ``headers`` to the response's start message."""

    async def send_with_headers(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", []), *headers]
        await send(message)

    return send_with_headers
