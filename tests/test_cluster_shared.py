"""Limits and breaker state shared through Redis: the scripts against real Redis, the layer with a
fake provider, and across worker processes counted at the emulator."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from _cluster_helpers import REDIS_URL, cluster_project, redis_or_skip
from claude_force.cluster.shared import SharedLimitsProvider, SharedState, install_shared, namespace
from claude_force.config import load_project
from claude_force.errors import CircuitOpenError
from claude_force.events import BreakerTransition, EventBus, RateLimitWait
from claude_force.messages import ChatMessage, MessageRequest, MessageResponse, Usage
from claude_force.pipeline import PipelineSpec
from claude_force.resilience.buckets import Need
from claude_force.resilience.config import ResilienceSettings
from claude_force.resilience.ratelimit import RateLimitDeadlineError

pytestmark = pytest.mark.services


@pytest.fixture
def redis_ok() -> str:
    return redis_or_skip()


@pytest.fixture
async def shared(redis_ok: str) -> AsyncIterator[SharedState]:
    from redis.asyncio import Redis

    state = SharedState(Redis.from_url(redis_ok), f"claude-force:test:{uuid.uuid4().hex}:")
    yield state
    await state.aclose()


class Fake:
    name = "fake"
    simulated = True

    def __init__(self) -> None:
        self.calls = 0

    async def send(self, request: MessageRequest) -> MessageResponse:
        self.calls += 1
        return MessageResponse("ok", request.model, "end_turn", Usage(10, 5))

    async def aclose(self) -> None:
        pass


def _request(max_tokens: int = 100) -> MessageRequest:
    return MessageRequest(
        model="m", messages=(ChatMessage("user", "hello"),), max_tokens=max_tokens
    )


def _settings(rpm: int | None = 3, **breaker: object) -> ResilienceSettings:
    return ResilienceSettings.model_validate(
        {"rate_limits": {"default": {"requests_per_minute": rpm}}, "breaker": breaker}
    )


async def test_buckets_take_refuse_and_give_back(shared: SharedState) -> None:
    caps = {"requests": 3, "output_tokens": 300}
    need = Need(1, 0, 100)
    assert [await shared.try_take("m", caps, need) for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = await shared.try_take("m", caps, need)
    assert 15 < wait <= 20  # one request of three per minute: ~20 s away
    await shared.give_back("m", caps, {"requests": 1, "output_tokens": 100})
    assert await shared.try_take("m", caps, need) == 0.0
    await shared.give_back("m", caps, {})  # nothing to settle: no round trip


async def test_the_layer_waits_for_shared_capacity_and_settles_usage(shared: SharedState) -> None:
    fake = Fake()
    slept: list[float] = []

    async def sleep(s: float) -> None:
        slept.append(s)
        await shared.give_back("m", {"requests": 2}, {"requests": 1})

    bus = EventBus()
    seen: list[object] = []
    bus.subscribe(seen.append)
    layer = SharedLimitsProvider(fake, shared, _settings(rpm=2), bus=bus, sleep=sleep)
    for _ in range(3):
        await layer.send(_request())
    assert fake.calls == 3
    assert slept == [1.0]  # the third call waited (re-checking within a second)
    assert [type(e) for e in seen] == [RateLimitWait]


async def test_a_deadline_too_close_for_the_shared_limit_fails_at_once(
    shared: SharedState,
) -> None:
    from claude_force import callctx

    layer = SharedLimitsProvider(Fake(), shared, _settings(rpm=1))
    await layer.send(_request())
    with (
        callctx.using(callctx.CallContext(deadline=time.monotonic() + 1)),
        pytest.raises(RateLimitDeadlineError),
    ):
        await layer.send(_request())


async def test_a_breaker_opened_elsewhere_refuses_without_calling(shared: SharedState) -> None:
    fake = Fake()
    layer = SharedLimitsProvider(fake, shared, _settings(rpm=None))
    shared.on_event(BreakerTransition("fake", "m", "closed", "open", 1.0, 10, retry_in_s=30))
    shared.on_event("not a transition")
    wait_s = 0.0
    while await shared.open_until("fake", "m") is None and wait_s < 2:
        await _pause(0.01)
        wait_s += 0.01
    with pytest.raises(CircuitOpenError):
        await layer.send(_request())
    assert fake.calls == 0
    shared.on_event(BreakerTransition("fake", "m", "half_open", "closed", 0.0, 1))
    while await shared.open_until("fake", "m") is not None and wait_s < 4:
        await _pause(0.01)
        wait_s += 0.01
    await layer.send(_request())
    assert fake.calls == 1


async def _pause(s: float) -> None:
    import asyncio

    await asyncio.sleep(s)


async def test_redis_down_degrades_to_the_process_own_limits(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from redis.asyncio import Redis

    state = SharedState(Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2), "x:")
    fake = Fake()
    layer = SharedLimitsProvider(fake, state, _settings(rpm=1))
    await layer.send(_request())
    await layer.send(_request())  # no shared limit without Redis: the call goes through
    assert fake.calls == 2
    assert sum("shared" in r.message for r in caplog.records) == 1  # warned once, not per call
    state.on_event(BreakerTransition("fake", "m", "closed", "open", 1.0, 10, retry_in_s=1))
    await layer.aclose()


def test_install_shared_only_in_cluster_mode_with_redis(tmp_path: Path) -> None:
    config = cluster_project(tmp_path, "postgresql://postgres@127.0.0.1:5432/none")
    project = load_project(config)
    spec = PipelineSpec()
    assert install_shared(spec, project, EventBus()).rate_limit is None  # no Redis configured
    config = cluster_project(tmp_path / "b", "postgresql://x@h/db", redis_url=REDIS_URL)
    spec = install_shared(PipelineSpec(), load_project(config), EventBus())
    assert spec.rate_limit is not None
    assert isinstance(spec.rate_limit(Fake()), SharedLimitsProvider)
    assert namespace("postgresql://a") != namespace("postgresql://b")
