"""The 2.2 migration path: a caller-supplied SDK-like client (``call_client``, ``coerce_message``,
``ClientProvider`` in the engine's ``ProviderSlot``) — connection failures and timeouts typed, sync clients off the loop."""

from __future__ import annotations

import threading
from types import SimpleNamespace
from typing import Any
from unittest.mock import AsyncMock, MagicMock

import anthropic
import httpx2
import pytest

from claude_force.errors import ProviderConnectionError, ProviderTimeoutError
from claude_force.messages import ChatMessage, MessageRequest
from claude_force.providers.base import ProviderSlot
from claude_force.providers.client import ClientProvider, call_client, coerce_message
from claude_force.providers.simulated import SimulatedProvider

REQUEST = MessageRequest(model="claude-sonnet-5-5", messages=(ChatMessage("user", "hi"),))


def _message(text: str) -> Any:
    return SimpleNamespace(
        id="msg_x",
        model="claude-sonnet-5-5",
        stop_reason="end_turn",
        content=[SimpleNamespace(type="text", text=text)],
        usage=SimpleNamespace(input_tokens=3, output_tokens=2),
    )


@pytest.mark.parametrize(
    ("raised", "expected", "message"),
    [
        (lambda r: anthropic.APITimeoutError(request=r), ProviderTimeoutError, "in time"),
        (
            lambda r: anthropic.APIConnectionError(message="refused", request=r),
            ProviderConnectionError,
            "connection failed: refused",
        ),
    ],
)
async def test_client_transport_failures_are_typed(
    raised: Any, expected: type[Exception], message: str
) -> None:
    request = httpx2.Request("POST", "http://127.0.0.1/v1/messages")
    client = MagicMock()
    client.messages.create = AsyncMock(side_effect=raised(request))
    with pytest.raises(expected, match=message) as info:
        await call_client(client, REQUEST)
    assert type(info.value) is expected and info.value.retryable  # type: ignore[attr-defined]


async def test_a_sync_client_runs_off_the_event_loop() -> None:
    loop_thread = threading.get_ident()
    seen: list[int] = []

    def create(**body: Any) -> Any:
        seen.append(threading.get_ident())
        return _message(f"sync answer to {body['messages'][0]['content']}")

    client = SimpleNamespace(messages=SimpleNamespace(create=create))
    response = await call_client(client, REQUEST)
    assert response.text == "sync answer to hi" and response.provider == "client"
    assert seen and seen[0] != loop_thread


async def test_a_sync_callable_that_returns_an_awaitable_is_awaited() -> None:
    async def answer() -> Any:
        return _message("awaited")

    client = SimpleNamespace(messages=SimpleNamespace(create=lambda **_: answer()))
    assert (await call_client(client, REQUEST)).text == "awaited"


def test_content_that_is_not_a_list_gives_empty_text() -> None:
    odd = coerce_message(SimpleNamespace(content=42, usage=None), "m")
    assert (odd.text, odd.model, odd.stop_reason) == ("", "m", "end_turn")


async def test_a_client_inserted_into_the_provider_slot_answers_until_removed() -> None:
    inner = SimulatedProvider()
    slot = ProviderSlot(inner)
    assert (slot.name, slot.simulated) == ("simulated", True)
    assert (await slot.send(REQUEST)).simulated
    client = MagicMock()
    client.messages.create = AsyncMock(return_value=_message("from the client"))
    slot.insert(ClientProvider(client))
    assert (slot.name, slot.simulated) == ("client", False)
    assert (await slot.send(REQUEST)).text == "from the client"
    slot.insert(None)
    assert (await slot.send(REQUEST)).simulated
    assert inner.calls == 2
    await slot.aclose()
