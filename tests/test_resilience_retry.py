"""The retry layer: which failures retry, backoff bounds, retry-after, deadline, budget."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from _resilience_helpers import Recorder, Scripted, err, request
from claude_force import callctx
from claude_force.errors import (
    InvalidRequestError,
    OverloadedError,
    ProviderConnectionError,
    RateLimitError,
    ServerError,
)
from claude_force.events import EventBus, RetryGaveUp, RetryScheduled
from claude_force.resilience import (
    GiveUp,
    Retry,
    RetryBudget,
    RetryingProvider,
    RetryPolicy,
    VirtualClock,
    is_retryable,
)
from claude_force.resilience.config import RetrySettings


@pytest.mark.parametrize("status", [400, 401, 403, 404, 413, 422])
def test_request_errors_are_never_retried_even_if_the_server_says_so(status: int) -> None:
    assert not is_retryable(err(status))
    assert not is_retryable(err(status, should_retry=True))


@pytest.mark.parametrize("status", [None, 408, 409, 429, 500, 502, 503, 504, 529])
def test_transient_failures_are_retried(status: int | None) -> None:
    assert is_retryable(err(status))


def test_x_should_retry_wins_over_the_status() -> None:
    assert not is_retryable(err(500, should_retry=False))
    assert not is_retryable(err(429, should_retry=False))
    assert is_retryable(err(402, should_retry=True))
    assert not is_retryable(err(402))
    assert not is_retryable(ValueError("not a provider error"))


def test_decide_honours_retry_after_and_its_ceiling() -> None:
    policy = RetryPolicy(max_attempts=5, base_delay=1, max_delay=10, max_retry_after=30)
    assert policy.decide(1, err(429, retry_after=7.5), now=0) == Retry(
        7.5, "retry_after", spends_budget=False
    )
    assert policy.decide(1, err(429, retry_after=31), now=0) == GiveUp("retry_after_too_long")
    assert policy.decide(5, err(529), now=0) == GiveUp("max_attempts")
    assert policy.decide(1, err(400), now=0) == GiveUp("not_retryable")
    # The sleep must end before the deadline.
    assert policy.decide(1, err(429, retry_after=5), now=100, deadline=105) == GiveUp("deadline")
    assert policy.decide(1, err(429, retry_after=4.9), now=100, deadline=105) == Retry(
        4.9, "retry_after", spends_budget=False
    )


@settings(max_examples=300, deadline=None)
@given(
    attempt=st.integers(min_value=1, max_value=200),
    base=st.floats(min_value=0, max_value=10, allow_nan=False),
    extra=st.floats(min_value=0, max_value=100, allow_nan=False),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_backoff_is_full_jitter_within_the_cap(
    attempt: int, base: float, extra: float, seed: int
) -> None:
    cap = base + extra
    policy = RetryPolicy(max_attempts=500, base_delay=base, max_delay=cap, rng=random.Random(seed))
    ceiling = policy.backoff_ceiling(attempt)
    assert ceiling == min(cap, base * 2.0 ** (attempt - 1))
    assert policy.backoff_ceiling(attempt + 1) >= ceiling
    delay = policy.backoff(attempt)
    assert 0.0 <= delay <= ceiling <= cap
    decision = policy.decide(attempt, err(503), now=0.0)
    if attempt < 500:
        assert isinstance(decision, Retry) and decision.reason == "backoff"
        assert 0.0 <= decision.delay <= ceiling


def test_full_jitter_spreads_over_the_whole_range() -> None:
    policy = RetryPolicy(base_delay=1, max_delay=100, rng=random.Random(1))
    delays = [policy.backoff(4) for _ in range(2000)]  # ceiling 8
    assert min(delays) < 0.5 and max(delays) > 7.5
    assert 3.5 < sum(delays) / len(delays) < 4.5


def test_budget_allows_min_plus_ratio_of_recent_calls() -> None:
    budget = RetryBudget(ratio=0.2, min_retries=1, window_s=10)
    for t in range(10):
        budget.start_call()
        budget.end_call(float(t) / 10)
    assert budget.allowed(1.0) == 3
    for _ in range(3):
        assert budget.can_retry(1.0)
        budget.record_retry(1.0)
    assert not budget.can_retry(1.0)
    assert budget.counts(1.0) == (10, 3)
    # Everything ages out of the window.
    assert budget.can_retry(20.0) and budget.counts(20.0) == (0, 0)


def test_calls_in_flight_count_however_long_they_last() -> None:
    budget = RetryBudget(ratio=0.5, min_retries=0, window_s=10)
    for _ in range(10):
        budget.start_call()
    assert budget.allowed(1_000.0) == 5  # started long ago, still running: still recent
    budget.end_call(1_000.0)
    assert budget.counts(1_000.0) == (10, 0)
    assert budget.counts(1_011.0) == (9, 0)


def test_policy_settings_and_validation() -> None:
    s = RetrySettings(max_attempts=7, base_delay_seconds=2, max_delay_seconds=9)
    policy = RetryPolicy.from_settings(s)
    assert (policy.max_attempts, policy.base_delay, policy.max_delay) == (7, 2, 9)
    assert RetryPolicy.from_settings(s, max_attempts=2).max_attempts == 2
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError, match="max_delay_seconds"):
        RetrySettings(base_delay_seconds=5, max_delay_seconds=1)


# --- the driver ------------------------------------------------------------------------------


def make(
    outcomes: list[BaseException | None], *, attempts: int = 5, budget: RetryBudget | None = None
) -> tuple[RetryingProvider, Scripted, VirtualClock, Recorder, list[str]]:
    clock = VirtualClock(auto=True)
    bus = EventBus()
    rec = Recorder(bus)
    inner = Scripted(outcomes)
    charged: list[str] = []
    policy = RetryPolicy(max_attempts=attempts, base_delay=1, max_delay=8, rng=random.Random(0))
    layer = RetryingProvider(
        inner,
        policy,
        budgets=(lambda _m: budget),
        bus=bus,
        clock=clock,
        on_retry=lambda r: charged.append(r.model),
    )
    return layer, inner, clock, rec, charged


async def test_retry_after_is_honoured_on_the_virtual_clock() -> None:
    layer, inner, clock, rec, charged = make([err(429, retry_after=2.5), err(529), None])
    start = clock.now()
    out = await layer.send(request())
    assert out.text.startswith("answer")
    assert len(inner.calls) == 3 and layer.attempts == 3
    assert clock.sleeps[0] == 2.5  # exactly the server's retry-after
    assert 0 <= clock.sleeps[1] <= 2.0  # backoff after attempt 2: ceiling base × 2
    assert clock.now() - start == pytest.approx(sum(clock.sleeps))
    events = rec.of(RetryScheduled)
    assert [(e.attempt, e.reason, e.status) for e in events] == [
        (1, "retry_after", 429),
        (2, "backoff", 529),
    ]
    assert events[0].error_type == "RateLimitError" and events[1].error_type == "OverloadedError"
    assert charged == ["claude-sonnet-5-5"] * 2


async def test_request_errors_fail_at_once() -> None:
    layer, inner, clock, rec, _ = make([err(400), None])
    with pytest.raises(InvalidRequestError):
        await layer.send(request())
    assert len(inner.calls) == 1 and clock.sleeps == [] and rec.events == []


async def test_server_saying_no_retry_is_obeyed() -> None:
    layer, inner, _, rec, _ = make([err(500, should_retry=False), None])
    with pytest.raises(ServerError):
        await layer.send(request())
    assert len(inner.calls) == 1 and rec.events == []


async def test_max_attempts_then_the_last_error_with_a_note() -> None:
    layer, inner, _, rec, _ = make([err(None), err(503), err(529), None], attempts=3)
    with pytest.raises(OverloadedError) as info:
        await layer.send(request())
    assert len(inner.calls) == 3
    assert "gave up after 3 attempt(s): max_attempts" in info.value.__notes__
    (gave_up,) = rec.of(RetryGaveUp)
    assert (gave_up.attempts, gave_up.reason, gave_up.status) == (3, "max_attempts", 529)


async def test_the_deadline_bounds_the_whole_sequence_sleeps_included() -> None:
    layer, inner, clock, rec, _ = make([err(429, retry_after=3)] * 5 + [None], attempts=10)
    start = clock.now()
    with callctx.using(deadline=start + 5), pytest.raises(RateLimitError):
        await layer.send(request())
    # Attempt 1 fails, sleeps 3 (ends at +3 < +5); attempt 2 fails, another 3 would pass +5.
    assert len(inner.calls) == 2 and clock.sleeps == [3]
    assert clock.now() - start < 5
    assert rec.of(RetryGaveUp)[0].reason == "deadline"


async def test_budget_stops_retries_from_multiplying_an_outage() -> None:
    # every attempt fails: a storm from the first one on (storm_min_attempts=1)
    budget = RetryBudget(ratio=0.0, min_retries=2, window_s=60, storm_min_attempts=1)
    layer, inner, _, rec, _ = make([err(503)] * 100, attempts=5, budget=budget)
    for _ in range(4):
        with pytest.raises(ServerError):
            await layer.send(request())
    # 4 calls, at most 2 retries in total: 6 requests instead of 20.
    assert len(inner.calls) == 6
    reasons = [e.reason for e in rec.of(RetryGaveUp)]
    assert reasons == ["budget"] * 4
    assert len(rec.of(RetryScheduled)) == 2


def test_the_budget_applies_only_during_a_storm() -> None:
    """Once ``storm_min_attempts`` attempts are in the window: below ``storm_failure_rate``
    failed, retries are not limited (the SDK's behaviour on a flaky API); at or above it, the
    budget counts. Fewer attempts: not a storm. Never told about attempts: it always applies."""
    budget = RetryBudget(
        ratio=0.0, min_retries=0, window_s=10, storm_failure_rate=0.5, storm_min_attempts=4
    )
    assert budget.storm(0.0) and not budget.can_retry(0.0)  # used on its own: it applies
    for t, failed in [(0.0, True), (0.1, True), (0.2, True)]:
        budget.record_attempt(t, failed=failed)
    assert not budget.storm(0.25) and budget.can_retry(0.25)  # 3 failures: too few to judge
    budget.record_attempt(0.3, failed=False)
    assert budget.storm(0.35) and not budget.can_retry(0.35)  # 3 of 4 failed: a storm, no budget
    for t in (0.4, 0.5, 0.6):
        budget.record_attempt(t, failed=False)
    assert not budget.storm(0.7) and budget.can_retry(0.7)  # 3 of 7: a flaky API
    budget.record_retry(0.7)
    budget.record_attempt(0.8, failed=True)
    assert budget.storm(0.9)  # 4 of 8: a storm again
    assert not budget.storm(10.05)  # the first failure left the window: 3 of 7
    assert not budget.storm(20.0)  # all left it: too few to judge


async def test_a_flaky_api_gets_every_retry_an_outage_only_the_budget() -> None:
    # One call in three fails once (a 30%-ish fault mix): with a spent budget every call still
    # gets its retry, as with the bare SDK.
    budget = RetryBudget(ratio=0.0, min_retries=0, window_s=60)
    outcomes: list[BaseException | None] = []
    for i in range(9):
        outcomes += [err(500), None] if i % 3 == 0 else [None]
    layer, inner, _, rec, _ = make(outcomes, attempts=3, budget=budget)
    for _ in range(9):
        out = await layer.send(request())
        assert out.text.startswith("answer")
    assert len(inner.calls) == 12 and len(rec.of(RetryScheduled)) == 3
    assert not rec.of(RetryGaveUp)
    # The API goes down: failures outnumber successes in the window and the budget stops retries.
    layer2, inner2, _, rec2, _ = make([err(503)] * 40, attempts=3, budget=budget)
    for _ in range(10):
        with pytest.raises(ServerError):
            await layer2.send(request())
    given_up = [e.reason for e in rec2.of(RetryGaveUp)]
    assert given_up.count("budget") >= 5  # once the storm is seen, no more retries
    assert len(inner2.calls) < 10 * 3


async def test_retry_after_is_honoured_without_spending_the_budget() -> None:
    # A spent budget (no retries allowed) still lets a 429/529 that says when to come back retry;
    # a failure without retry-after is still refused by the same budget (in a storm: most
    # attempts failed).
    budget = RetryBudget(ratio=0.0, min_retries=0, window_s=60, storm_min_attempts=1)
    layer, inner, clock, _, _ = make(
        [err(429, retry_after=1.5), err(529, retry_after=0.5), None], attempts=3, budget=budget
    )
    out = await layer.send(request())
    assert out.text.startswith("answer") and len(inner.calls) == 3
    assert clock.sleeps == [1.5, 0.5]
    assert budget.counts(clock.now())[1] == 0  # nothing spent
    layer2, inner2, _, rec2, _ = make([err(503), None], attempts=3, budget=budget)
    with pytest.raises(ServerError):
        await layer2.send(request())
    assert len(inner2.calls) == 1 and rec2.of(RetryGaveUp)[0].reason == "budget"


def test_decide_retry_after_passes_a_spent_budget_but_not_max_attempts() -> None:
    policy = RetryPolicy(max_attempts=2, base_delay=1, max_delay=10)
    spent = RetryBudget(ratio=0.0, min_retries=0, window_s=10)
    assert policy.decide(1, err(429, retry_after=2), now=0, budget=spent) == Retry(
        2, "retry_after", spends_budget=False
    )
    assert policy.decide(1, err(500), now=0, budget=spent) == GiveUp("budget")
    assert policy.decide(2, err(429, retry_after=2), now=0, budget=spent) == GiveUp("max_attempts")


async def test_connection_errors_retry_and_succeed() -> None:
    layer, inner, _, _, _ = make([ProviderConnectionError("reset"), None])
    await layer.send(request())
    assert len(inner.calls) == 2


async def test_without_a_bus_or_budget_the_driver_still_retries() -> None:
    clock = VirtualClock(auto=True)
    inner = Scripted([err(500), err(500)])
    layer = RetryingProvider(inner, RetryPolicy(max_attempts=3, base_delay=0.1), clock=clock)
    await layer.send(request())
    assert len(inner.calls) == 3
    inner2 = Scripted([err(500)] * 3)
    layer2 = RetryingProvider(inner2, RetryPolicy(max_attempts=2, base_delay=0.1), clock=clock)
    with pytest.raises(ServerError):
        await layer2.send(request())
