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


Event = ExecutionStarted | ExecutionFinished
Subscriber = Callable[[Event], None]


class EventBus:
    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []

    def subscribe(self, fn: Subscriber) -> Callable[[], None]:
        """Add a subscriber; returns a function that removes it."""
        self._subscribers.append(fn)
        return lambda: self._subscribers.remove(fn) if fn in self._subscribers else None

    def emit(self, event: Event) -> None:
        for fn in tuple(self._subscribers):
            try:
                fn(event)
            except Exception:  # a broken subscriber must never fail a run
                log.exception("event subscriber %r failed on %s", fn, type(event).__name__)
