"""Typed events the runner emits; the tracker, Prometheus metrics and dashboards subscribe.

Subscribers are plain callables run synchronously in emission order; they must be quick and must
not raise (a subscriber that raises is logged and skipped, never allowed to fail a run).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from .messages import Usage

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ExecutionStarted:
    execution_id: str
    agent: str
    model: str
    at: datetime
    workflow_name: str | None = None
    workflow_position: int | None = None


@dataclass(frozen=True, slots=True)
class ExecutionFinished:
    execution_id: str
    agent: str
    task: str
    model: str
    provider: str
    success: bool
    started_at: datetime
    duration_ms: float
    queue_wait_ms: float
    usage: Usage
    cost_usd: Decimal | None
    cached: bool
    simulated: bool
    error_type: str | None = None
    error: str | None = None
    workflow_name: str | None = None
    workflow_position: int | None = None
    saved_cost_usd: Decimal | None = None
    semantic_similarity: float | None = None  # answered by the semantic cache (similarity)
    workflow_run_id: str | None = None
    step_id: str | None = None
    # for the execution's stored note (never sent on the live stream): the answer text (kept
    # only when ``metrics.keep_text`` is on, redacted), the API's request id and stop reason
    output: str | None = None
    request_id: str | None = None
    stop_reason: str | None = None


# --- resilience (retry, circuit breaker, rate limit, fallback; see claude_force.resilience) -----


@dataclass(frozen=True, slots=True)
class RetryScheduled:
    """A failed attempt will be retried after ``delay_s`` (``reason``: retry_after or backoff)."""

    provider: str
    model: str
    attempt: int  # the attempt that failed (1 = the first)
    delay_s: float
    reason: str
    error_type: str
    status: int | None = None
    agent: str | None = None
    execution_id: str | None = None


@dataclass(frozen=True, slots=True)
class RetryGaveUp:
    """A retryable failure was not retried (max_attempts, deadline, budget, retry_after_too_long,
    circuit_open)."""

    provider: str
    model: str
    attempts: int
    reason: str
    error_type: str
    status: int | None = None
    agent: str | None = None
    execution_id: str | None = None


@dataclass(frozen=True, slots=True)
class BreakerTransition:
    """A circuit breaker changed state (closed, open, half_open)."""

    provider: str
    model: str
    from_state: str
    to_state: str
    failure_rate: float
    calls_in_window: int
    retry_in_s: float | None = None  # open: seconds until a probe is allowed


@dataclass(frozen=True, slots=True)
class BreakerRejected:
    """A call failed at once because the breaker is open; nothing was sent."""

    provider: str
    model: str
    retry_in_s: float
    agent: str | None = None
    execution_id: str | None = None


@dataclass(frozen=True, slots=True)
class RateLimitWait:
    """A call waits for the client-side rate limit (``limit``: requests, input or output tokens)."""

    model: str
    limit: str
    wait_s: float  # estimated when the wait began
    queued_ahead: int
    agent: str | None = None
    execution_id: str | None = None


@dataclass(frozen=True, slots=True)
class ModelFallback:
    """``from_model`` failed (breaker open / retries exhausted / rate limit); trying ``to_model``."""

    from_model: str
    to_model: str
    reason: str
    agent: str | None = None
    execution_id: str | None = None


ResilienceEvent = (
    RetryScheduled
    | RetryGaveUp
    | BreakerTransition
    | BreakerRejected
    | RateLimitWait
    | ModelFallback
)
Event = ExecutionStarted | ExecutionFinished | ResilienceEvent
Subscriber = Callable[[Event], None]


class EventBus:
    def __init__(self) -> None:
        # a tuple, replaced on (un)subscribe: emit iterates it without copying it each time
        self._subscribers: tuple[Subscriber, ...] = ()

    def subscribe(self, fn: Subscriber) -> Callable[[], None]:
        """Add a subscriber; returns a function that removes it."""
        self._subscribers = (*self._subscribers, fn)

        def unsubscribe() -> None:
            subs = list(self._subscribers)
            if fn in subs:
                subs.remove(fn)  # the first of equal ones, as list.remove did
                self._subscribers = tuple(subs)

        return unsubscribe

    def emit(self, event: Event) -> None:
        for fn in self._subscribers:  # the tuple as it was when the emit began
            try:
                fn(event)
            except Exception:  # a broken subscriber must never fail a run
                log.exception("event subscriber %r failed on %s", fn, type(event).__name__)
