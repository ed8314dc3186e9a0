"""Live figures of this process for the dashboard: throughput, latency percentiles, cost, cache
hit rate, executions in flight and the latest finished ones — pure, with an injected clock.

Finished executions are counted in fixed buckets (``bucket_s`` seconds of the clock) kept for
``horizon_s``; the *window* figures add the buckets of the last ``window_s``. Percentiles come
from the metrics package's log-scale histogram (within 1% of the exact value), which merges
bucket by bucket.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from ..clock import WALL_CLOCK, Clock
from ..events import Event, ExecutionFinished, ExecutionStarted
from ..metrics.histogram import LogHistogram
from .wire import event_payload


@dataclass
class Tally:
    """Sums over a set of finished executions."""

    executions: int = 0
    failures: int = 0
    cache_hits: int = 0
    tokens: int = 0
    cost_usd: Decimal = Decimal(0)
    saved_usd: Decimal = Decimal(0)
    latency: LogHistogram = field(default_factory=LogHistogram)

    def add(self, event: ExecutionFinished) -> None:
        self.executions += 1
        self.failures += not event.success
        self.cache_hits += event.cached
        self.tokens += event.usage.total_tokens
        self.cost_usd += event.cost_usd or 0
        self.saved_usd += event.saved_cost_usd or 0
        self.latency.add(event.duration_ms)

    def merge(self, other: Tally) -> None:
        self.executions += other.executions
        self.failures += other.failures
        self.cache_hits += other.cache_hits
        self.tokens += other.tokens
        self.cost_usd += other.cost_usd
        self.saved_usd += other.saved_usd
        self.latency.merge(other.latency)

    def figures(self) -> dict[str, Any]:
        n = self.executions
        return {
            "executions": n,
            "failures": self.failures,
            "error_rate": round(self.failures / n, 6) if n else None,
            "cache_hits": self.cache_hits,
            "cache_hit_rate": round(self.cache_hits / n, 6) if n else None,
            "tokens": self.tokens,
            "cost_usd": float(self.cost_usd),
            "saved_usd": float(self.saved_usd),
            "p50_ms": _r(self.latency.quantile(0.50)),
            "p95_ms": _r(self.latency.quantile(0.95)),
            "p99_ms": _r(self.latency.quantile(0.99)),
        }


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 3)


class LiveStats:
    """Counts executions as their events arrive; :meth:`snapshot` gives the dashboard's figures."""

    def __init__(
        self,
        *,
        clock: Clock = WALL_CLOCK,
        window_s: float = 300.0,
        bucket_s: float = 10.0,
        horizon_s: float = 600.0,
        recent: int = 50,
        max_in_flight: int = 10_000,
    ) -> None:
        if not 0 < bucket_s <= window_s <= horizon_s:
            raise ValueError("need 0 < bucket_s <= window_s <= horizon_s")
        self.clock = clock
        self.window_s = window_s
        self.bucket_s = bucket_s
        self.horizon_s = horizon_s
        self.started_at = clock.now()
        self.totals = Tally()
        self._buckets: dict[int, Tally] = {}
        self._in_flight: OrderedDict[str, tuple[str, str, float]] = OrderedDict()
        self._max_in_flight = max_in_flight
        self.recent: deque[dict[str, Any]] = deque(maxlen=recent)

    # --- feeding ---------------------------------------------------------------------------------

    def on_event(self, event: Event) -> None:
        if isinstance(event, ExecutionStarted):
            self.started(event)
        elif isinstance(event, ExecutionFinished):
            self.finished(event)

    def started(self, event: ExecutionStarted) -> None:
        self._in_flight[event.execution_id] = (event.agent, event.model, self.clock.now())
        while len(self._in_flight) > self._max_in_flight:
            self._in_flight.popitem(last=False)

    def finished(self, event: ExecutionFinished, payload: dict[str, Any] | None = None) -> None:
        """Count a finished execution; ``payload``: its :func:`event_payload`, if already made."""
        now = self.clock.now()
        self._in_flight.pop(event.execution_id, None)
        index = int(now // self.bucket_s)
        bucket = self._buckets.get(index)
        if bucket is None:
            bucket = self._buckets[index] = Tally()
            self._prune(now)
        bucket.add(event)
        self.totals.add(event)
        row = dict(payload) if payload is not None else event_payload(event)
        row["finished_at"] = datetime.fromtimestamp(now, UTC).isoformat()
        self.recent.appendleft(row)

    def _prune(self, now: float) -> None:
        oldest = int((now - self.horizon_s) // self.bucket_s)
        for index in [i for i in self._buckets if i <= oldest]:
            del self._buckets[index]
        limit = now - self.horizon_s  # executions that never finished (cancelled) are forgotten
        while self._in_flight:
            first = next(iter(self._in_flight.values()))
            if first[2] >= limit:
                break
            self._in_flight.popitem(last=False)

    # --- reading ---------------------------------------------------------------------------------

    @property
    def in_flight(self) -> int:
        """Executions started and not yet finished."""
        return len(self._in_flight)

    def snapshot(self, *, running: int = 20) -> dict[str, Any]:
        """Figures since start (``totals``), over the last ``window_s`` (``window``), per bucket
        over ``horizon_s`` (``timeline``, oldest first), executions in flight, latest finished."""
        now = self.clock.now()
        self._prune(now)
        current = int(now // self.bucket_s)
        first_window = int((now - self.window_s) // self.bucket_s) + 1
        window = Tally()
        timeline = []
        for index in range(int((now - self.horizon_s) // self.bucket_s) + 1, current + 1):
            bucket = self._buckets.get(index)
            if bucket is not None and index >= first_window:
                window.merge(bucket)
            b = bucket or Tally()
            timeline.append(
                {
                    "start": datetime.fromtimestamp(index * self.bucket_s, UTC).isoformat(),
                    "executions": b.executions,
                    "failures": b.failures,
                    "cache_hits": b.cache_hits,
                    "cost_usd": float(b.cost_usd),
                    "p95_ms": _r(b.latency.quantile(0.95)),
                }
            )
        uptime = max(0.0, now - self.started_at)
        span = min(self.window_s, max(uptime, self.bucket_s))
        figures = window.figures()
        figures.update(
            seconds=self.window_s,
            throughput_per_min=round(window.executions * 60 / span, 3),
            cost_per_min_usd=float(window.cost_usd) * 60 / span,
        )
        return {
            "now": datetime.fromtimestamp(now, UTC).isoformat(),
            "uptime_s": round(uptime, 3),
            "in_flight": self.in_flight,
            "running": [
                {
                    "execution_id": eid,
                    "agent": agent,
                    "model": model,
                    "elapsed_s": round(max(0.0, now - since), 3),
                }
                for eid, (agent, model, since) in list(self._in_flight.items())[-running:]
            ],
            "totals": self.totals.figures(),
            "window": figures,
            "bucket_s": self.bucket_s,
            "timeline": timeline,
            "recent": list(self.recent),
        }
