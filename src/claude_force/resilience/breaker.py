"""Circuit breakers per (provider, model): a pure state machine and the wrapper that drives it.

closed ──(failure rate ≥ threshold over the window, ≥ minimum calls)──▶ open
open ──(cooldown passed, or the server's retry-after if longer)──▶ half_open
half_open ──(success_threshold probes succeed)──▶ closed;  ──(a probe fails)──▶ open

Only failures that signal provider trouble count (connection errors, timeouts, 408, 409, 429,
5xx, 529). A 4xx caused by the request proves the provider answered, so it counts as a success;
a cancelled call counts as nothing. Outcomes of calls admitted in an earlier state ("stale") are
ignored, so a slow call that started before the breaker opened cannot close or reopen it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from .. import callctx
from ..clock import SYSTEM_CLOCK, Clock
from ..errors import CircuitOpenError, ProviderError
from ..events import BreakerRejected, BreakerTransition, EventBus
from ..messages import MessageRequest, MessageResponse
from ..providers.base import (
    After,
    Provider,
    ProviderWrapper,
    Reply,
    awaited_at_once,
    deferred,
    send_after,
    tell_failed,
)
from .config import BreakerSettings

State = Literal["closed", "open", "half_open"]
Outcome = Literal["success", "failure", "ignore"]

_TROUBLE_STATUSES = frozenset({408, 409, 429})


def outcome_of(exc: BaseException) -> Outcome:
    """How a failed call counts: provider trouble is a failure, a request error a success."""
    if isinstance(exc, ProviderError):
        s = exc.status
        return "failure" if s is None or s in _TROUBLE_STATUSES or s >= 500 else "success"
    return "ignore"  # cancellation, our own errors, bugs: say nothing about the provider


@dataclass(frozen=True, slots=True)
class Admit:
    """The call may proceed; report its outcome with this ticket."""

    generation: int
    probe: bool


@dataclass(frozen=True, slots=True)
class Reject:
    """The call must fail now; a probe is allowed from ``until`` (same scale as ``now``)."""

    until: float


@dataclass(frozen=True, slots=True)
class Transition:
    from_state: State
    to_state: State
    failure_rate: float
    calls: int
    retry_in_s: float | None = None


@dataclass(frozen=True, slots=True)
class BreakerSnapshot:
    state: State
    failure_rate: float
    calls: int
    failures: int
    retry_in_s: float | None
    probes_in_flight: int


class BreakerPolicy:
    """The breaker's state machine (pure: every method takes ``now``)."""

    def __init__(
        self,
        *,
        failure_rate_threshold: float = 0.5,
        minimum_calls: int = 10,
        window_s: float = 60.0,
        cooldown_s: float = 30.0,
        max_cooldown_s: float = 300.0,
        half_open_max_calls: int = 1,
        success_threshold: int = 1,
    ) -> None:
        self.threshold = failure_rate_threshold
        self.minimum_calls = minimum_calls
        self.window_s = window_s
        self.cooldown_s = cooldown_s
        self.max_cooldown_s = max(max_cooldown_s, cooldown_s)
        self.half_open_max_calls = half_open_max_calls
        self.success_threshold = min(success_threshold, half_open_max_calls)
        self.state: State = "closed"
        self.generation = 0
        self.open_until = 0.0
        self._window: deque[tuple[float, bool]] = deque()  # (time, failed), closed state only
        self._probes = 0
        self._probe_successes = 0

    @classmethod
    def from_settings(cls, s: BreakerSettings) -> BreakerPolicy:
        return cls(
            failure_rate_threshold=s.failure_rate_threshold,
            minimum_calls=s.minimum_calls,
            window_s=s.window_seconds,
            cooldown_s=s.cooldown_seconds,
            max_cooldown_s=s.max_cooldown_seconds,
            half_open_max_calls=s.half_open_max_calls,
            success_threshold=s.success_threshold,
        )

    # --- queries ------------------------------------------------------------------------------

    def _prune(self, now: float) -> None:
        edge = now - self.window_s
        while self._window and self._window[0][0] <= edge:
            self._window.popleft()

    def _rate(self) -> tuple[float, int, int]:
        calls = len(self._window)
        failures = sum(1 for _, failed in self._window if failed)
        return (failures / calls if calls else 0.0), calls, failures

    def snapshot(self, now: float) -> BreakerSnapshot:
        self._prune(now)
        rate, calls, failures = self._rate()
        retry_in = max(0.0, self.open_until - now) if self.state == "open" else None
        return BreakerSnapshot(self.state, rate, calls, failures, retry_in, self._probes)

    def rejects(self, now: float) -> Reject | None:
        """Whether a call would be rejected now, without taking a probe slot (a cheap peek)."""
        if self.state == "open" and now < self.open_until:
            return Reject(self.open_until)
        if self.state == "half_open" and self._probes >= self.half_open_max_calls:
            return Reject(now)
        return None

    # --- transitions --------------------------------------------------------------------------

    def _move(self, to: State, now: float) -> Transition:
        self._prune(now)
        rate, calls, _ = self._rate()
        frm = self.state
        self.state = to
        self.generation += 1
        self._probes = 0
        self._probe_successes = 0
        if to != "open":
            self._window.clear()
        return Transition(frm, to, rate, calls, self.open_until - now if to == "open" else None)

    def _open(self, now: float, retry_after: float | None) -> Transition:
        wait = self.cooldown_s if retry_after is None else max(self.cooldown_s, retry_after)
        self.open_until = now + min(wait, self.max_cooldown_s)
        transition = self._move("open", now)
        self._window.clear()
        return transition

    def allow(self, now: float) -> tuple[Admit | Reject, list[Transition]]:
        """Admit or reject a call at ``now``; may move open → half_open."""
        moved: list[Transition] = []
        if self.state == "open":
            if now < self.open_until:
                return Reject(self.open_until), moved
            moved.append(self._move("half_open", now))
        if self.state == "half_open":
            if self._probes >= self.half_open_max_calls:
                return Reject(now), moved
            self._probes += 1
            return Admit(self.generation, probe=True), moved
        return Admit(self.generation, probe=False), moved

    def record(
        self, ticket: Admit, outcome: Outcome, now: float, *, retry_after: float | None = None
    ) -> list[Transition]:
        """Report the outcome of an admitted call."""
        if ticket.generation != self.generation:
            return []  # admitted in an earlier state: stale
        if self.state == "half_open":
            self._probes = max(0, self._probes - 1)
            if outcome == "failure":
                return [self._open(now, retry_after)]
            if outcome == "success":
                self._probe_successes += 1
                if self._probe_successes >= self.success_threshold:
                    return [self._move("closed", now)]
            return []
        if self.state != "closed" or outcome == "ignore":
            return []
        self._prune(now)
        self._window.append((now, outcome == "failure"))
        if outcome == "failure":
            rate, calls, _ = self._rate()
            if calls >= self.minimum_calls and rate >= self.threshold:
                return [self._open(now, retry_after)]
        return []


Key = tuple[str, str]


class BreakerBoard:
    """The breakers of one pipeline, one per (provider, model), created on first use."""

    def __init__(
        self,
        settings: BreakerSettings,
        *,
        clock: Clock = SYSTEM_CLOCK,
        bus: EventBus | None = None,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.bus = bus
        self.wall = wall
        self._breakers: dict[Key, BreakerPolicy] = {}

    def get(self, provider: str, model: str) -> BreakerPolicy:
        key = (provider, model)
        breaker = self._breakers.get(key)
        if breaker is None:
            breaker = self._breakers[key] = BreakerPolicy.from_settings(self.settings)
        return breaker

    def items(self) -> list[tuple[Key, BreakerPolicy]]:
        return sorted(self._breakers.items())

    def emit(self, provider: str, model: str, transitions: list[Transition]) -> None:
        if self.bus is None:
            return
        for t in transitions:
            self.bus.emit(
                BreakerTransition(
                    provider=provider,
                    model=model,
                    from_state=t.from_state,
                    to_state=t.to_state,
                    failure_rate=t.failure_rate,
                    calls_in_window=t.calls,
                    retry_in_s=t.retry_in_s,
                )
            )

    def rejection(self, provider: str, model: str, until: float, now: float) -> CircuitOpenError:
        """The error for a rejected call (and its event)."""
        retry_in = max(0.0, until - now)
        if self.bus is not None:
            ctx = callctx.current()
            self.bus.emit(BreakerRejected(provider, model, retry_in, ctx.agent, ctx.execution_id))
        return CircuitOpenError(f"{provider}/{model}", self.wall() + timedelta(seconds=retry_in))

    def check_open(self, provider: str, model: str) -> None:
        """Raise :class:`CircuitOpenError` if the breaker is open now (the retry layer's gate).

        Unlike :meth:`check`, a half-open breaker lets the call through: a call retrying while
        its breaker is half-open may be the probe itself, and must finish to decide it.
        """
        breaker = self._breakers.get((provider, model))
        if breaker is None or breaker.state != "open":
            return
        now = self.clock.now()
        if now < breaker.open_until:
            raise self.rejection(provider, model, breaker.open_until, now)

    def check(self, provider: str, model: str) -> None:
        """Raise :class:`CircuitOpenError` at once if the breaker would reject a call now."""
        breaker = self._breakers.get((provider, model))
        if breaker is None:
            return
        now = self.clock.now()
        reject = breaker.rejects(now)
        if reject is not None:
            raise self.rejection(provider, model, reject.until, now)


class _Watch:
    """The outcome accounting of one admitted call (told by :func:`send_after`'s waiter)."""

    __slots__ = ("admission", "board", "breaker", "model", "provider")

    def __init__(
        self,
        board: BreakerBoard,
        breaker: BreakerPolicy,
        admission: Admit,
        provider: str,
        model: str,
    ) -> None:
        self.board = board
        self.breaker = breaker
        self.admission = admission
        self.provider = provider
        self.model = model

    def ok(self, response: MessageResponse) -> None:
        board = self.board
        moved = self.breaker.record(self.admission, "success", board.clock.now())
        board.emit(self.provider, self.model, moved)

    def failed(self, exc: BaseException) -> None:
        board = self.board
        hint = exc.retry_after if isinstance(exc, ProviderError) else None
        moved = self.breaker.record(
            self.admission, outcome_of(exc), board.clock.now(), retry_after=hint
        )
        board.emit(self.provider, self.model, moved)


class CircuitBreakerProvider(ProviderWrapper):
    """Fails at once while the (provider, model) breaker is open; no request reaches ``inner``.

    The admission is decided when ``send`` is called; the outcome is recorded by the coroutine
    that waits for the answer (:func:`~claude_force.providers.base.send_after`: the retry
    layer's, below), so no frame of this layer waits with the call."""

    def __init__(self, inner: Provider, board: BreakerBoard) -> None:
        super().__init__(inner)
        self.board = board

    def send(self, request: MessageRequest) -> Reply:
        return self.send_after(request, ())

    def send_after(self, request: MessageRequest, after: tuple[After, ...]) -> Reply:
        """``send``, and each of ``after`` (the layers above) told how the call ended."""
        if not awaited_at_once():  # nothing taken before the reply runs (providers.base)
            return deferred(self._send_now, request, after)
        return self._send_now(request, after)

    def _send_now(self, request: MessageRequest, after: tuple[After, ...]) -> Reply:
        board = self.board
        try:
            provider, model = self.name, request.model
            breaker = board.get(provider, model)
            now = board.clock.now()
            admission, moved = breaker.allow(now)
            board.emit(provider, model, moved)
            if isinstance(admission, Reject):
                raise board.rejection(provider, model, admission.until, now)
        except BaseException as exc:
            tell_failed(after, exc)
            raise
        return send_after(
            self.inner, request, (_Watch(board, breaker, admission, provider, model), *after)
        )
