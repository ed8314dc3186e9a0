"""Send requests through a caller-supplied SDK-like client (the 2.2 migration path).

claude-force 2.2 test suites patch ``AsyncAgentOrchestrator.async_client`` or assign
``AgentOrchestrator.client`` and expect every call to go through that object's
``messages.create``. The 2.2 faces notice that and put a :class:`ClientProvider` at the bottom
of the engine's pipeline (its :class:`~claude_force.providers.base.ProviderSlot`), so a migrated
suite never reaches the real API by accident.
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

from ..messages import MessageRequest, MessageResponse, Usage
from .sdk_errors import sdk_errors


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

    create = client.messages.create
    body = sdk_keywords(request)
    with sdk_errors("no response from the client in time"):
        if inspect.iscoroutinefunction(create):
            result = await create(**body)
        else:
            result = await asyncio.to_thread(create, **body)
            if inspect.isawaitable(result):
                result = await result
    return coerce_message(result, request.model, provider="client")


class ClientProvider:
    """Sends requests through a caller's SDK-like client (``client.messages.create``)."""

    name = "client"
    simulated = False

    def __init__(self, client: Any) -> None:
        self.client = client

    async def send(self, request: MessageRequest) -> MessageResponse:
        return await call_client(self.client, request)

    async def aclose(self) -> None:
        return None  # the client belongs to the caller
