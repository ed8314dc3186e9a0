"""The real provider: the official ``anthropic`` SDK's ``AsyncAnthropic`` over HTTP.

The SDK's own retries are off (``max_retries=0``): claude-force has exactly one retry layer.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from ..errors import (
    ConfigurationError,
)
from ..messages import MessageRequest, MessageResponse, Usage
from ..streaming import TextSink, current_sink
from ._headers import ratelimit_headers
from .sdk_errors import sdk_errors

if TYPE_CHECKING:
    from anthropic import AsyncAnthropic


# Keys of ``MessageRequest.to_api()`` that ``AsyncMessages.create`` accepts as keywords.
_SDK_KEYWORDS = frozenset(
    {"model", "max_tokens", "messages", "system", "stop_sequences", "metadata"}
)


def sdk_client(
    api_key: str | None,
    base_url: str | None,
    timeout_seconds: float,
    *,
    credential_env: tuple[str, ...],
    missing: str,
    hint: str,
) -> AsyncAnthropic:
    """An ``AsyncAnthropic`` without SDK retries (claude-force retries itself).

    Raises :class:`ConfigurationError` (``missing``, ``hint``) when there is no ``api_key`` and
    none of ``credential_env`` is set. Imports the SDK: call it off the event loop.
    """
    from anthropic import AsyncAnthropic

    if not (api_key or any(os.environ.get(n) for n in credential_env)):
        raise ConfigurationError(missing, key="ANTHROPIC_API_KEY", hint=hint)
    return AsyncAnthropic(
        api_key=api_key, base_url=base_url, timeout=timeout_seconds, max_retries=0
    )


# the SDK's raw-response header as ``extra_headers`` (read-only: one mapping for every call; the
# SDK copies what it changes), once looked up; ``(None,)``: use ``with_raw_response``
_RAW_RESPONSE: tuple[Mapping[str, str] | None] | None = None


def raw_response_headers() -> Mapping[str, str] | None:
    """The ``extra_headers`` by which the SDK's ``with_raw_response`` asks ``create`` for the
    raw response (``None``: this SDK has no such header we know). Imports the SDK."""
    global _RAW_RESPONSE
    if _RAW_RESPONSE is None:
        try:
            from anthropic._constants import RAW_RESPONSE_HEADER
        except ImportError:  # pragma: no cover - an SDK that moved it
            _RAW_RESPONSE = (None,)
        else:
            name = RAW_RESPONSE_HEADER if isinstance(RAW_RESPONSE_HEADER, str) else None
            _RAW_RESPONSE = (MappingProxyType({name: "raw"}) if name else None,)
    return _RAW_RESPONSE[0]


STREAM_ABOVE_TOKENS = 16_384
"""Requests allowing more output tokens than this are sent as a stream (see ``_streamed``)."""


class LazySdkClient:
    """An SDK client built at first use, once even when first calls race (a lock); what a class
    sets: ``credentials`` (environment variables that count as a key), ``missing`` and ``hint``
    (the error without any)."""

    credentials: tuple[str, ...]
    missing: str
    hint: str

    def __init__(
        self,
        api_key: str | None,
        *,
        base_url: str | None = None,
        timeout_seconds: float = 120.0,
        client: AsyncAnthropic | None = None,
    ) -> None:
        self._api_key = api_key
        self._base_url = base_url
        self._timeout = timeout_seconds
        self._timed_out = f"no response within {timeout_seconds:g}s"  # the timeout's message
        self._client = client
        self._owns_client = client is None  # a client passed in is its owner's to close
        self._client_lock = threading.Lock()

    def _make_client(self) -> AsyncAnthropic:
        with self._client_lock:
            if self._client is None:
                self._client = sdk_client(
                    self._api_key,
                    self._base_url,
                    self._timeout,
                    credential_env=self.credentials,
                    missing=self.missing,
                    hint=self.hint,
                )
            return self._client


class AnthropicProvider(LazySdkClient):
    """Sends requests to Claude (or to any Messages-API-compatible server at ``base_url``)."""

    name = "anthropic"
    simulated = False

    credentials = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_PROFILE")
    missing = "no Anthropic credentials"
    hint = "set ANTHROPIC_API_KEY or pass api_key, or use --simulate to run offline"

    _client_loop: asyncio.AbstractEventLoop | None = None  # the loop the client was built in

    @property
    def base_url(self) -> str | None:
        """The endpoint requests go to; ``None``: Anthropic's. Like the SDK, an unset
        ``base_url`` falls back to ``ANTHROPIC_BASE_URL``."""
        return self._base_url or os.environ.get("ANTHROPIC_BASE_URL") or None

    @property
    def client(self) -> AsyncAnthropic:
        """The SDK client, created at first use (importing the SDK costs ~0.3 s)."""
        return self._make_client()

    async def ready(self) -> None:
        """Have a client for the running event loop, built off the loop (see ``preload``).

        The orchestrator awaits this before any timer starts, so the SDK import and the client
        construction are never counted as an execution's time; ``send`` calls it too (a no-op
        once ready) for providers used directly.
        """
        loop = asyncio.get_running_loop()
        if self._client_loop is not loop:
            if self._owns_client and self._client_loop is not None:
                # The SDK's connection pool belongs to the event loop that first used it; this
                # is a new loop (another asyncio.run) and the old one is gone: build a new client.
                self._client = None
            self._client_loop = loop
        if self._client is None:
            # Importing the SDK and building its HTTP transport (TLS context, CA bundle) read
            # files: do it once in a worker thread, never on the event loop; its first-request
            # costs are paid there too (see preload.warm_sdk).
            await asyncio.to_thread(self._client_and_warm_up)

    def _client_and_warm_up(self) -> None:
        from .preload import warm_sdk

        _ = self.client
        warm_sdk()

    async def send(self, request: MessageRequest) -> MessageResponse:
        if self._client is None or self._client_loop is not asyncio.get_running_loop():
            await self.ready()
        body: dict[str, Any] = request.to_api()
        if not body.keys() <= _SDK_KEYWORDS:
            # SDK 2.x's ``messages.create`` has no temperature/top_p/top_k keywords: send them in
            # the JSON body via ``extra_body`` (passing them as keywords raises TypeError).
            body["extra_body"] = {k: body.pop(k) for k in list(body) if k not in _SDK_KEYWORDS}
        sink = current_sink()
        with sdk_errors(self._timed_out):
            if sink is not None:  # someone shows the answer as it is written
                message, headers = await self._streamed(body, sink)
            elif request.max_tokens > STREAM_ABOVE_TOKENS:
                message, headers = await self._streamed(body, None)
            else:
                raw = await self._raw(body)
                message, headers = await raw.parse(), raw.headers
        text = "".join(getattr(b, "text", "") for b in message.content if b.type == "text")
        u = message.usage
        usage = Usage(
            input_tokens=u.input_tokens or 0,
            output_tokens=u.output_tokens or 0,
            cache_creation_input_tokens=u.cache_creation_input_tokens or 0,
            cache_read_input_tokens=u.cache_read_input_tokens or 0,
        )
        return MessageResponse(
            text=text,
            model=message.model,
            stop_reason=message.stop_reason,
            usage=usage,
            request_id=headers.get("request-id"),
            message_id=message.id,
            provider=self.name,
            simulated=False,
            headers=ratelimit_headers(headers),
        )

    def _raw(self, body: dict[str, Any]) -> Any:
        """The SDK's raw response to ``create(**body)`` (its headers carry the rate limits).

        ``messages.create`` with the raw-response header, as ``with_raw_response.create`` sends
        it, without that wrapper: its coroutine, keyword dict and header dict would be held by
        every call in flight while it waits (≈ 0.45 KB a call)."""
        headers = raw_response_headers()
        if headers is None:
            return self.client.messages.with_raw_response.create(**body)
        create: Any = self.client.messages.create
        return create(**body, extra_headers=headers)

    async def _streamed(self, body: dict[str, Any], sink: TextSink | None) -> tuple[Any, Any]:
        """The answer over the Messages API's streaming events, gathered into one message; each
        piece of text goes to ``sink`` as it arrives. Also used without a sink for long answers:
        the SDK refuses a non-streaming request that may take over 10 minutes ("streaming is
        required"), and an idle connection that long is fragile. Same result, same errors (the
        engine's provider slot makes a failure after text was shown final)."""
        async with self.client.messages.stream(**body) as stream:
            if sink is not None:
                async for text in stream.text_stream:
                    sink(text)
            message = await stream.get_final_message()
            return message, stream.response.headers

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None
