"""A local HTTP/1.1 server that speaks enough of Anthropic's Messages API for the official SDK.

Built on ``asyncio.start_server`` and the ``h11`` protocol library rather than an ASGI framework:
fault injection needs byte-level control of the connection (close it after reading a request and
before any response byte, or halfway through a body), which ASGI servers do not expose.

Answers come from :func:`claude_force.providers.simulated.simulate_text` and are labelled as
simulated. Only 127.0.0.1 is bound by default.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from types import TracebackType
from typing import Any

import h11

from ..providers.simulated import LATENCY_PRESETS, LatencyModel, estimate_tokens
from ._accounting import Headers, PromptCache, RateLimits, RateWindow
from ._api import (
    ApiError,
    answer,
    default_message,
    dump,
    message_body,
    parse_request,
    retry_after_headers,
    sse_stream,
)
from ._batches import BatchStore, batch_route
from .faults import Fault, FaultInjector, FaultSpec

log = logging.getLogger(__name__)

FAULT_HEADER = "x-emulator-fault"
"""A request header naming the fault for that one request (e.g. ``500/noretry``), ahead of the spec."""

_ROUTES = {("POST", "/v1/messages"): "messages", ("POST", "/v1/messages/count_tokens"): "count"}


@dataclass(slots=True)
class RecordedRequest:
    """One request as the emulator received it, and what it did with it."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    request_id: str
    outcome: str = "pending"
    status: int | None = None
    fault: str = "ok"
    stream: bool = False


@dataclass(slots=True)
class _Reply:
    status: int
    headers: Headers
    body: bytes = b""
    events: list[tuple[bytes, float]] = field(default_factory=list)  # SSE chunks, delay before each
    output_tokens: int = 0


def _latency(value: str | LatencyModel) -> LatencyModel:
    if isinstance(value, LatencyModel):
        return value
    if value not in LATENCY_PRESETS:
        raise ValueError(f"unknown latency preset '{value}' (known: {', '.join(LATENCY_PRESETS)})")
    return LATENCY_PRESETS[value]


class Emulator:
    """The Messages API on ``http://127.0.0.1:PORT``: ``async with Emulator() as emu: emu.base_url``."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        latency: str | LatencyModel = "instant",
        faults: FaultSpec | str | None = None,
        seed: int = 0,
        api_key: str | None = None,
        limits: RateLimits | None = None,
        cache_min_tokens: int = 0,
        max_body_bytes: int = 32 * 1024 * 1024,
        batch_delay_s: float = 0.0,
        batch_clock: Callable[[], float] | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.latency = _latency(latency)
        self.faults = FaultInjector(faults, seed=seed)
        self.seed = seed
        self.api_key = api_key
        self.max_body_bytes = max_body_bytes
        self.window = RateWindow(limits or RateLimits())
        self.cache = PromptCache(min_tokens=cache_min_tokens)
        self.batches = BatchStore(
            delay_s=batch_delay_s, clock=batch_clock or time.monotonic, seed=seed, cache=self.cache
        )  # /v1/messages/batches: ended batch_delay_s after creation
        self.requests: list[RecordedRequest] = []
        self.outcomes: Counter[str] = Counter()
        self._rng = random.Random(seed)
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closing = False
        self._arrived = asyncio.Event()

    # --- observability ------------------------------------------------------------------------

    @property
    def requests_total(self) -> int:
        return len(self.requests)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def reset(self) -> None:
        """Forget requests, counters, cached prompts and rate-limit usage; restart the faults."""
        self.requests.clear()
        self.outcomes.clear()
        self.faults.reset()
        self.cache.clear()
        self.batches.clear()
        self.window.reset()
        self._rng = random.Random(self.seed)

    async def wait_for_requests(self, count: int = 1) -> None:
        """Return once ``count`` requests have arrived (e.g. a slow one is now in flight)."""
        while len(self.requests) < count:
            self._arrived.clear()
            await self._arrived.wait()

    def enqueue(self, *faults: Fault | str) -> None:
        """Faults for the next requests, in order, before the configured spec applies."""
        self.faults.enqueue(*faults)

    # --- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> Emulator:
        self._closing = False
        self._server = await asyncio.start_server(
            self._connection, self.host, self.port, backlog=1024, limit=2**20
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is None:
            return
        self._closing = True
        self._server.close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._server.wait_closed()
        self._server = None

    async def __aenter__(self) -> Emulator:
        return await self.start()

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    # --- HTTP/1.1 over h11 --------------------------------------------------------------------

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        conn = h11.Connection(h11.SERVER)
        try:
            while not self._closing:
                received = await self._receive(conn, reader, writer)
                if received is None:
                    break
                if not await self._exchange(conn, writer, *received):
                    break  # a fault, or either side asked to close
                conn.start_next_cycle()
        except (ConnectionError, h11.LocalProtocolError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            # stop() cancels open connections; this task is the top of the connection, and
            # asyncio.start_server (3.11) reports a cancelled handler as an unhandled error.
            pass
        except Exception:  # pragma: no cover - a bug in the emulator; keep serving others
            log.exception("emulator connection failed")
        finally:
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _receive(
        self, conn: h11.Connection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> tuple[h11.Request, bytes] | None:
        """The next request and its body; None when the client closed or sent garbage."""
        request: h11.Request | None = None
        chunks: list[bytes] = []
        size = 0
        while True:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError as exc:
                if conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
                    error = ApiError(exc.error_status_hint, f"malformed HTTP request: {exc}")
                    await self._send(conn, writer, self._error_reply(error, _new_id("req")))
                return None
            if event is h11.NEED_DATA:
                conn.receive_data(await reader.read(65536))
            elif isinstance(event, h11.Request):
                request = event
            elif isinstance(event, h11.Data):
                size += len(event.data)
                if size > self.max_body_bytes:
                    assert request is not None
                    await self._too_large(conn, reader, writer, request)
                    return None
                chunks.append(event.data)
            elif isinstance(event, h11.EndOfMessage):
                assert request is not None
                return request, b"".join(chunks)
            else:  # ConnectionClosed
                return None

    async def _too_large(
        self,
        conn: h11.Connection,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        request: h11.Request,
    ) -> None:
        """Answer 413 before the body ends, then read and discard the rest (a lingering close, so
        the client sees the answer rather than a connection reset)."""
        record = RecordedRequest(
            method=request.method.decode(),
            path=request.target.decode().split("?", 1)[0],
            headers={k.decode().lower(): v.decode("latin-1") for k, v in request.headers},
            body=None,
            request_id=_new_id("req"),
        )
        self.requests.append(record)
        self._arrived.set()
        error = ApiError(413, default_message(413), headers=[("connection", "close")])
        self._finish(record, "413", 413)
        await self._send(conn, writer, self._error_reply(error, record.request_id))
        with contextlib.suppress(TimeoutError, ConnectionError):
            async with asyncio.timeout(2.0):
                while await reader.read(65536):
                    pass

    async def _send(
        self,
        conn: h11.Connection,
        writer: asyncio.StreamWriter,
        reply: _Reply,
        *,
        cut: bool = False,
    ) -> bool:
        """Write ``reply``; with ``cut``, stop halfway through the body. False: connection closed."""
        headers = [*reply.headers, ("server", "claude-force-emulator")]
        if not reply.events:
            headers.append(("content-length", str(len(reply.body))))
        try:
            reason = HTTPStatus(reply.status).phrase
        except ValueError:  # 529 and other non-standard codes
            reason = ""
        _emit(conn, writer, h11.Response(status_code=reply.status, headers=headers, reason=reason))
        if reply.events:
            shown = reply.events[: len(reply.events) // 2] if cut else reply.events
            for chunk, delay in shown:
                if delay:
                    await asyncio.sleep(delay)
                _emit(conn, writer, h11.Data(data=chunk))
                await writer.drain()
        else:
            body = reply.body[: len(reply.body) // 2] if cut else reply.body
            if body:
                _emit(conn, writer, h11.Data(data=body))
        if cut:
            await writer.drain()
            return False
        _emit(conn, writer, h11.EndOfMessage())
        await writer.drain()
        return conn.our_state is h11.DONE

    # --- one request --------------------------------------------------------------------------

    async def _exchange(
        self, conn: h11.Connection, writer: asyncio.StreamWriter, request: h11.Request, raw: bytes
    ) -> bool:
        headers = {k.decode().lower(): v.decode("latin-1") for k, v in request.headers}
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = None
        record = RecordedRequest(
            method=request.method.decode(),
            path=request.target.decode().split("?", 1)[0],
            headers=headers,
            body=body,
            request_id=_new_id("req"),
        )
        self.requests.append(record)
        self._arrived.set()
        route = _ROUTES.get((record.method, record.path)) or batch_route(record.method, record.path)
        fault = Fault()
        try:
            if route is not None:
                override = headers.get(FAULT_HEADER)
                keyed = self.faults.spec.draw == "content"
                fault = (
                    Fault.parse(override)
                    if override
                    else self.faults.next(_content(body) if keyed else None)
                )
        except ValueError as exc:
            reply = self._error_reply(ApiError(400, f"{FAULT_HEADER}: {exc}"), record.request_id)
            self._finish(record, "400", 400)
            return await self._send(conn, writer, reply)
        record.fault = fault.label
        if fault.kind == "drop":
            self._finish(record, "drop", None)
            return False
        if fault.kind == "slow":
            await asyncio.sleep(self.faults.spec.slow_s)
        try:
            if route is None:
                raise ApiError(404, f"Not found: {record.method} {record.path}")
            if fault.kind == "status":
                assert fault.status is not None
                extra = (
                    retry_after_headers(self.faults.spec.retry_after) if fault.status == 429 else []
                )
                if fault.should_retry is not None:
                    extra.append(("x-should-retry", "true" if fault.should_retry else "false"))
                raise ApiError(fault.status, default_message(fault.status), headers=extra)
            self._authenticate(headers)
            if raw and body is None:
                raise ApiError(400, "The request body is not valid JSON")
            if route.startswith("batch_"):
                body_bytes, content_type = self.batches.handle(
                    route, record.path, record.body, self.base_url
                )
                reply = _Reply(200, self._headers(record.request_id, content_type), body_bytes)
            else:
                reply = self._count(record) if route == "count" else self._message(record)
        except ApiError as error:
            reply = self._error_reply(error, record.request_id)
        if not reply.events and reply.status == 200 and fault.kind == "ok":
            await asyncio.sleep(self.latency.delay(reply.output_tokens, self._rng))
        outcome = "ok" if reply.status == 200 else str(reply.status)
        if fault.kind in ("slow", "cut"):
            outcome = fault.kind
        self._finish(record, outcome, reply.status)  # before sending: a client may look at once
        return await self._send(conn, writer, reply, cut=fault.kind == "cut")

    def _finish(self, record: RecordedRequest, outcome: str, status: int | None) -> None:
        record.outcome = outcome
        record.status = status
        self.outcomes[outcome] += 1

    def _authenticate(self, headers: dict[str, str]) -> None:
        key = headers.get("x-api-key")
        bearer = headers.get("authorization", "")
        if key is None and bearer.lower().startswith("bearer "):
            key = bearer[len("bearer ") :].strip()  # the SDK 2.x sends the key as a bearer token
        if not key:
            raise ApiError(401, "x-api-key header is required")
        if self.api_key is not None and key != self.api_key:
            raise ApiError(401, "invalid x-api-key")

    def _headers(self, request_id: str, content_type: str = "application/json") -> Headers:
        return [("content-type", content_type), ("request-id", request_id), *self.window.headers()]

    def _error_reply(self, error: ApiError, request_id: str) -> _Reply:
        return _Reply(
            error.status, self._headers(request_id) + error.headers, error.body(request_id)
        )

    def _count(self, record: RecordedRequest) -> _Reply:
        request, _ = parse_request(record.body, count_only=True)
        body = dump({"input_tokens": estimate_tokens(request.prompt_text)})
        return _Reply(200, self._headers(record.request_id), body)

    def _message(self, record: RecordedRequest) -> _Reply:
        request, stream = parse_request(record.body)
        record.stream = stream
        wait = self.window.admit()
        if wait is not None:
            text = (
                "This request would exceed your organization's rate limit of requests per minute."
            )
            raise ApiError(429, text, headers=retry_after_headers(wait))
        result = answer(request, self.seed)
        write_5m, write_1h, read = self.cache.account(request)
        input_tokens = max(0, estimate_tokens(request.prompt_text) - write_5m - write_1h - read)
        self.window.charge(input_tokens + write_5m + write_1h, result.output_tokens)
        message = message_body(
            request,
            result,
            message_id=_new_id("msg"),
            input_tokens=input_tokens,
            cache_5m=write_5m,
            cache_1h=write_1h,
            cache_read=read,
        )
        if not stream:
            body = dump(message)
            return _Reply(
                200, self._headers(record.request_id), body, output_tokens=result.output_tokens
            )
        headers = self._headers(record.request_id, "text/event-stream; charset=utf-8")
        headers.append(("cache-control", "no-cache"))
        return _Reply(200, headers, events=sse_stream(message, self.latency, self._rng))


def _emit(conn: h11.Connection, writer: asyncio.StreamWriter, event: Any) -> None:
    data = conn.send(event)
    if data:
        writer.write(data)


def _new_id(prefix: str) -> str:
    return f"{prefix}_emu{uuid.uuid4().hex[:21]}"


def _content(body: Any) -> str | None:
    """What makes two requests the same for ``draw=content`` faults: system prompt and messages."""
    if not isinstance(body, dict):
        return None
    return json.dumps([body.get("system"), body.get("messages")], sort_keys=True, default=str)
