"""The one retry layer: a pure policy (what to do after a failure) and a small async driver.

Why not tenacity for the loop: its ``RetryCallState`` reads ``time.monotonic()`` itself (no
injectable clock), and our single decision — retryable? which delay (``retry-after`` or jittered
backoff)? does it fit before the call's deadline? is there retry budget left? — would be split
across tenacity's ``retry``/``wait``/``stop`` callbacks with the budget as a side effect of
``stop``. The pure :meth:`RetryPolicy.decide` (tenacity's own ``DoAttempt``/``DoSleep`` idea) plus
the 20-line loop in :class:`RetryingProvider` is smaller, and testable on a virtual clock.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from .. import callctx
from ..clock import SYSTEM_CLOCK, Clock
from ..errors import CircuitOpenError, ProviderError
from ..events import EventBus, RetryGaveUp, RetryScheduled
from ..messages import MessageRequest, MessageResponse
from ..providers.base import After, Provider, ProviderWrapper, Reply, tell_failed, tell_ok
from .config import RetrySettings

NEVER_RETRY = frozenset({400, 401, 403, 404, 413, 422})
"""Statuses caused by the request itself: a retry cannot succeed, whatever the server hints."""

RETRY_STATUSES = frozenset({408, 409, 429})
"""Besides every 5xx (529 included) and connection errors/timeouts (no status)."""

STORM_MIN_ATTEMPTS = 10
"""Attempts in the budget's window before their failure share can declare a storm (as many as
the breaker's default ``minimum_calls``): one early failure is not a storm."""

GiveUpReason = Literal[
    "not_retryable", "max_attempts", "deadline", "budget", "retry_after_too_long", "circuit_open"
]


def is_retryable(exc: BaseException) -> bool:
    """Whether another attempt can succeed: only transient provider failures qualify.

    ``NEVER_RETRY`` statuses are final even with ``x-should-retry: true``; otherwise the server's
    ``x-should-retry`` wins; otherwise connection errors, timeouts, 408, 409, 429 and 5xx retry.
    """
    if not isinstance(exc, ProviderError):
        return False
    if exc.status in NEVER_RETRY:
        return False
    if exc.should_retry is not None:
        return exc.should_retry
    return exc.status is None or exc.status in RETRY_STATUSES or exc.status >= 500


@dataclass(frozen=True, slots=True)
class Retry:
    delay: float
    reason: Literal["retry_after", "backoff"]
    # a retry the server asked for (``retry-after``) is honoured without spending the budget:
    # the budget guards against retry storms, not against an API that says when to come back
    spends_budget: bool = True


@dataclass(frozen=True, slots=True)
class GiveUp:
    reason: GiveUpReason


Decision = Retry | GiveUp


class RetryBudget:
    """Retries allowed in a sliding window during a storm: ``min_retries + ratio × recent calls``.

    Like Finagle's ``RetryBudget``: a steady trickle of retries is always allowed (``min_retries``)
    so a quiet client can still ride out one failure, but during an outage the retries stay a
    bounded fraction of the calls instead of multiplying the load. "Recent calls" are the calls
    in flight plus those that ended within the window: a model call can last longer than the
    window, and its own retries must still see it.

    The budget guards against storms, not against a flaky API: it applies once at least
    ``storm_min_attempts`` attempts were recorded in the window (:meth:`record_attempt`) and at
    least ``storm_failure_rate`` of them failed. Otherwise retries are not limited — each call
    gets the retries its policy allows, as with the official SDK. A budget that is never told
    about attempts (used on its own) always applies.
    """

    def __init__(
        self,
        ratio: float,
        min_retries: int,
        window_s: float,
        storm_failure_rate: float = 0.5,
        storm_min_attempts: int = STORM_MIN_ATTEMPTS,
    ) -> None:
        self.ratio = ratio
        self.min_retries = min_retries
        self.window_s = window_s
        self.storm_failure_rate = storm_failure_rate
        self.storm_min_attempts = storm_min_attempts
        self._told = False  # record_attempt was called: storms are judged from attempts
        self.in_flight = 0
        self._ended: deque[float] = deque()
        self._retries: deque[float] = deque()
        self._attempts: deque[tuple[float, bool]] = deque()  # (when, failed)
        self._failed = 0  # failed attempts among ``_attempts``

    def _prune(self, now: float) -> None:
        edge = now - self.window_s
        for q in (self._ended, self._retries):
            while q and q[0] <= edge:
                q.popleft()
        attempts = self._attempts
        while attempts and attempts[0][0] <= edge:
            self._failed -= attempts.popleft()[1]

    def start_call(self) -> None:
        self.in_flight += 1

    def end_call(self, now: float) -> None:
        self._prune(now)
        self.in_flight = max(0, self.in_flight - 1)
        self._ended.append(now)

    def record_attempt(self, now: float, *, failed: bool) -> None:
        """One attempt's outcome (``failed``: a retryable failure): what tells a storm."""
        self._told = True
        self._prune(now)
        self._attempts.append((now, failed))
        self._failed += failed

    def storm(self, now: float) -> bool:
        """Whether the budget applies: never told about attempts, or enough attempts in the
        window and at least ``storm_failure_rate`` of them failed."""
        if not self._told:
            return True
        self._prune(now)
        n = len(self._attempts)
        return n >= self.storm_min_attempts and self._failed >= self.storm_failure_rate * n

    def allowed(self, now: float) -> int:
        """Retries the window allows in total right now (during a storm)."""
        self._prune(now)
        return self.min_retries + int(self.ratio * (self.in_flight + len(self._ended)))

    def can_retry(self, now: float) -> bool:
        if not self.storm(now):
            return True
        allowed = self.allowed(now)  # prunes first
        return len(self._retries) < allowed

    def record_retry(self, now: float) -> None:
        self._prune(now)
        self._retries.append(now)

    def counts(self, now: float) -> tuple[int, int]:
        """(recent calls, retries) in the window."""
        self._prune(now)
        return self.in_flight + len(self._ended), len(self._retries)


class RetryPolicy:
    """Exponential backoff with full jitter and a cap; honours ``retry-after``; pure."""

    def __init__(
        self,
        *,
        max_attempts: int = 3,
        base_delay: float = 0.5,
        max_delay: float = 30.0,
        max_retry_after: float = 60.0,
        rng: random.Random | None = None,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.max_retry_after = max_retry_after
        self.rng = rng or random.Random()

    @classmethod
    def from_settings(
        cls, s: RetrySettings, *, max_attempts: int | None = None, rng: random.Random | None = None
    ) -> RetryPolicy:
        return cls(
            max_attempts=max_attempts if max_attempts is not None else s.max_attempts,
            base_delay=s.base_delay_seconds,
            max_delay=s.max_delay_seconds,
            max_retry_after=s.max_retry_after_seconds,
            rng=rng,
        )

    def backoff_ceiling(self, attempt: int) -> float:
        """The upper bound of the jittered delay after failed attempt ``attempt`` (1-based)."""
        exponent = max(attempt - 1, 0)
        if exponent >= 1023:  # 2.0**1024 overflows; any positive base is past the cap by then
            return self.max_delay if self.base_delay > 0 else 0.0
        return min(self.max_delay, self.base_delay * (2.0**exponent))

    def backoff(self, attempt: int) -> float:
        """Full jitter: uniform in ``[0, min(cap, base × 2^(attempt-1))]``."""
        return self.rng.uniform(0.0, self.backoff_ceiling(attempt))

    def decide(
        self,
        attempt: int,
        exc: BaseException,
        *,
        now: float,
        deadline: float | None = None,
        budget: RetryBudget | None = None,
    ) -> Decision:
        """What to do after attempt number ``attempt`` failed with ``exc`` at time ``now``."""
        if not is_retryable(exc):
            return GiveUp("not_retryable")
        if attempt >= self.max_attempts:
            return GiveUp("max_attempts")
        hint = exc.retry_after if isinstance(exc, ProviderError) else None
        decision: Retry
        if hint is not None:
            if hint > self.max_retry_after:
                return GiveUp("retry_after_too_long")
            decision = Retry(hint, "retry_after", spends_budget=False)
        else:
            decision = Retry(self.backoff(attempt), "backoff")
        if deadline is not None and now + decision.delay >= deadline:
            return GiveUp("deadline")
        if decision.spends_budget and budget is not None and not budget.can_retry(now):
            return GiveUp("budget")
        return decision


class RetryingProvider(ProviderWrapper):
    """Retries transient failures of ``inner`` as :class:`RetryPolicy` decides.

    The call's deadline comes from :func:`claude_force.callctx.current`; ``budgets`` gives the
    retry budget of a model (``None``: no budget). ``gate(provider, model)`` runs before each
    extra attempt, before and after its sleep, and stops the retries by raising
    :class:`~claude_force.errors.CircuitOpenError` (the hub passes the breaker's check, so a
    circuit that opened while this call was backing off receives none of its retries).
    ``on_retry(request)`` runs right before each extra attempt is sent (the rate limiter charges
    the extra request there). ``on_error(request, error)`` runs on every failed attempt (the rate
    limiter adapts to the ``anthropic-ratelimit-*`` headers of a 429 there).
    """

    def __init__(
        self,
        inner: Provider,
        policy: RetryPolicy,
        *,
        budgets: Callable[[str], RetryBudget | None] | None = None,
        bus: EventBus | None = None,
        clock: Clock = SYSTEM_CLOCK,
        on_retry: Callable[[MessageRequest], None] | None = None,
        gate: Callable[[str, str], None] | None = None,
        on_error: Callable[[MessageRequest, ProviderError], None] | None = None,
    ) -> None:
        super().__init__(inner)
        self.policy = policy
        self._budgets = budgets
        self._bus = bus
        self._clock = clock
        self._on_retry = on_retry
        self._gate = gate
        self._on_error = on_error
        self.attempts = 0  # attempts sent through this layer (for tests and health)

    def send(self, request: MessageRequest) -> Reply:
        return self.send_after(request, ())

    async def send_after(
        self, request: MessageRequest, after: tuple[After, ...]
    ) -> MessageResponse:
        """``send``, and each of ``after`` told how the call ended, from this coroutine: the
        layers above (breaker, rate limiter) hand their accounting down instead of waiting in
        frames of their own (see :func:`~claude_force.providers.base.send_after`)."""
        # the call and its attempts in one coroutine: a helper's frame would be held by every
        # call in flight while it waits for the model
        try:
            ctx = callctx.current()
            budget = self._budgets(request.model) if self._budgets is not None else None
            if budget is not None:
                budget.start_call()
            try:
                attempt = 1
                while True:
                    self.attempts += 1
                    try:
                        response = await self.inner.send(request)
                    except ProviderError as exc:
                        if self._on_error is not None:
                            self._on_error(request, exc)
                        now = self._clock.now()
                        if budget is not None:
                            budget.record_attempt(now, failed=is_retryable(exc))
                        decision = self.policy.decide(
                            attempt, exc, now=now, deadline=ctx.deadline, budget=budget
                        )
                        if isinstance(decision, GiveUp):
                            if decision.reason != "not_retryable":
                                exc.add_note(
                                    f"gave up after {attempt} attempt(s): {decision.reason}"
                                )
                                self._emit(
                                    RetryGaveUp,
                                    request,
                                    exc,
                                    ctx,
                                    attempts=attempt,
                                    reason=decision.reason,
                                )
                            raise
                        self._check_gate(
                            request, attempt, exc, ctx
                        )  # open already: do not even wait
                        if budget is not None and decision.spends_budget:
                            budget.record_retry(now)
                        self._emit(
                            RetryScheduled,
                            request,
                            exc,
                            ctx,
                            attempt=attempt,
                            delay_s=decision.delay,
                            reason=decision.reason,
                        )
                        last = exc
                    else:
                        if budget is not None:
                            budget.record_attempt(self._clock.now(), failed=False)
                        break
                    await self._clock.sleep(decision.delay)
                    self._check_gate(request, attempt, last, ctx)  # it may have opened meanwhile
                    if self._on_retry is not None:
                        self._on_retry(request)
                    attempt += 1
            finally:
                if budget is not None:
                    budget.end_call(self._clock.now())
        except BaseException as failure:
            tell_failed(after, failure)
            raise
        return tell_ok(after, response)

    def _check_gate(
        self, request: MessageRequest, attempt: int, last: ProviderError, ctx: callctx.CallContext
    ) -> None:
        """Raise ``CircuitOpenError`` (from the last failure) if the gate refuses a retry."""
        if self._gate is None:
            return
        try:
            self._gate(self.name, request.model)
        except CircuitOpenError as stop:
            stop.add_note(
                f"retries stopped after {attempt} attempt(s); last error: {type(last).__name__}: "
                f"{last}"
            )
            self._emit(RetryGaveUp, request, last, ctx, attempts=attempt, reason="circuit_open")
            raise stop from last

    def _emit(
        self,
        event: type[RetryScheduled | RetryGaveUp],
        request: MessageRequest,
        exc: ProviderError,
        ctx: callctx.CallContext,
        **facts: Any,
    ) -> None:
        """A retry event: what it says about the call (provider, model, error, agent,
        execution) is the same for both kinds; ``facts`` are the kind's own."""
        if self._bus is not None:
            self._bus.emit(
                event(
                    provider=self.name,
                    model=request.model,
                    error_type=type(exc).__name__,
                    status=exc.status,
                    agent=ctx.agent,
                    execution_id=ctx.execution_id,
                    **facts,
                )
            )
