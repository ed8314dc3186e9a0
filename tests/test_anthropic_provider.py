"""AnthropicProvider driven by the official SDK against the local emulator over 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import anthropic
import pytest

from claude_force.errors import (
    AuthenticationError,
    InvalidRequestError,
    NotFoundError,
    OverloadedError,
    PermissionDeniedError,
    ProviderConnectionError,
    ProviderError,
    ProviderTimeoutError,
    RateLimitError,
    ServerError,
)
from claude_force.messages import ChatMessage, MessageRequest, SystemBlock
from claude_force.providers.anthropic import AnthropicProvider
from claude_force.providers.base import Provider
from claude_force.providers.simulated import SIMULATED_BANNER
from claude_force.testing import Emulator

MODEL = "claude-sonnet-5-5"
SYSTEM = (
    SystemBlock("# Code Reviewer\n" + "Review for correctness and clarity. " * 40, cache=True),
    SystemBlock("Project conventions: typed Python, small modules."),
)


def make_request(task: str = "Review the retry loop", **options: object) -> MessageRequest:
    return MessageRequest(
        model=MODEL,
        messages=(ChatMessage("user", task),),
        system=SYSTEM,
        max_tokens=1024,
        **options,  # type: ignore[arg-type]
    )


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator() as emulator:
        yield emulator


@pytest.fixture
async def connect(emu: Emulator) -> AsyncIterator[Callable[..., AnthropicProvider]]:
    """Providers pointed at the emulator; all closed at the end of the test."""
    made: list[AnthropicProvider] = []

    def factory(timeout_seconds: float = 10.0, api_key: str = "test") -> AnthropicProvider:
        provider = AnthropicProvider(
            api_key, base_url=emu.base_url, timeout_seconds=timeout_seconds
        )
        made.append(provider)
        return provider

    yield factory
    for provider in made:
        await provider.aclose()


async def test_request_shape_as_the_server_received_it(
    emu: Emulator, connect: Callable[..., AnthropicProvider]
) -> None:
    provider = connect()
    assert isinstance(provider, Provider) and provider.name == "anthropic"
    await provider.send(make_request())
    await provider.send(make_request(temperature=0.2, top_p=0.9, top_k=5, stop_sequences=("END",)))
    plain, tuned = (r.body for r in emu.requests)
    assert plain["model"] == MODEL and plain["max_tokens"] == 1024
    assert plain["system"] == [
        {"type": "text", "text": SYSTEM[0].text, "cache_control": {"type": "ephemeral"}},
        {"type": "text", "text": SYSTEM[1].text},
    ]
    assert plain["messages"] == [{"role": "user", "content": "Review the retry loop"}]
    assert "temperature" not in plain and "stream" not in plain
    assert (tuned["temperature"], tuned["top_p"], tuned["top_k"]) == (0.2, 0.9, 5)
    assert tuned["stop_sequences"] == ["END"] and "top_p" not in plain
    headers = emu.requests[0].headers
    assert headers["authorization"] == "Bearer test" or headers.get("x-api-key") == "test"
    assert "anthropic-version" in headers and headers["x-stainless-retry-count"] == "0"


async def test_response_fields_usage_and_prompt_cache(
    emu: Emulator, connect: Callable[..., AnthropicProvider]
) -> None:
    provider = connect()
    first = await provider.send(make_request())
    second = await provider.send(make_request())
    assert first.text.startswith(SIMULATED_BANNER) and first.text == second.text
    assert first.model == MODEL and first.stop_reason == "end_turn" and first.complete
    assert first.request_id == emu.requests[0].request_id and first.request_id.startswith("req_")
    assert second.request_id == emu.requests[1].request_id != first.request_id
    assert first.message_id is not None and first.message_id.startswith("msg_")
    assert (first.provider, first.simulated) == ("anthropic", False)
    assert first.usage.cache_creation_input_tokens > 0 and first.usage.cache_read_input_tokens == 0
    assert second.usage.cache_creation_input_tokens == 0
    assert second.usage.cache_read_input_tokens == first.usage.cache_creation_input_tokens
    assert second.usage.input_tokens == first.usage.input_tokens > 0
    assert first.usage.output_tokens > 0 and first.usage.prompt_tokens == second.usage.prompt_tokens
    names = dict(first.headers)
    for kind in ("requests", "input-tokens", "output-tokens"):
        for part in ("limit", "remaining", "reset"):
            assert f"anthropic-ratelimit-{kind}-{part}" in names
    assert int(dict(second.headers)["anthropic-ratelimit-requests-remaining"]) < int(
        names["anthropic-ratelimit-requests-remaining"]
    )
    assert all(k.startswith("anthropic-ratelimit-") for k in names)


async def test_max_tokens_stop_reason(connect: Callable[..., AnthropicProvider]) -> None:
    request = MessageRequest(model=MODEL, messages=(ChatMessage("user", "hi"),), max_tokens=8)
    response = await connect().send(request)
    assert response.stop_reason == "max_tokens" and not response.complete
    assert response.usage.output_tokens == 8


@pytest.mark.parametrize(
    ("fault", "error", "retryable", "error_type"),
    [
        ("400", InvalidRequestError, False, "invalid_request_error"),
        ("401", AuthenticationError, False, "authentication_error"),
        ("403", PermissionDeniedError, False, "permission_error"),
        ("404", NotFoundError, False, "not_found_error"),
        ("413", InvalidRequestError, False, "request_too_large"),
        ("429", RateLimitError, True, "rate_limit_error"),
        ("500", ServerError, True, "api_error"),
        ("503", ServerError, True, "api_error"),
        ("529", OverloadedError, True, "overloaded_error"),
        ("500/noretry", ServerError, False, "api_error"),
        ("400/retry", InvalidRequestError, True, "invalid_request_error"),
    ],
)
async def test_error_statuses_map_to_typed_errors(
    emu: Emulator,
    connect: Callable[..., AnthropicProvider],
    fault: str,
    error: type[ProviderError],
    retryable: bool,
    error_type: str,
) -> None:
    emu.enqueue(fault)
    with pytest.raises(ProviderError) as raised:
        await connect().send(make_request())
    exc = raised.value
    assert type(exc) is error
    record = emu.requests[0]
    assert exc.status == int(fault[:3]) and exc.request_id == record.request_id
    assert exc.error_type == error_type and exc.retryable is retryable
    assert exc.retry_after == (1.0 if fault == "429" else None)
    assert exc.should_retry == {"500/noretry": False, "400/retry": True}.get(fault)
    assert record.request_id in str(exc)
    assert emu.requests_total == 1  # one attempt: the SDK's own retries are off


async def test_retry_after_comes_from_the_header(connect: Callable[..., AnthropicProvider]) -> None:
    async with Emulator(faults="script:429,retry_after=2.5") as emu:
        provider = AnthropicProvider("test", base_url=emu.base_url)
        with pytest.raises(RateLimitError) as raised:
            await provider.send(make_request())
        await provider.aclose()
    assert raised.value.retry_after == 2.5 and raised.value.retryable


async def test_validation_errors_from_the_server_are_typed(
    emu: Emulator, connect: Callable[..., AnthropicProvider]
) -> None:
    bad = MessageRequest(model=MODEL, messages=(ChatMessage("user", "x"),), temperature=3.0)
    with pytest.raises(InvalidRequestError, match="temperature") as raised:
        await connect().send(bad)
    assert raised.value.status == 400 and not raised.value.retryable
    async with Emulator(api_key="the-right-key") as strict:
        provider = AnthropicProvider("wrong", base_url=strict.base_url)
        with pytest.raises(AuthenticationError, match="invalid x-api-key"):
            await provider.send(make_request())
        await provider.aclose()


@pytest.mark.parametrize("fault", ["drop", "cut"])
async def test_dropped_connection_is_a_connection_error(
    emu: Emulator, connect: Callable[..., AnthropicProvider], fault: str
) -> None:
    emu.enqueue(fault)
    provider = connect()
    with pytest.raises(ProviderConnectionError) as raised:
        await provider.send(make_request())
    assert type(raised.value) is ProviderConnectionError
    assert raised.value.status is None and raised.value.retryable
    assert isinstance(raised.value.__cause__, anthropic.APIConnectionError)
    assert emu.requests_total == 1 and emu.requests[0].outcome == fault
    response = await provider.send(make_request())  # the client recovers on a new connection
    assert response.text.startswith(SIMULATED_BANNER) and emu.requests_total == 2


async def test_slow_response_beyond_the_timeout() -> None:
    async with Emulator(faults="script:slow,slow_s=5") as emu:
        provider = AnthropicProvider("test", base_url=emu.base_url, timeout_seconds=0.3)
        with pytest.raises(ProviderTimeoutError, match=r"0\.3s") as raised:
            await provider.send(make_request())
        assert raised.value.retryable and raised.value.status is None
        assert emu.requests_total == 1 and emu.requests[0].fault == "slow"
        await provider.aclose()


async def test_mixed_faults_one_attempt_per_call(
    emu: Emulator, connect: Callable[..., AnthropicProvider]
) -> None:
    emu.enqueue("ok", "429", "ok", "drop", "500", "529", "ok")
    provider = connect()
    outcomes: list[str] = []
    for calls in range(1, 8):
        try:
            await provider.send(make_request(f"task {calls}"))
            outcomes.append("ok")
        except ProviderError as exc:
            outcomes.append(type(exc).__name__)
        assert emu.requests_total == calls
    assert outcomes == [
        "ok",
        "RateLimitError",
        "ok",
        "ProviderConnectionError",
        "ServerError",
        "OverloadedError",
        "ok",
    ]


async def test_client_is_lazy_reused_and_closed(emu: Emulator) -> None:
    provider = AnthropicProvider("test", base_url=emu.base_url)
    await provider.aclose()  # nothing to close yet
    client = provider.client
    assert provider.client is client and client.max_retries == 0
    await provider.send(make_request())
    await provider.aclose()
    assert provider._client is None
    injected = anthropic.AsyncAnthropic(base_url=emu.base_url, api_key="test", max_retries=0)
    provider = AnthropicProvider(None, client=injected)
    assert provider.client is injected
    assert (await provider.send(make_request())).request_id == emu.requests[-1].request_id
    await provider.aclose()
