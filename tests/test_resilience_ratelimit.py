"""Client-side rate limits: buckets, header adaptation, FIFO waiting, deadlines, cancellation."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from _resilience_helpers import Recorder, Scripted, err, request, response
from claude_force import callctx
from claude_force.errors import CircuitOpenError, ServerError
from claude_force.events import EventBus, RateLimitWait
from claude_force.messages import MessageRequest, MessageResponse, Usage
from claude_force.providers.simulated import estimate_tokens
from claude_force.resilience import (
    ModelLimits,
    Need,
    RateLimitDeadlineError,
    RateLimitedProvider,
    RateLimiter,
    RateLimitSettings,
    TokenBucket,
    VirtualClock,
    parse_ratelimit_headers,
    run_virtual,
)
from claude_force.resilience.buckets import ModelBuckets, counted_input

MODEL = "claude-sonnet-5-5"


def limits(
    rpm: int | None = None, itpm: int | None = None, otpm: int | None = None
) -> RateLimitSettings:
    return RateLimitSettings(
        default=ModelLimits(
            requests_per_minute=rpm, input_tokens_per_minute=itpm, output_tokens_per_minute=otpm
        )
    )


# --- buckets ----------------------------------------------------------------------------------


def test_bucket_refills_continuously_and_caps_at_capacity() -> None:
    b = TokenBucket(60, now=0)
    assert b.rate == 1.0 and b.level(0) == 60
    b.take(60, 0)
    assert b.time_until(10, 0) == 10
    assert b.level(5) == 5
    assert b.level(1000) == 60
    b.take(100, 1000)  # actual usage above the reservation: a debt
    assert b.level(1000) == -40 and b.time_until(1, 1000) == 41
    b.give(500, 1000)
    assert b.level(1000) == 60
    assert b.time_until(10_000, 1000) == 0  # clamped to the capacity: never waits forever
    b.set_capacity(30, 1000)
    assert b.level(1000) == 30 and b.rate == 0.5
    b.cap_level(7, 1000)
    assert b.level(1000) == 7
    with pytest.raises(ValueError):
        TokenBucket(0, now=0)


@settings(max_examples=200, deadline=None)
@given(
    capacity=st.integers(min_value=1, max_value=1000),
    ops=st.lists(
        st.tuples(st.floats(min_value=0, max_value=30), st.integers(min_value=1, max_value=1000)),
        max_size=40,
    ),
)
def test_a_bucket_never_admits_more_than_capacity_plus_refill(
    capacity: int, ops: list[tuple[float, int]]
) -> None:
    """Greedy takes whenever ``time_until`` says 0: over any interval, at most C + rate × T."""
    b = TokenBucket(capacity, now=0)
    now, grants = 0.0, []
    for dt, amount in ops:
        amount = min(amount, capacity)
        now += dt
        wait = b.time_until(amount, now)
        now += wait
        assert b.time_until(amount, now) == pytest.approx(0, abs=1e-6)
        b.take(amount, now)
        grants.append((now, amount))
    assert_conformant(grants, capacity, capacity / 60)


def assert_conformant(grants: Sequence[tuple[float, float]], capacity: float, rate: float) -> None:
    for i, (t0, _) in enumerate(grants):
        total = 0.0
        for t1, amount in grants[i:]:
            total += amount
            assert total <= capacity + rate * (t1 - t0) + 1e-6


def test_parse_ratelimit_headers() -> None:
    parsed = parse_ratelimit_headers(
        [
            ("anthropic-ratelimit-requests-limit", "50"),
            ("anthropic-ratelimit-requests-remaining", "49"),
            ("Anthropic-RateLimit-Input-Tokens-Limit", "20000"),
            ("anthropic-ratelimit-output-tokens-remaining", "oops"),
            ("anthropic-ratelimit-tokens-limit", "1"),
            ("anthropic-ratelimit-requests-reset", "2030-01-01T00:00:00Z"),
            ("request-id", "x"),
        ]
    )
    assert parsed == {"requests": (50, 49), "input_tokens": (20000, None)}
    assert parse_ratelimit_headers({"anthropic-ratelimit-output-tokens-limit": "8000"}) == {
        "output_tokens": (8000, None)
    }


def test_buckets_learn_from_headers_and_never_exceed_the_server() -> None:
    mb = ModelBuckets(ModelLimits(requests_per_minute=100), now=0)
    assert set(mb.buckets) == {"requests"}
    assert mb.observe(
        [
            ("anthropic-ratelimit-requests-limit", "50"),  # lower than configured: adopt
            ("anthropic-ratelimit-requests-remaining", "20"),
            ("anthropic-ratelimit-output-tokens-limit", "8000"),  # not configured: learn
            ("anthropic-ratelimit-output-tokens-remaining", "6000"),
        ],
        now=0,
    )
    assert mb.buckets["requests"].capacity == 50 and mb.buckets["requests"].level(0) == 20
    assert mb.buckets["output_tokens"].capacity == 8000
    assert mb.buckets["output_tokens"].level(0) == 6000
    snap = {s.kind: s for s in mb.snapshot(0)}
    assert snap["requests"].source == "configured" and snap["output_tokens"].source == "headers"
    assert snap["output_tokens"].per_minute == 8000
    # A higher server limit does not raise a configured one; nothing new: no change.
    assert not mb.observe([("anthropic-ratelimit-requests-limit", "50")], now=0)
    mb.observe([("anthropic-ratelimit-requests-limit", "500")], now=0)
    assert mb.buckets["requests"].capacity == 100
    frozen = ModelBuckets(ModelLimits(), now=0, adapt=False)
    assert not frozen.observe([("anthropic-ratelimit-requests-limit", "5")], now=0)
    assert not frozen.limited


def test_counted_input_exempts_cache_reads_by_default() -> None:
    u = Usage(
        input_tokens=10,
        output_tokens=1,
        cache_creation_input_tokens=5,
        cache_read_input_tokens=1000,
    )
    assert counted_input(u) == 15
    assert counted_input(u, count_cache_reads=True) == 1015


def test_model_limits_merge_per_model_over_default() -> None:
    s = RateLimitSettings(
        default=ModelLimits(requests_per_minute=10, output_tokens_per_minute=100),
        models={"m": ModelLimits(requests_per_minute=5)},
    )
    assert s.limits_for("m") == ModelLimits(requests_per_minute=5, output_tokens_per_minute=100)
    assert s.limits_for("other") == s.default


# --- the limiter under a burst ------------------------------------------------------------------


class Timed:
    """Records the clock time of every request it receives; answers with ``usage``."""

    name = "timed"
    simulated = False

    def __init__(self, clock: VirtualClock, *, output: int | None = None) -> None:
        self.clock = clock
        self.output = output
        self.log: list[tuple[float, MessageRequest]] = []

    async def send(self, req: MessageRequest) -> MessageResponse:
        self.log.append((self.clock.now(), req))
        await self.clock.sleep(2.0)  # the call takes a while
        out = req.max_tokens if self.output is None else self.output
        return response(req, input_tokens=estimate_tokens(req.prompt_text), output_tokens=out)

    async def aclose(self) -> None:
        return None


async def test_burst_never_exceeds_any_limit_and_everyone_is_served_in_order() -> None:
    clock, bus = VirtualClock(), EventBus()
    rec = Recorder(bus)
    limiter = RateLimiter(limits(rpm=30, itpm=400, otpm=900), clock=clock, bus=bus)
    inner = Timed(clock)
    layer = RateLimitedProvider(inner, limiter)
    reqs = [
        request(text=f"task {i:03d} " + "x" * (i % 7) * 10, max_tokens=20 + i % 5 * 10)
        for i in range(90)
    ]

    async def one(r: MessageRequest) -> MessageResponse:
        return await layer.send(r)

    results = await run_virtual(clock, *(one(r) for r in reqs))
    assert all(isinstance(r, MessageResponse) for r in results)  # nobody dropped
    assert [r for _, r in inner.log] == reqs  # first come, first served
    times = [t for t, _ in inner.log]
    assert_conformant([(t, 1) for t in times], 30, 30 / 60)
    assert_conformant([(t, estimate_tokens(r.prompt_text)) for t, r in inner.log], 400, 400 / 60)
    assert_conformant([(t, r.max_tokens) for t, r in inner.log], 900, 900 / 60)
    # It was limited, and no more than needed: the binding limit decides the total time.
    needed = max(
        (len(reqs) - 30) / (30 / 60),
        (sum(estimate_tokens(r.prompt_text) for r in reqs) - 400) / (400 / 60),
        (sum(r.max_tokens for r in reqs) - 900) / (900 / 60),
    )
    assert needed > 100
    assert needed - 1 <= times[-1] - times[0] <= needed + 5
    waits = rec.of(RateLimitWait)
    assert waits and all(w.model == MODEL for w in waits)
    assert limiter.queued(MODEL) == 0
    assert limiter.outstanding(MODEL) == {"requests": 0, "input_tokens": 0, "output_tokens": 0}


async def test_refunds_of_unused_output_let_waiting_callers_in_early() -> None:
    clock = VirtualClock()
    limiter = RateLimiter(limits(otpm=600), clock=clock)
    inner = Timed(clock, output=10)  # reserves max_tokens=300, uses 10
    layer = RateLimitedProvider(inner, limiter)
    results = await run_virtual(clock, *(layer.send(request(max_tokens=300)) for _ in range(6)))
    assert all(isinstance(r, MessageResponse) for r in results)
    times = [t for t, _ in inner.log]
    # Without refunds the 3rd..6th calls would wait 30 s each; with them, ~2 s (one call's time).
    assert times[-1] - times[0] < 10


async def test_a_deadline_that_cannot_be_met_fails_at_once_and_clearly() -> None:
    clock = VirtualClock()
    limiter = RateLimiter(limits(rpm=6), clock=clock)  # one request per 10 s
    for _ in range(6):
        (await limiter.acquire(MODEL, Need(1, 0, 0))).settle(Usage())
    start = clock.now()
    with pytest.raises(RateLimitDeadlineError) as info:
        await limiter.acquire(MODEL, Need(1, 0, 0), deadline=start + 3)
    assert clock.now() == start  # no waiting for nothing
    assert info.value.limit == "requests" and info.value.wait_s == pytest.approx(10)
    assert "requests per minute" in str(info.value) and "deadline" in str(info.value)
    assert limiter.queued(MODEL) == 0
    # A deadline far enough away is met.
    res = await run_virtual(clock, limiter.acquire(MODEL, Need(1, 0, 0), deadline=start + 11))
    assert not isinstance(res[0], BaseException)


async def test_with_refunds_in_flight_the_head_waits_until_its_deadline() -> None:
    clock = VirtualClock()
    limiter = RateLimiter(limits(otpm=60), clock=clock)
    held = await limiter.acquire(MODEL, Need(1, 0, 60))  # in flight, may refund
    start = clock.now()
    results = await run_virtual(clock, limiter.acquire(MODEL, Need(1, 0, 30), deadline=start + 5))
    assert isinstance(results[0], RateLimitDeadlineError)
    assert clock.now() == pytest.approx(start + 5)
    # The same wait is served at once when the refund arrives in time.
    clock2 = VirtualClock()
    limiter2 = RateLimiter(limits(otpm=60), clock=clock2)
    held2 = await limiter2.acquire(MODEL, Need(1, 0, 60))

    async def refund_soon() -> None:
        await clock2.sleep(1)
        held2.settle(Usage(output_tokens=5))

    got = await run_virtual(
        clock2, limiter2.acquire(MODEL, Need(1, 0, 30), deadline=clock2.now() + 5), refund_soon()
    )
    assert not isinstance(got[0], BaseException) and clock2.now() == pytest.approx(1001)
    held.release(sent=False)


async def test_a_queued_caller_gives_up_at_its_deadline() -> None:
    clock = VirtualClock()
    limiter = RateLimiter(limits(rpm=1), clock=clock)
    (await limiter.acquire(MODEL, Need())).settle(Usage())
    start = clock.now()
    head = limiter.acquire(MODEL, Need())  # needs 60 s, no deadline
    behind = limiter.acquire(MODEL, Need(), deadline=start + 20)
    results = await run_virtual(clock, head, behind)
    assert isinstance(results[1], RateLimitDeadlineError)
    assert not isinstance(results[0], BaseException)


async def test_cancellation_releases_reservations_and_leaves_no_task() -> None:
    clock = VirtualClock()
    limiter = RateLimiter(limits(rpm=2, otpm=1000), clock=clock)
    inner = Scripted()
    inner.gate = asyncio.Event()  # calls hang until cancelled
    layer = RateLimitedProvider(inner, limiter)
    before = {t for t in asyncio.all_tasks()}
    in_flight = [asyncio.ensure_future(layer.send(request(max_tokens=400))) for _ in range(2)]
    queued = [asyncio.ensure_future(layer.send(request(max_tokens=400))) for _ in range(3)]
    for _ in range(10):
        await asyncio.sleep(0)
    assert inner.in_flight == 2 and limiter.queued(MODEL) == 3
    assert limiter.outstanding(MODEL)["output_tokens"] == 800
    for t in [*queued, *in_flight]:
        t.cancel()
    await asyncio.gather(*queued, *in_flight, return_exceptions=True)
    assert all(t.cancelled() for t in [*queued, *in_flight])
    assert limiter.queued(MODEL) == 0
    assert limiter.outstanding(MODEL) == {"requests": 0, "input_tokens": 0, "output_tokens": 0}
    buckets = limiter.buckets(MODEL).buckets
    assert buckets["output_tokens"].level(clock.now()) == 1000  # every token back
    assert buckets["requests"].level(clock.now()) == 2  # nothing reached the API: requests too
    assert clock.pending == 0  # no sleeper left behind
    assert {t for t in asyncio.all_tasks()} == before


async def test_a_failed_call_keeps_its_request_and_returns_its_tokens() -> None:
    clock = VirtualClock()
    limiter = RateLimiter(limits(rpm=10, otpm=1000), clock=clock)
    layer = RateLimitedProvider(Scripted([err(500)]), limiter)
    with pytest.raises(ServerError):
        await layer.send(request(max_tokens=500))
    buckets = limiter.buckets(MODEL).buckets
    assert buckets["requests"].level(clock.now()) == 9
    assert buckets["output_tokens"].level(clock.now()) == 1000


async def test_actual_usage_replaces_the_reservation() -> None:
    clock = VirtualClock()
    limiter = RateLimiter(limits(itpm=10_000, otpm=1000), clock=clock)
    layer = RateLimitedProvider(
        Scripted([response(request(), input_tokens=7, output_tokens=42, cache_read=5000)]), limiter
    )
    await layer.send(request(max_tokens=500))
    b = limiter.buckets(MODEL).buckets
    assert b["output_tokens"].level(clock.now()) == 1000 - 42
    assert b["input_tokens"].level(clock.now()) == 10_000 - 7  # cache reads are exempt
    snap = limiter.snapshot()[MODEL]
    assert {s.kind for s in snap} == {"input_tokens", "output_tokens"}


async def test_limits_are_learned_from_response_headers() -> None:
    clock = VirtualClock()
    limiter = RateLimiter(RateLimitSettings(), clock=clock)
    headers = [
        ("anthropic-ratelimit-requests-limit", "4"),
        ("anthropic-ratelimit-requests-remaining", "0"),
    ]
    layer = RateLimitedProvider(Scripted([response(request(), headers=headers)]), limiter)
    await layer.send(request())
    assert limiter.snapshot()[MODEL][0].source == "headers"
    start = clock.now()
    await run_virtual(clock, layer.send(request()))
    assert clock.now() - start == pytest.approx(15)  # 4/min: the next request 15 s later


async def test_retries_charge_extra_requests_and_open_breakers_do_not_queue() -> None:
    clock = VirtualClock()
    limiter = RateLimiter(limits(rpm=5), clock=clock)
    limiter.charge(MODEL)
    limiter.charge(MODEL, "requests", 2)
    assert limiter.buckets(MODEL).buckets["requests"].level(clock.now()) == 2

    def precheck(provider: str, model: str) -> None:
        raise CircuitOpenError(f"{provider}/{model}", until=__import__("datetime").datetime.now())

    inner = Scripted()
    layer = RateLimitedProvider(inner, limiter, precheck=precheck)
    with pytest.raises(CircuitOpenError):
        await layer.send(request())
    assert inner.calls == [] and limiter.queued(MODEL) == 0


async def test_a_breaker_rejection_inside_gives_everything_back() -> None:
    clock = VirtualClock()
    limiter = RateLimiter(limits(rpm=5), clock=clock)
    from datetime import datetime

    layer = RateLimitedProvider(Scripted([CircuitOpenError("x/y", datetime.now())]), limiter)
    with pytest.raises(CircuitOpenError):
        await layer.send(request())
    assert limiter.buckets(MODEL).buckets["requests"].level(clock.now()) == 5


async def test_unlimited_models_pass_straight_through() -> None:
    limiter = RateLimiter(RateLimitSettings(), clock=VirtualClock())
    res = await limiter.acquire("m", Need(1, 10**9, 10**9), deadline=0.0)
    assert res.taken == {}
    res.settle(Usage())
    res.release(sent=True)  # a second settle/release is a no-op
    assert limiter.snapshot() == {}


async def test_the_call_deadline_comes_from_the_call_context() -> None:
    clock = VirtualClock()
    limiter = RateLimiter(limits(rpm=1), clock=clock)
    layer = RateLimitedProvider(Scripted(), limiter)
    await layer.send(request())
    with callctx.using(deadline=clock.now() + 1), pytest.raises(RateLimitDeadlineError):
        await layer.send(request())
