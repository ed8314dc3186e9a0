"""The server's front door: checks that cost nothing run before anything costs something.

:class:`RequestGuard` is plain ASGI middleware, outside FastAPI, so it acts *before* a request's
body is read or parsed (FastAPI reads and parses the body before it runs any dependency):

1. a client in back-off after repeated wrong tokens is answered 429 at once;
2. the bearer token of a ``POST`` under ``/api/`` is checked from the headers (constant time);
3. a ``Content-Length`` over ``server.max_body_bytes`` is answered 413 at once; a body without
   one is counted while it streams in and refused as soon as it passes the limit;
4. runs (``POST /api/v1/execute``, ``/api/v1/workflows/{name}/run``) in flight per client are
   capped by ``server.max_runs_per_client``, and event streams by ``server.max_sse_clients``.

Early answers carry ``Connection: close``: the server then drops the connection instead of
draining a body nobody will read. :class:`AuthThrottle` is the pure back-off policy (clock
injected).
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._asgi import HttpMiddleware

if TYPE_CHECKING:
    from .state import ServerState

RUN_PATHS = ("/api/v1/execute", "/api/v1/execute/stream")
EVENTS_PATH = "/api/v1/events"
MAX_TRACKED_CLIENTS = 10_000


def is_run_path(path: str) -> bool:
    return path in RUN_PATHS or (path.startswith("/api/v1/workflows/") and path.endswith("/run"))


@dataclass
class _Failures:
    count: int = 0
    blocked_until: float = 0.0
    last: float = 0.0


class AuthThrottle:
    """Back-off per client after repeated wrong tokens: from the ``free``-th failure in a row the
    client waits 1 s, then 2 s, 4 s … up to ``max_seconds``; a right token clears the slate.
    Remembers at most ``MAX_TRACKED_CLIENTS`` clients (the oldest are forgotten first)."""

    def __init__(
        self, free: int = 5, max_seconds: float = 300.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.free = free
        self.max_seconds = max_seconds
        self.clock = clock
        self._clients: OrderedDict[str, _Failures] = OrderedDict()

    def retry_after(self, client: str) -> float:
        """Seconds the client must still wait (0: it may try)."""
        entry = self._clients.get(client)
        if entry is None:
            return 0.0
        return max(0.0, entry.blocked_until - self.clock())

    def failure(self, client: str) -> float:
        """Record a wrong token; returns the back-off now in force (0 for the first few)."""
        now = self.clock()
        entry = self._clients.pop(client, None) or _Failures()
        if now - entry.last > self.max_seconds * 2:
            entry = _Failures()  # an old streak is forgotten
        entry.count += 1
        entry.last = now
        wait = 0.0
        if entry.count >= self.free:
            wait = min(self.max_seconds, 2.0 ** (entry.count - self.free))
            entry.blocked_until = now + wait
        self._clients[client] = entry
        while len(self._clients) > MAX_TRACKED_CLIENTS:
            self._clients.popitem(last=False)
        return wait

    def success(self, client: str) -> None:
        self._clients.pop(client, None)

    def __len__(self) -> int:
        return len(self._clients)


def _error_body(kind: str, message: str, hint: str | None) -> bytes:
    return json.dumps({"error": {"type": kind, "message": message, "hint": hint}}).encode()


async def _answer(
    send: Send,
    status: int,
    kind: str,
    message: str,
    hint: str | None = None,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    body = _error_body(kind, message, hint)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


class RequestGuard(HttpMiddleware):
    """ASGI middleware applying the limits of ``server.*`` (see the module's docstring)."""

    def __init__(self, app: ASGIApp, state: ServerState, throttle: AuthThrottle) -> None:
        super().__init__(app)
        self.state = state
        self.throttle = throttle
        self.runs: dict[str, int] = {}
        self.streams = 0

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        settings = self.state.settings
        path: str = scope.get("path", "")
        method: str = scope.get("method", "GET")
        client = (scope.get("client") or ("unknown", 0))[0]

        if path == EVENTS_PATH:
            await self._stream(scope, receive, send, settings.max_sse_clients)
            return
        guarded = method in ("POST", "PUT", "PATCH", "DELETE") and path.startswith("/api/")
        if guarded and not await self._authorized(scope, send, client):
            return
        limit = settings.max_body_bytes
        length = _header(scope, b"content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            await self._too_large(send, limit)
            return
        run = method == "POST" and is_run_path(path)
        if run and self.runs.get(client, 0) >= settings.max_runs_per_client:
            await _answer(
                send,
                429,
                "TooManyRunsError",
                f"this client already has {settings.max_runs_per_client} run(s) in flight",
                "wait for one to finish (server.max_runs_per_client)",
                [(b"retry-after", b"1")],
            )
            return
        if method in ("POST", "PUT", "PATCH"):
            body = await self._read_body(receive, limit)
            if body is None:
                await self._too_large(send, limit)
                return
            receive = _replay(body, receive)
        if not run:
            await self.app(scope, receive, send)
            return
        self.runs[client] = self.runs.get(client, 0) + 1
        try:
            await self.app(scope, receive, send)
        finally:
            left = self.runs[client] - 1
            if left:
                self.runs[client] = left
            else:
                del self.runs[client]

    async def _authorized(self, scope: Scope, send: Send, client: str) -> bool:
        if self.state.token is None:
            return True
        wait = self.throttle.retry_after(client)
        if wait > 0:
            await self._backoff(send, wait)
            return False
        from .state import AuthError

        try:
            self.state.check_token(_header(scope, b"authorization"))
        except AuthError as exc:
            wait = self.throttle.failure(client)
            if wait > 0:
                await self._backoff(send, wait)
            else:
                await _answer(
                    send,
                    401,
                    "AuthError",
                    exc.message,
                    exc.hint,
                    [(b"www-authenticate", b"Bearer")],
                )
            return False
        self.throttle.success(client)
        return True

    async def _backoff(self, send: Send, wait: float) -> None:
        seconds = max(1, int(wait + 0.999))
        await _answer(
            send,
            429,
            "AuthBackoffError",
            f"too many wrong tokens from this client; try again in {seconds} s",
            "send the server's token (server.token or CLAUDE_FORCE_SERVER_TOKEN)",
            [(b"retry-after", str(seconds).encode()), (b"www-authenticate", b"Bearer")],
        )

    async def _too_large(self, send: Send, limit: int) -> None:
        await _answer(
            send,
            413,
            "RequestTooLargeError",
            f"the request body is over the limit of {limit:,} bytes",
            "send a smaller request, or raise server.max_body_bytes",
        )

    async def _read_body(self, receive: Receive, limit: int) -> bytes | None:
        """The whole body, or None as soon as it passes ``limit`` (the rest is never read)."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    async def _stream(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        if self.streams >= limit:
            await _answer(
                send,
                503,
                "TooManyStreamsError",
                f"{limit} event stream(s) are open already",
                "close another dashboard, or raise server.max_sse_clients",
                [(b"retry-after", b"5")],
            )
            return
        self.streams += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.streams -= 1


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the app the body already read, then the client's own events."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        message: Any = await receive()
        return dict(message)

    return replay
