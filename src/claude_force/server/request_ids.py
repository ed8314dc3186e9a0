"""A request id for every HTTP request: the client's ``X-Request-ID`` when it is a sane token,
else a fresh one. It is echoed in the response's ``X-Request-ID`` header and put on every log
line written while the request is served (``claude_force.telemetry.logs``). Plain ASGI, so
streams are untouched."""

from __future__ import annotations

import re
import uuid

from starlette.types import Receive, Scope, Send

from ..telemetry.logs import request_id
from ._asgi import HttpMiddleware, with_headers

HEADER = b"x-request-id"
_SANE = re.compile(r"^[A-Za-z0-9._:\-]{1,64}$")


def request_id_of(headers: list[tuple[bytes, bytes]]) -> str:
    """The client's id when it is 1–64 characters of ``[A-Za-z0-9._:-]``, else a new one."""
    for name, value in headers:
        if name.lower() == HEADER:
            text = value.decode("latin-1")
            if _SANE.match(text):
                return text
            break
    return uuid.uuid4().hex


class RequestIds(HttpMiddleware):
    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        rid = request_id_of(list(scope.get("headers", [])))
        token = request_id.set(rid)
        try:
            await self.app(scope, receive, with_headers(send, [(HEADER, rid.encode())]))
        finally:
            request_id.reset(token)
