"""Long answers: requests allowing many output tokens go over the streaming API (through the SDK),
so the SDK's "streaming is required" refusal of long non-streaming requests never happens."""

from __future__ import annotations

import pytest

from claude_force.errors import RateLimitError
from claude_force.messages import ChatMessage, MessageRequest
from claude_force.providers.anthropic import STREAM_ABOVE_TOKENS, AnthropicProvider
from claude_force.testing import Emulator

MODEL = "claude-sonnet-5-5"


def request(max_tokens: int) -> MessageRequest:
    return MessageRequest(
        model=MODEL, messages=(ChatMessage("user", "Write it all."),), max_tokens=max_tokens
    )


async def test_a_large_max_tokens_is_streamed_and_gathered() -> None:
    async with Emulator() as emu:
        provider = AnthropicProvider("test", base_url=emu.base_url)
        try:
            long = await provider.send(request(64_000))
            short = await provider.send(request(1024))
        finally:
            await provider.aclose()
    streamed, plain = emu.requests
    assert streamed.stream is True and plain.stream is False
    assert long.text and long.usage.output_tokens > 0 and long.stop_reason
    assert long.request_id == streamed.request_id and long.message_id
    assert short.text and STREAM_ABOVE_TOKENS < 64_000


async def test_the_sdk_would_refuse_it_without_streaming() -> None:
    """What the stream avoids: the SDK's own check on a client with its default timeout."""
    import anthropic

    client = anthropic.AsyncAnthropic(api_key="test", base_url="http://127.0.0.1:9")
    with pytest.raises(ValueError, match="Streaming is required"):
        await client.messages.create(
            model=MODEL, max_tokens=64_000, messages=[{"role": "user", "content": "x"}]
        )
    await client.close()


async def test_errors_of_a_streamed_request_are_typed_the_same() -> None:
    async with Emulator(faults="script:429,retry_after=2.5") as emu:
        provider = AnthropicProvider("test", base_url=emu.base_url)
        with pytest.raises(RateLimitError) as raised:
            await provider.send(request(64_000))
        await provider.aclose()
    assert raised.value.retry_after == 2.5 and raised.value.retryable
