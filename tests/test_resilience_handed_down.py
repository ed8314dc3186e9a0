"""The rate limiter and the breaker hand their after-the-call accounting down (issue #10).

Neither waits for the answer in a frame of its own: the reservation (settled or released) and
the breaker's outcome are told by the coroutine that waits for the answer — the retry layer's,
or one small coroutine for all of them over a provider without ``send_after``. These tests pin
that structure and that the accounting is exactly what the nested frames did.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from _frames import qualnames
from _resilience_helpers import Scripted, err, request, response
from claude_force.errors import CircuitOpenError, ServerError
from claude_force.messages import MessageRequest, MessageResponse
from claude_force.pipeline import resilient_spec, wrap
from claude_force.providers.base import call_at_once, send_after, tell_failed, tell_ok
from claude_force.resilience import (
    BreakerSettings,
    ModelLimits,
    RateLimitSettings,
    ResilienceHub,
    ResilienceSettings,
    RetrySettings,
    VirtualClock,
)

MODEL = "claude-sonnet-5-5"


def hub(*, retry: bool = True, clock: VirtualClock | None = None) -> ResilienceHub:
    settings = ResilienceSettings(
        rate_limits=RateLimitSettings(
            default=ModelLimits(requests_per_minute=10, output_tokens_per_minute=10_000)
        ),
        breaker=BreakerSettings(minimum_calls=1, cooldown_seconds=10),
        retry=RetrySettings(enabled=retry, max_attempts=1),
    )
    return ResilienceHub(settings, clock=clock or VirtualClock())


class Told:
    """An ``After`` that records what it is told."""

    def __init__(self, log: list[str], name: str, *, raises: BaseException | None = None) -> None:
        self.log, self.name, self.raises = log, name, raises

    def ok(self, response: MessageResponse) -> None:
        self.log.append(f"{self.name} ok")
        if self.raises is not None:
            raise self.raises

    def failed(self, exc: BaseException) -> None:
        self.log.append(f"{self.name} failed {type(exc).__name__}")
        if self.raises is not None:
            raise self.raises


@pytest.mark.parametrize("retry", [True, False])
async def test_a_waiting_call_holds_no_frame_of_the_rate_limiter_or_the_breaker(
    retry: bool,
) -> None:
    h = hub(retry=retry)
    inner = Scripted()
    inner.gate = asyncio.Event()
    pipeline = wrap(inner, resilient_spec(h))
    # as the runner sends: its reply awaited at once (providers.base.call_at_once)
    call = asyncio.ensure_future(call_at_once(pipeline.send, request(max_tokens=400)))
    for _ in range(20):
        await asyncio.sleep(0)
    assert inner.in_flight == 1
    names = qualnames(call.get_coro())
    assert not any(n.startswith(("RateLimitedProvider", "CircuitBreakerProvider")) for n in names)
    # who tells the accounting: the retry frame, else one coroutine for both layers
    assert names[0] == ("RetryingProvider.send_after" if retry else "_told")
    assert h.limiter.outstanding(MODEL)["output_tokens"] == 400  # reserved before the await
    inner.gate.set()
    await call
    assert h.limiter.outstanding(MODEL) == {"requests": 0, "input_tokens": 0, "output_tokens": 0}
    assert h.breakers.get("fake", MODEL).snapshot(h.clock.now()).calls == 1  # one success


@pytest.mark.parametrize("retry", [True, False])
async def test_a_cancelled_probe_frees_its_slot_and_its_reservation(retry: bool) -> None:
    clock = VirtualClock()
    h = hub(retry=retry, clock=clock)
    inner = Scripted([err(503), None])
    pipeline = wrap(inner, resilient_spec(h))
    with pytest.raises(ServerError):
        await pipeline.send(request())  # one failure of one call: open
    breaker = h.breakers.get("fake", MODEL)
    assert breaker.state == "open"
    clock.advance(11)
    inner.gate = asyncio.Event()
    probe = asyncio.ensure_future(pipeline.send(request(max_tokens=400)))
    for _ in range(20):
        await asyncio.sleep(0)
    assert inner.in_flight == 1
    assert breaker.state == "half_open" and breaker.snapshot(clock.now()).probes_in_flight == 1
    probe.cancel()
    with pytest.raises(asyncio.CancelledError):
        await probe
    # the cancelled probe decided nothing and gave its slot and its whole reservation back
    assert breaker.state == "half_open" and breaker.snapshot(clock.now()).probes_in_flight == 0
    assert h.limiter.outstanding(MODEL) == {"requests": 0, "input_tokens": 0, "output_tokens": 0}
    inner.gate.set()
    await pipeline.send(request())  # the next probe closes it
    assert breaker.state == "closed"


async def test_a_rejection_below_the_rate_limiter_gives_its_reservation_back() -> None:
    clock = VirtualClock()
    h = hub(clock=clock)
    inner = Scripted([err(503)])
    # no precheck: the rejection comes from the breaker layer, after the reservation was made
    pipeline = h.rate_limit_layer(h.breaker_layer(h.retry_layer(inner)))
    pipeline._precheck = None  # type: ignore[attr-defined]
    with pytest.raises(ServerError):
        await pipeline.send(request())
    level = h.limiter.buckets(MODEL).buckets["requests"].level(clock.now())
    with pytest.raises(CircuitOpenError):
        await pipeline.send(request())
    assert h.limiter.outstanding(MODEL) == {"requests": 0, "input_tokens": 0, "output_tokens": 0}
    # the rejected call sent nothing: its request is refunded too
    assert h.limiter.buckets(MODEL).buckets["requests"].level(clock.now()) == level
    assert len(inner.calls) == 1


async def test_send_after_tells_every_layer_innermost_first() -> None:
    log: list[str] = []
    after = (Told(log, "inner"), Told(log, "outer"))
    req = request()
    got = await send_after(Scripted(), req, after)
    assert got.text and log == ["inner ok", "outer ok"]
    log.clear()
    with pytest.raises(ServerError):
        await send_after(Scripted([err(500)]), req, after)
    assert log == ["inner failed ServerError", "outer failed ServerError"]


async def test_send_after_tells_a_failure_raised_before_any_await() -> None:
    class Refuses(Scripted):
        def send(self, request: MessageRequest) -> Any:  # raises when called, not awaited
            raise ServerError("refused at once")

    log: list[str] = []
    with pytest.raises(ServerError):
        send_after(Refuses(), request(), (Told(log, "a"), Told(log, "b")))
    assert log == ["a failed ServerError", "b failed ServerError"]


def test_a_layer_that_fails_to_account_fails_the_call_for_the_layers_above() -> None:
    """As nested ``try`` blocks: the error an inner layer raised is what the outer ones see."""
    log: list[str] = []
    broken = Told(log, "inner", raises=KeyError("bug"))
    with pytest.raises(KeyError):
        tell_ok((broken, Told(log, "outer")), response(request()))
    assert log == ["inner ok", "outer failed KeyError"]
    log.clear()
    with pytest.raises(KeyError):
        tell_failed((broken, Told(log, "outer")), ServerError("x"))
    assert log == ["inner failed ServerError", "outer failed KeyError"]


def test_reservations_of_a_model_without_limits_share_one_empty_mapping() -> None:
    """Every call in flight holds its reservation: without limits it holds nothing of its own."""
    from claude_force.resilience import Need, RateLimiter

    limiter = RateLimiter(RateLimitSettings())
    first, second = (limiter.try_acquire(MODEL, Need()) for _ in range(2))
    assert first is not None and second is not None
    assert first.taken is second.taken and dict(first.taken) == {}
    first.settle(response(request()).usage)
    second.release(sent=False)
    assert limiter.outstanding(MODEL) == {"requests": 0, "input_tokens": 0, "output_tokens": 0}


async def test_a_send_never_awaited_takes_nothing() -> None:
    """A caller that did not promise to await at once: a task cancelled before its first step,
    ``wait_for(..., 0)``. No reservation and no half-open probe is left taken (they are taken
    when the reply runs, not when ``send`` is called)."""
    clock = VirtualClock()
    h = hub(retry=True, clock=clock)
    inner = Scripted([err(503), None, None])
    pipeline = wrap(inner, resilient_spec(h))
    task = asyncio.ensure_future(pipeline.send(request(max_tokens=400)))
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(pipeline.send(request(max_tokens=400)), 0)
    assert h.limiter.outstanding(MODEL) == {"requests": 0, "input_tokens": 0, "output_tokens": 0}
    with pytest.raises(ServerError):
        await pipeline.send(request())  # opens the breaker
    clock.advance(11)
    probe = asyncio.ensure_future(pipeline.send(request()))
    probe.cancel()
    with pytest.raises(asyncio.CancelledError):
        await probe
    assert h.breakers.get("fake", MODEL).snapshot(clock.now()).probes_in_flight == 0
    await pipeline.send(request())  # the next probe goes through (and closes it)
    assert len(inner.calls) == 2
