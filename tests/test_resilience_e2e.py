"""End to end against the Messages API emulator, through the official SDK over real HTTP."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from _resilience_helpers import Recorder, request, write_project
from claude_force import callctx
from claude_force.async_orchestrator import AsyncAgentOrchestrator
from claude_force.errors import (
    CircuitOpenError,
    InvalidRequestError,
    OverloadedError,
    ProviderError,
    RateLimitError,
    ServerError,
)
from claude_force.events import BreakerTransition, EventBus, RetryGaveUp, RetryScheduled
from claude_force.messages import MessageRequest, MessageResponse
from claude_force.pipeline import resilient_spec, wrap
from claude_force.providers.anthropic import AnthropicProvider
from claude_force.providers.base import Provider, ProviderWrapper
from claude_force.providers.simulated import SimulatedProvider
from claude_force.resilience import ResilienceHub, ResilienceSettings, VirtualClock
from claude_force.testing import Emulator

MIXED_30 = "429:0.1,529:0.08,500:0.06,drop:0.06,retry_after=0.01"


@pytest.fixture
async def emu(request: pytest.FixtureRequest) -> AsyncIterator[Emulator]:
    """An emulator with instant answers; ``indirect`` parametrisation passes a fault spec."""
    async with Emulator(latency="instant", faults=getattr(request, "param", None)) as e:
        yield e


class Announce(ProviderWrapper):
    """Sets ``event`` when a request is handed to the SDK."""

    def __init__(self, inner: Provider, event: asyncio.Event) -> None:
        super().__init__(inner)
        self.event = event

    async def send(self, req: MessageRequest) -> MessageResponse:
        self.event.set()
        return await self.inner.send(req)


def pipeline(
    emu: Emulator,
    settings: dict[str, object],
    clock: VirtualClock,
    on_send: asyncio.Event | None = None,
) -> tuple[Provider, ResilienceHub, Recorder]:
    """The resilience layers (on ``clock``) around the real SDK provider pointed at ``emu``."""
    bus = EventBus()
    hub = ResilienceHub(ResilienceSettings.model_validate(settings), bus=bus, clock=clock)
    provider: Provider = AnthropicProvider(
        api_key="test", base_url=emu.base_url, timeout_seconds=10
    )
    if on_send is not None:
        provider = Announce(provider, on_send)
    return wrap(provider, resilient_spec(hub)), hub, Recorder(bus)


async def test_200_concurrent_executions_ride_through_30_percent_faults(tmp_path: Path) -> None:
    async with Emulator(latency="instant", faults=MIXED_30) as emu:
        await ride_through(emu, tmp_path)


async def ride_through(emu: Emulator, tmp_path: Path) -> None:
    max_attempts = 10
    config = write_project(
        tmp_path,
        {
            "retry": {
                "max_attempts": max_attempts,
                "base_delay_seconds": 0.001,
                "max_delay_seconds": 0.004,
                "budget_ratio": 1.0,
            },
        },
        cache={"enabled": False},
    )
    tasks = [("alpha" if i % 2 else "beta", f"task number {i}") for i in range(200)]
    bus = EventBus()
    rec = Recorder(bus)
    provider = AnthropicProvider(api_key="test", base_url=emu.base_url, timeout_seconds=10)
    async with AsyncAgentOrchestrator(
        config, provider=provider, bus=bus, max_concurrent=200, enable_tracking=False
    ) as orch:
        results = await orch.execute_many(tasks)
    async with AsyncAgentOrchestrator(
        config, provider=SimulatedProvider(latency="instant"), max_concurrent=200
    ) as offline:
        expected = await offline.execute_many(tasks)

    assert [r.success for r in results] == [True] * 200, [
        r.errors for r in results if not r.success
    ]
    assert [r.output for r in results] == [e.output for e in expected]
    faults = Counter(r.fault for r in emu.requests)
    assert faults["ok"] == 200 and sum(faults.values()) > 200  # faults really happened …
    assert {"429", "529", "500", "drop"} <= set(faults)
    retries = rec.of(RetryScheduled)
    assert emu.requests_total == 200 + len(retries)  # … and every extra request was a retry
    per_call = Counter(e.execution_id for e in retries)
    assert max(per_call.values()) <= max_attempts - 1
    assert emu.requests_total <= 200 * max_attempts
    assert rec.of(RetryGaveUp) == [] and rec.of(BreakerTransition) == []
    assert {e.reason for e in retries} == {"retry_after", "backoff"}


@pytest.mark.parametrize("emu", ["retry_after=2.5"], indirect=True)
async def test_retry_after_from_the_api_is_honoured(emu: Emulator) -> None:
    clock = VirtualClock(auto=True)
    provider, _, rec = pipeline(emu, {}, clock)
    emu.enqueue("429", "ok")
    out = await provider.send(request())
    assert out.text and emu.requests_total == 2
    assert clock.sleeps == [2.5]  # retry-after-ms, exactly
    assert rec.of(RetryScheduled)[0].reason == "retry_after"
    await provider.aclose()


async def test_request_errors_are_not_retried_over_http(emu: Emulator) -> None:
    provider, _, rec = pipeline(emu, {}, VirtualClock(auto=True))
    emu.enqueue("400")
    with pytest.raises(InvalidRequestError):
        await provider.send(request())
    emu.enqueue("500/noretry")  # the server's x-should-retry: false
    with pytest.raises(ServerError):
        await provider.send(request())
    assert emu.requests_total == 2 and rec.of(RetryScheduled) == []
    await provider.aclose()


@pytest.mark.parametrize("emu", ["retry_after=3"], indirect=True)
async def test_the_deadline_stops_retries_over_http(emu: Emulator) -> None:
    clock = VirtualClock(auto=True)
    provider, _, rec = pipeline(emu, {"retry": {"max_attempts": 10}}, clock)
    emu.enqueue("429", "429", "429", "ok")
    with callctx.using(deadline=clock.now() + 5), pytest.raises(RateLimitError):
        await provider.send(request())
    assert emu.requests_total == 2 and clock.sleeps == [3.0]
    assert rec.of(RetryGaveUp)[0].reason == "deadline"
    await provider.aclose()


async def test_open_breaker_sends_nothing_and_the_probe_decides(emu: Emulator) -> None:
    clock = VirtualClock()
    settings = {
        "retry": {"enabled": False},
        "breaker": {"minimum_calls": 4, "cooldown_seconds": 30},
    }
    provider, hub, rec = pipeline(emu, settings, clock)
    emu.enqueue("500", "503", "529", "500")
    for _ in range(4):
        with pytest.raises(ProviderError):
            await provider.send(request())
    assert emu.requests_total == 4
    for _ in range(25):
        with pytest.raises(CircuitOpenError):
            await provider.send(request())
    assert emu.requests_total == 4  # zero requests reached the API while open

    clock.advance(30)
    emu.enqueue("529")  # the probe fails: open again, still nothing sent meanwhile
    with pytest.raises(OverloadedError):
        await provider.send(request())
    with pytest.raises(CircuitOpenError):
        await provider.send(request())
    assert emu.requests_total == 5

    clock.advance(30)  # the next probe succeeds and closes the circuit
    assert (await provider.send(request())).text
    await provider.send(request())
    assert emu.requests_total == 7
    states = [(e.from_state, e.to_state) for e in rec.of(BreakerTransition)]
    assert states == [
        ("closed", "open"),
        ("open", "half_open"),
        ("half_open", "open"),
        ("open", "half_open"),
        ("half_open", "closed"),
    ]
    assert hub.snapshot()["breakers"][0]["state"] == "closed"
    await provider.aclose()


async def test_rate_limits_adapt_to_the_api_headers(emu: Emulator) -> None:
    provider, hub, _ = pipeline(emu, {}, VirtualClock())
    await provider.send(request())
    learned = hub.snapshot()["rate_limits"]["claude-sonnet-5-5"]
    assert learned["requests"]["per_minute"] == 4000 and learned["requests"]["source"] == "headers"
    assert learned["output_tokens"]["per_minute"] == 400_000
    await provider.aclose()


async def test_cancelling_a_call_in_flight_releases_everything(emu: Emulator) -> None:
    clock = VirtualClock()
    settings = {
        "rate_limits": {"default": {"requests_per_minute": 10, "output_tokens_per_minute": 10_000}}
    }
    provider, hub, _ = pipeline(emu, settings, clock, on_send=(sent := asyncio.Event()))
    emu.enqueue("slow")  # the server holds the request for slow_s (30 s)
    before = set(asyncio.all_tasks())
    call = asyncio.ensure_future(provider.send(request(max_tokens=4000)))
    await asyncio.wait_for(sent.wait(), 10)
    assert hub.limiter.outstanding("claude-sonnet-5-5")["output_tokens"] == 4000
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    assert hub.limiter.outstanding("claude-sonnet-5-5") == {
        "requests": 0,
        "input_tokens": 0,
        "output_tokens": 0,
    }
    buckets = hub.limiter.buckets("claude-sonnet-5-5").buckets
    assert buckets["output_tokens"].level(clock.now()) == 10_000
    assert clock.pending == 0
    left = set(asyncio.all_tasks()) - before - set(emu._tasks)
    assert left == set()  # nothing of ours keeps running
    await provider.aclose()
