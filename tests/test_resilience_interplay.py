"""The resilience layers together: retry-after header parsing, no retries into a circuit that
opened meanwhile, fallback models checked and resolved at load, a health probe that never blocks
the event loop."""

from __future__ import annotations

import asyncio
import email.utils
from datetime import UTC, datetime
from pathlib import Path

import pytest

from _resilience_helpers import Recorder, Scripted, err, request, write_project
from claude_force.async_orchestrator import AsyncAgentOrchestrator
from claude_force.config import load_project
from claude_force.errors import (
    CircuitOpenError,
    ModelError,
    RateLimitError,
    ServerError,
)
from claude_force.events import BreakerRejected, BreakerTransition, EventBus, RetryGaveUp
from claude_force.messages import MessageRequest, MessageResponse
from claude_force.pipeline import PipelineSpec, wrap
from claude_force.providers._headers import parse_retry_after, parse_should_retry
from claude_force.resilience import (
    RateLimitedProvider,
    RateLimiter,
    ResilienceHub,
    ResilienceSettings,
    VirtualClock,
    hub_of,
    run_virtual,
)
from claude_force.resilience.config import ModelLimits, RateLimitSettings

PRIMARY, SECOND = "claude-sonnet-5-5", "claude-haiku-5-5"

# --- retry hints in response headers -----------------------------------------------------------


def test_retry_after_ms_wins_then_seconds_then_an_http_date() -> None:
    assert parse_retry_after({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    assert parse_retry_after({"retry-after": "7"}) == 7.0
    assert parse_retry_after({"retry-after": "0.25"}) == 0.25
    # an unparsable retry-after-ms falls back to retry-after
    assert parse_retry_after({"retry-after-ms": "soon", "retry-after": "3"}) == 3.0
    now = 1_900_000_000.0
    date = email.utils.formatdate(now + 42, usegmt=True)
    assert parse_retry_after({"retry-after": date}, now=now) == pytest.approx(42)
    past = email.utils.formatdate(now - 42, usegmt=True)
    assert parse_retry_after({"retry-after": past}, now=now) == 0.0  # never negative
    assert parse_retry_after({"retry-after": "-5"}) == 0.0
    assert parse_retry_after({"retry-after": "whenever"}) is None
    assert parse_retry_after({"retry-after": ""}) is None
    assert parse_retry_after({}) is None


def test_x_should_retry_is_read_exactly() -> None:
    assert parse_should_retry({"x-should-retry": "true"}) is True
    assert parse_should_retry({"x-should-retry": "false"}) is False
    assert parse_should_retry({"x-should-retry": "maybe"}) is None
    assert parse_should_retry({}) is None


# --- no retries into a circuit that opened meanwhile ----------------------------------------------


def hub_for(settings: dict[str, object], clock: VirtualClock) -> tuple[ResilienceHub, Recorder]:
    bus = EventBus()
    rec = Recorder(bus)
    hub = ResilienceHub(ResilienceSettings.model_validate(settings), bus=bus, clock=clock)
    return hub, rec


async def test_a_retry_is_not_sent_once_the_breaker_opened_and_the_call_falls_back() -> None:
    clock = VirtualClock()
    hub, rec = hub_for(
        {
            "retry": {"max_attempts": 3},
            "breaker": {"minimum_calls": 2, "cooldown_seconds": 30},
            "fallback": {"models": [SECOND]},
        },
        clock,
    )
    inner = Scripted(
        per_model={
            # A: a 429 asking for 10 s; B and C: failures the server says not to retry
            PRIMARY: [
                err(429, retry_after=10),
                err(503, should_retry=False),
                err(503, should_retry=False),
            ],
            SECOND: [],
        }
    )
    pipeline = wrap(inner, hub.install(PipelineSpec()))
    a, b, c = await run_virtual(
        clock, pipeline.send(request()), pipeline.send(request()), pipeline.send(request())
    )
    # B and C opened the circuit while A slept; A's retry was never sent to PRIMARY …
    assert isinstance(b, ServerError) and isinstance(c, ServerError)
    assert [r.model for r in inner.calls] == [PRIMARY, PRIMARY, PRIMARY, SECOND]
    # … A stopped with CircuitOpenError at its retry and fell back to the next model
    assert isinstance(a, MessageResponse) and a.model == SECOND
    (gave_up,) = rec.of(RetryGaveUp)
    assert (gave_up.reason, gave_up.attempts, gave_up.status) == ("circuit_open", 1, 429)
    assert len(rec.of(BreakerRejected)) == 1
    assert [(t.from_state, t.to_state) for t in rec.of(BreakerTransition)] == [("closed", "open")]


async def test_without_fallback_the_caller_sees_the_open_circuit_caused_by_the_last_error() -> None:
    clock = VirtualClock()
    hub, _ = hub_for({"breaker": {"minimum_calls": 2, "cooldown_seconds": 30}}, clock)
    inner = Scripted(
        [err(429, retry_after=10), err(503, should_retry=False), err(503, should_retry=False)]
    )
    pipeline = wrap(inner, hub.install(PipelineSpec()))
    a, _, _ = await run_virtual(
        clock, pipeline.send(request()), pipeline.send(request()), pipeline.send(request())
    )
    assert isinstance(a, CircuitOpenError) and isinstance(a.__cause__, RateLimitError)
    assert any("retries stopped after 1 attempt(s)" in n for n in a.__notes__)
    assert len(inner.calls) == 3


async def test_an_open_circuit_stops_retries_before_sleeping() -> None:
    clock = VirtualClock()
    hub, rec = hub_for({"breaker": {"minimum_calls": 2, "cooldown_seconds": 30}}, clock)
    slow = asyncio.Event()

    class SlowFirst(Scripted):
        """The first call fails (retryable) only after the others opened the breaker."""

        async def send(self, req: MessageRequest) -> MessageResponse:
            if not self.calls:
                self.calls.append(req)
                await slow.wait()
                raise err(503)
            return await super().send(req)

    inner = SlowFirst([err(503, should_retry=False), err(503, should_retry=False)])
    pipeline = wrap(inner, hub.install(PipelineSpec()))
    first = asyncio.ensure_future(pipeline.send(request()))
    await asyncio.sleep(0)
    for _ in range(2):
        with pytest.raises(ServerError):
            await pipeline.send(request())
    slow.set()
    with pytest.raises(CircuitOpenError):
        await first
    assert len(inner.calls) == 3 and clock.sleeps == [] and clock.pending == 0
    assert [e.reason for e in rec.of(RetryGaveUp)] == ["circuit_open"]


async def test_a_half_open_probe_may_still_retry_and_close_the_circuit() -> None:
    clock = VirtualClock(auto=True)
    hub, rec = hub_for(
        {
            "retry": {"max_attempts": 2, "base_delay_seconds": 0.01, "max_delay_seconds": 0.01},
            "breaker": {"minimum_calls": 1, "cooldown_seconds": 30},
        },
        clock,
    )
    inner = Scripted([err(503, should_retry=False), err(503), None])
    pipeline = wrap(inner, hub.install(PipelineSpec()))
    with pytest.raises(ServerError):
        await pipeline.send(request())  # opens the breaker
    await clock.sleep(30)
    out = await pipeline.send(request())  # the probe: fails once, retries, succeeds
    assert out.model == PRIMARY and len(inner.calls) == 3
    assert [t.to_state for t in rec.of(BreakerTransition)] == ["open", "half_open", "closed"]
    assert rec.of(RetryGaveUp) == []


async def test_the_rate_limiter_keeps_the_request_of_a_retry_stopped_by_the_breaker() -> None:
    clock = VirtualClock()
    limiter = RateLimiter(
        RateLimitSettings(default=ModelLimits(requests_per_minute=10)), clock=clock
    )
    until = datetime(2030, 1, 1, tzinfo=UTC)
    stopped = CircuitOpenError("x/y", until)
    stopped.__cause__ = err(503)  # earlier attempts reached the API
    layer = RateLimitedProvider(Scripted([stopped, CircuitOpenError("x/y", until)]), limiter)
    requests = limiter.buckets(PRIMARY).buckets
    with pytest.raises(CircuitOpenError):
        await layer.send(request())
    assert requests["requests"].level(clock.now()) == 9  # it was sent: it counts
    with pytest.raises(CircuitOpenError):
        await layer.send(request())
    assert requests["requests"].level(clock.now()) == 9  # rejected before sending: refunded


# --- fallback models: aliases resolved, retired ids refused at load ----------------------------


async def test_fallback_aliases_are_resolved_to_model_ids(tmp_path: Path) -> None:
    path = write_project(
        tmp_path,
        {"fallback": {"models": ["haiku"], "agents": {"beta": ["opus", "sonnet"]}}},
        models={"default": PRIMARY},
    )
    until = datetime(2030, 1, 1, tzinfo=UTC)
    inner = Scripted(per_model={PRIMARY: [CircuitOpenError(f"fake/{PRIMARY}", until)]})
    async with AsyncAgentOrchestrator(path, provider=inner, enable_tracking=False) as orch:
        result = await orch.execute_agent("alpha", "do it", use_memory=False)
        hub = hub_of(orch.pipeline)
    assert result.success and result.metadata["model"] == SECOND
    assert [r.model for r in inner.calls] == [PRIMARY, SECOND]
    assert hub is not None
    fallback = hub.settings.fallback
    assert fallback.models == [SECOND]
    assert fallback.agents == {"beta": ["claude-opus-5-5", PRIMARY]}


@pytest.mark.parametrize(
    ("fallback", "key"),
    [
        ({"models": ["claude-2.1"]}, "resilience.fallback.models.0"),
        (
            {"agents": {"beta": ["haiku", "claude-3-opus-20240229"]}},
            "resilience.fallback.agents.beta.1",
        ),
    ],
)
def test_a_retired_fallback_model_is_a_configuration_error(
    tmp_path: Path, fallback: dict[str, object], key: str
) -> None:
    path = write_project(tmp_path, {"fallback": fallback})
    with pytest.raises(ModelError) as info:
        load_project(path)
    exc = info.value
    assert exc.key == key and exc.file == path and exc.line is not None
    assert "is retired" in str(exc) and exc.exit_code == 2
    lines = path.read_text().splitlines()
    assert any(old in lines[exc.line - 1] for old in ("claude-2.1", "claude-3-opus"))


# --- health never blocks the event loop ------------------------------------------------------------


async def test_the_health_probe_does_not_block_the_event_loop() -> None:
    from blockbuster import blockbuster_ctx

    from claude_force.providers.anthropic import AnthropicProvider
    from claude_force.resilience.health import check_health
    from claude_force.testing import Emulator

    async with Emulator(latency="instant") as emu:
        provider = AnthropicProvider(api_key="test", base_url=emu.base_url)
        with blockbuster_ctx(["claude_force"], excluded_modules=["claude_force.testing"]):
            report = await check_health(provider, PRIMARY)  # builds the SDK client first
        await provider.aclose()
    assert report.status == "healthy" and report.probe.status == 200
