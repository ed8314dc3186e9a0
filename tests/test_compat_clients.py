"""2.2 test suites patch ``async_client`` / assign ``client``: calls must go through those objects."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest.mock import AsyncMock, MagicMock, PropertyMock, patch

import anthropic
import httpx2
import pytest

from claude_force import AgentOrchestrator, AsyncAgentOrchestrator
from claude_force.errors import RateLimitError
from claude_force.messages import MessageRequest, MessageResponse
from claude_force.providers.client import call_client, coerce_message


def _sdk_like(text: str = "mocked answer") -> Any:
    return SimpleNamespace(
        id="msg_1",
        model="claude-sonnet-5-5",
        stop_reason="end_turn",
        content=[SimpleNamespace(type="text", text=text)],
        usage=SimpleNamespace(input_tokens=11, output_tokens=7),
    )


async def test_patched_async_client_receives_every_call(sample_config: Path) -> None:
    orch = AsyncAgentOrchestrator(sample_config, api_key="test-key", enable_cache=False)
    with patch.object(AsyncAgentOrchestrator, "async_client", new_callable=PropertyMock) as prop:
        prop.return_value.messages.create = AsyncMock(return_value=_sdk_like())
        result = await orch.execute_agent("python-expert", "review this")
        assert result.success, result.errors
        assert result.output == "mocked answer"
        assert result.metadata["input_tokens"] == 11
        assert result.metadata["simulated"] is False
        kwargs = prop.return_value.messages.create.await_args.kwargs
        assert kwargs["messages"] == [{"role": "user", "content": "review this"}]
        assert kwargs["system"][0]["cache_control"] == {"type": "ephemeral"}
    await orch.close()


def test_assigned_sync_client_receives_every_call(sample_config: Path) -> None:
    with AgentOrchestrator(str(sample_config), anthropic_api_key="test-key") as orch:
        client = MagicMock()
        client.messages.create.return_value = _sdk_like("from the sync client")
        orch.client = client
        result = orch.run_agent("code-reviewer", "look at diff", model="claude-haiku-4-5")
        assert result.success, result.errors
        assert result.output == "from the sync client"
        assert client.messages.create.call_args.kwargs["model"] == "claude-haiku-4-5"
        assert orch.client is client


def test_unpatched_client_is_created_lazily(sample_config: Path) -> None:
    with AgentOrchestrator(str(sample_config), anthropic_api_key="test-key") as orch:
        assert orch._client is None
        assert isinstance(orch.client, anthropic.Anthropic)
        orch._sync_client()  # what each call does first: reading the client reroutes nothing
        assert orch.core._outer_client is None
        assert orch.core.engine.provider.inner is orch.core.engine.provider.chosen


async def test_client_errors_are_typed() -> None:
    request = httpx2.Request("POST", "http://127.0.0.1/v1/messages")
    response = httpx2.Response(
        429, headers={"retry-after": "3", "request-id": "req_9"}, request=request
    )
    client = MagicMock()
    client.messages.create = AsyncMock(
        side_effect=anthropic.RateLimitError("slow down", response=response, body=None)
    )
    req = MessageRequest(model="m", messages=())
    with pytest.raises(RateLimitError) as info:
        await call_client(client, req)
    assert info.value.retry_after == 3 and info.value.request_id == "req_9"


def test_coerce_message_tolerates_odd_objects() -> None:
    ours = MessageResponse("t", "m", "end_turn", usage=coerce_message(_sdk_like(), "m").usage)
    assert coerce_message(ours, "x") is ours
    odd = coerce_message(MagicMock(content=None, usage=None, model=None), "fallback")
    assert (odd.text, odd.model, odd.usage.total_tokens) == ("", "fallback", 0)
