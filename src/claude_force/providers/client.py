"""Send requests through a caller-supplied SDK-like client (the 2.2 migration path).

claude-force 2.2 test suites patch ``AsyncAgentOrchestrator.async_client`` or assign
``AgentOrchestrator.client`` and expect every call to go through that object's
``messages.create``. :class:`SwitchProvider` honours such an override at call time and
otherwise delegates to the provider claude-force chose, so a migrated suite never reaches the
real API by accident.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import Any

from ..errors import ProviderConnectionError, ProviderTimeoutError, status_error
from ..messages import MessageRequest, MessageResponse, Usage
from ._headers import parse_retry_after, parse_should_retry, ratelimit_headers
from .base import Provider

ClientGetter = Callable[[], Any]


def coerce_message(obj: object, model: str, provider: str = "custom") -> MessageResponse:
    """A ``MessageResponse`` from an SDK ``Message`` or any look-alike (mocks included)."""
    if isinstance(obj, MessageResponse):
        return obj
    content = getattr(obj, "content", None) or []
    try:
        text = "".join(str(getattr(b, "text", "")) for b in content)
    except TypeError:
        text = ""
    u = getattr(obj, "usage", None)

    def _int(name: str) -> int:
        v = getattr(u, name, 0)
        return v if isinstance(v, int) else 0

    def _str(name: str, default: str) -> str:
        v = getattr(obj, name, None)
        return v if isinstance(v, str) else default

    return MessageResponse(
        text=text,
        model=_str("model", model),
        stop_reason=_str("stop_reason", "end_turn"),
        usage=Usage(
            _int("input_tokens"),
            _int("output_tokens"),
            _int("cache_creation_input_tokens"),
            _int("cache_read_input_tokens"),
        ),
        message_id=_str("id", "") or None,
        provider=provider,
    )


def sdk_keywords(request: MessageRequest) -> dict[str, Any]:
    """Keyword arguments for an SDK ``messages.create`` call."""
    return dict(request.to_api())


async def call_client(client: Any, request: MessageRequest) -> MessageResponse:
    """Call ``client.messages.create`` (sync clients run in a worker thread) and map errors."""
    import anthropic

    create = client.messages.create
    body = sdk_keywords(request)
    try:
        if inspect.iscoroutinefunction(create):
            result = await create(**body)
        else:
            result = await asyncio.to_thread(create, **body)
            if inspect.isawaitable(result):
                result = await result
    except anthropic.APIStatusError as exc:
        headers = exc.response.headers
        raise status_error(
            exc.status_code,
            exc.api_message or exc.message,
            request_id=exc.request_id,
            retry_after=parse_retry_after(headers),
            should_retry=parse_should_retry(headers),
            headers=ratelimit_headers(headers),
        ) from exc
    except anthropic.APITimeoutError as exc:
        raise ProviderTimeoutError("no response from the client in time") from exc
    except anthropic.APIConnectionError as exc:
        raise ProviderConnectionError(f"connection failed: {exc.message}") from exc
    return coerce_message(result, request.model, provider="client")


class SwitchProvider:
    """Use the override client when one is present at call time, else the chosen provider."""

    def __init__(self, inner: Provider, override: ClientGetter) -> None:
        self.inner = inner
        self._override = override

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def simulated(self) -> bool:
        return self.inner.simulated and self._override() is None

    @property
    def overridden(self) -> bool:
        """Whether a caller-supplied client answers requests sent now (not ``inner``)."""
        return self._override() is not None

    async def send(self, request: MessageRequest) -> MessageResponse:
        client = self._override()
        if client is None:
            return await self.inner.send(request)
        return await call_client(client, request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def patched(cls: type, name: str, original: object) -> bool:
    """Whether ``cls.name`` was replaced (e.g. by ``unittest.mock.patch.object``)."""
    return inspect.getattr_static(cls, name, original) is not original
