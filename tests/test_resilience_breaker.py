"""Circuit breaker: the pure state machine (examples and a hypothesis state machine) and the
wrapper that keeps requests away from an open circuit."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from _resilience_helpers import Recorder, Scripted, err, request
from claude_force.errors import CircuitOpenError, OverloadedError, ServerError
from claude_force.events import BreakerRejected, BreakerTransition, EventBus
from claude_force.resilience import (
    BreakerBoard,
    BreakerPolicy,
    BreakerSettings,
    CircuitBreakerProvider,
    VirtualClock,
    outcome_of,
)
from claude_force.resilience.breaker import Admit, Reject


def policy(**kw: float) -> BreakerPolicy:
    defaults: dict[str, float] = dict(
        failure_rate_threshold=0.5,
        minimum_calls=4,
        window_s=60,
        cooldown_s=30,
        max_cooldown_s=300,
        half_open_max_calls=1,
        success_threshold=1,
    )
    defaults.update(kw)
    return BreakerPolicy(**defaults)  # type: ignore[arg-type]


def run(b: BreakerPolicy, outcomes: str, now: float = 0.0) -> list[str]:
    """Admit and record one call per letter (s = success, f = failure); the states after each."""
    states = []
    for ch in outcomes:
        ticket, _ = b.allow(now)
        assert isinstance(ticket, Admit)
        b.record(ticket, "success" if ch == "s" else "failure", now)
        states.append(b.state)
    return states


def test_opens_when_the_failure_rate_passes_the_threshold_with_enough_calls() -> None:
    b = policy()
    assert run(b, "sfs") == ["closed"] * 3
    ticket, _ = b.allow(0)
    assert isinstance(ticket, Admit)
    (t,) = b.record(ticket, "failure", 0)
    assert (t.from_state, t.to_state, t.failure_rate, t.calls, t.retry_in_s) == (
        "closed",
        "open",
        0.5,
        4,
        30,
    )


def test_below_the_minimum_number_of_calls_it_stays_closed() -> None:
    b = policy(minimum_calls=5)
    assert run(b, "ffff")[-1] == "closed"
    assert run(b, "f")[-1] == "open"


def test_old_outcomes_leave_the_window() -> None:
    b = policy(window_s=10)
    run(b, "fff", now=0)
    assert run(b, "sssf", now=11) == ["closed"] * 4  # the early failures aged out: 1/4
    assert b.snapshot(11).failure_rate == 0.25


def test_open_rejects_until_the_cooldown_and_retry_after_lengthens_it() -> None:
    b = policy()
    run(b, "sff")
    ticket, _ = b.allow(0)
    assert isinstance(ticket, Admit)
    b.record(ticket, "failure", 0, retry_after=90)
    b2 = policy()
    run(b2, "ffff")
    assert b2.allow(29.9)[0] == Reject(30)  # plain cooldown
    assert b.allow(89)[0] == Reject(90)  # the server asked for longer
    assert b.snapshot(50).retry_in_s == 40
    b3 = policy()
    run(b3, "sff")
    t3, _ = b3.allow(0)
    assert isinstance(t3, Admit)
    b3.record(t3, "failure", 0, retry_after=10_000)
    assert b3.open_until == 300  # capped by max_cooldown


def test_half_open_probe_closes_on_success_and_reopens_on_failure() -> None:
    b = policy()
    run(b, "ffff")
    ticket, moved = b.allow(30)
    assert isinstance(ticket, Admit) and ticket.probe
    assert [(m.from_state, m.to_state) for m in moved] == [("open", "half_open")]
    assert b.allow(30)[0] == Reject(30)  # one probe at a time
    (t,) = b.record(ticket, "success", 31)
    assert (t.from_state, t.to_state) == ("half_open", "closed")
    assert b.snapshot(31).calls == 0  # a fresh window

    run(b, "ffff", now=40)
    probe, _ = b.allow(70)
    assert isinstance(probe, Admit)
    (t,) = b.record(probe, "failure", 71, retry_after=45)
    assert (t.from_state, t.to_state) == ("half_open", "open")
    assert b.open_until == 71 + 45


def test_several_probes_and_a_success_threshold() -> None:
    b = policy(half_open_max_calls=2, success_threshold=2)
    run(b, "ffff")
    p1, _ = b.allow(30)
    p2, _ = b.allow(30)
    assert isinstance(p1, Admit) and isinstance(p2, Admit)
    assert isinstance(b.allow(30)[0], Reject)
    assert b.record(p1, "success", 31) == [] and b.state == "half_open"
    assert b.record(p2, "success", 31)[0].to_state == "closed"


def test_a_cancelled_probe_frees_its_slot_without_deciding() -> None:
    b = policy()
    run(b, "ffff")
    probe, _ = b.allow(30)
    assert isinstance(probe, Admit)
    assert b.record(probe, "ignore", 30) == [] and b.state == "half_open"
    again, _ = b.allow(30)
    assert isinstance(again, Admit) and again.probe


def test_stale_outcomes_are_ignored() -> None:
    b = policy()
    slow, _ = b.allow(0)  # admitted while closed …
    assert isinstance(slow, Admit)
    run(b, "ffff")  # … the breaker opens meanwhile …
    probe, _ = b.allow(30)
    assert isinstance(probe, Admit)
    assert b.record(slow, "success", 30) == []  # … so the slow call cannot close it
    assert b.state == "half_open"


def test_only_provider_trouble_counts_as_failure() -> None:
    for status in (None, 408, 409, 429, 500, 503, 529):
        assert outcome_of(err(status)) == "failure"
    for status in (400, 401, 403, 404, 413, 422):
        assert outcome_of(err(status)) == "success"
    assert outcome_of(asyncio.CancelledError()) == "ignore"
    assert outcome_of(RuntimeError("bug")) == "ignore"


def test_settings_validation() -> None:
    with pytest.raises(ValueError, match="success_threshold"):
        BreakerSettings(half_open_max_calls=1, success_threshold=2)
    with pytest.raises(ValueError, match="max_cooldown_seconds"):
        BreakerSettings(cooldown_seconds=60, max_cooldown_seconds=10)
    b = BreakerPolicy.from_settings(BreakerSettings(minimum_calls=3, cooldown_seconds=5))
    assert (b.minimum_calls, b.cooldown_s) == (3, 5)


# --- the state machine, explored by hypothesis -------------------------------------------------


class BreakerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.b = BreakerPolicy(
            failure_rate_threshold=0.5,
            minimum_calls=3,
            window_s=20,
            cooldown_s=10,
            max_cooldown_s=40,
            half_open_max_calls=2,
            success_threshold=2,
        )
        self.now = 0.0
        self.tickets: list[Admit] = []
        self.previous = "closed"

    def _check(self, moved: list, cause: str) -> None:  # type: ignore[type-arg]
        for t in moved:
            assert t.from_state == self.previous, "transitions chain"
            if (t.from_state, t.to_state) == ("closed", "open"):
                assert cause == "failure"
                assert t.calls >= self.b.minimum_calls and t.failure_rate >= self.b.threshold
            elif t.to_state == "open":
                assert (t.from_state, cause) == ("half_open", "failure")
            elif t.to_state == "half_open":
                assert (t.from_state, cause) == ("open", "allow")
                assert self.now >= self.b.open_until
            else:
                assert (t.from_state, t.to_state, cause) == ("half_open", "closed", "success")
            self.previous = t.to_state

    @rule(dt=st.floats(min_value=0, max_value=15))
    def advance(self, dt: float) -> None:
        self.now += dt

    @rule()
    def allow(self) -> None:
        state, until = self.b.state, self.b.open_until
        peek = self.b.rejects(self.now)
        ticket, moved = self.b.allow(self.now)
        self._check(moved, "allow")
        if state == "open" and self.now < until:
            assert ticket == Reject(until), "an open breaker rejects until its time"
        assert (peek is None) == isinstance(ticket, Admit), "the peek agrees with allow"
        if isinstance(ticket, Admit):
            assert ticket.probe == (self.b.state == "half_open")
            self.tickets.append(ticket)

    @precondition(lambda self: self.tickets)
    @rule(
        index=st.integers(min_value=0),
        outcome=st.sampled_from(["success", "failure", "ignore"]),
        retry_after=st.none() | st.floats(min_value=0, max_value=100),
    )
    def finish(self, index: int, outcome: str, retry_after: float | None) -> None:
        ticket = self.tickets.pop(index % len(self.tickets))
        before = self.b.state
        moved = self.b.record(ticket, outcome, self.now, retry_after=retry_after)  # type: ignore[arg-type]
        self._check(moved, outcome)
        if ticket.generation != self.b.generation - len(moved):
            assert moved == [], "stale outcomes never move the breaker"
        if moved and moved[-1].to_state == "open":
            hint = retry_after or 0
            expected = min(max(self.b.cooldown_s, hint), self.b.max_cooldown_s)
            assert self.b.open_until == pytest.approx(self.now + expected)
        if before == "open":
            assert moved == []

    @invariant()
    def consistent(self) -> None:
        assert self.b.state in ("closed", "open", "half_open")
        assert self.b.state == self.previous
        snap = self.b.snapshot(self.now)
        assert 0 <= snap.probes_in_flight <= self.b.half_open_max_calls
        assert 0.0 <= snap.failure_rate <= 1.0
        if self.b.state != "closed":
            assert snap.calls == 0  # the window restarts when the breaker closes
        else:
            assert snap.probes_in_flight == 0


TestBreakerMachine = BreakerMachine.TestCase
TestBreakerMachine.settings = settings(max_examples=100, stateful_step_count=50, deadline=None)


# --- the wrapper --------------------------------------------------------------------------------


def board(clock: VirtualClock, bus: EventBus, **kw: float) -> BreakerBoard:
    s = BreakerSettings(
        minimum_calls=kw.get("minimum_calls", 4),  # type: ignore[arg-type]
        cooldown_seconds=kw.get("cooldown", 30),
        failure_rate_threshold=0.5,
    )
    return BreakerBoard(s, clock=clock, bus=bus, wall=lambda: datetime(2030, 1, 1, tzinfo=UTC))


async def test_open_circuit_sends_nothing_and_says_when_to_come_back() -> None:
    clock, bus = VirtualClock(), EventBus()
    rec = Recorder(bus)
    inner = Scripted([err(503)] * 4)
    layer = CircuitBreakerProvider(inner, board(clock, bus))
    for _ in range(4):
        with pytest.raises(ServerError):
            await layer.send(request())
    assert [(e.from_state, e.to_state) for e in rec.of(BreakerTransition)] == [("closed", "open")]
    clock.advance(10)
    for _ in range(50):
        with pytest.raises(CircuitOpenError) as info:
            await layer.send(request())
    assert len(inner.calls) == 4  # zero requests while open
    assert info.value.until == datetime(2030, 1, 1, tzinfo=UTC) + timedelta(seconds=20)
    assert "claude-sonnet-5-5" in str(info.value) and "next probe" in str(info.value)
    assert len(rec.of(BreakerRejected)) == 50 and rec.of(BreakerRejected)[0].retry_in_s == 20
    # Other models have their own breaker.
    await layer.send(request(model="claude-haiku-5-5"))
    assert len(inner.calls) == 5

    clock.advance(20)  # cooldown over: one probe, it succeeds, the circuit closes
    await layer.send(request())
    assert [(e.from_state, e.to_state) for e in rec.of(BreakerTransition)][-2:] == [
        ("open", "half_open"),
        ("half_open", "closed"),
    ]


async def test_failed_probe_reopens_and_cancelled_call_counts_nothing() -> None:
    clock, bus = VirtualClock(), EventBus()
    inner = Scripted([err(529)] * 5)
    brd = board(clock, bus)
    layer = CircuitBreakerProvider(inner, brd)
    for _ in range(4):
        with pytest.raises(OverloadedError):
            await layer.send(request())
    clock.advance(30)
    with pytest.raises(OverloadedError):
        await layer.send(request())  # the probe fails
    assert brd.get("fake", "claude-sonnet-5-5").state == "open"
    with pytest.raises(CircuitOpenError):
        brd.check("fake", "claude-sonnet-5-5")
    brd.check("fake", "other-model")  # never used: nothing to say

    clock.advance(30)
    inner.gate = asyncio.Event()
    task = asyncio.ensure_future(layer.send(request()))
    await asyncio.sleep(0)
    assert brd.get("fake", "claude-sonnet-5-5").snapshot(clock.now()).probes_in_flight == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    snap = brd.get("fake", "claude-sonnet-5-5").snapshot(clock.now())
    assert snap.state == "half_open" and snap.probes_in_flight == 0
