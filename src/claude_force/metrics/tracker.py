"""The metrics tracker: turns events into records, feeds Prometheus, writes in the background.

``MetricsTracker.for_project(project, bus=...)`` is what the engine creates when tracking is on.
It subscribes to the :class:`~claude_force.events.EventBus`: that is the one path by which
executions reach it (the 2.2 ``tracker`` sink, ``record_event_async``, is the same subscriber).

On the request path it only builds a frozen record and enqueues it (``BatchWriter.submit``): no
I/O, no waiting. The store is opened on the writer thread, which also runs the automatic rollup
(at most once per ``metrics.rollup_interval_hours``).

The live Prometheus registry (:attr:`MetricsTracker.prometheus`) is built when someone first asks
for it — the server does when it is created — and counts from then on; until then nothing imports
prometheus-client and no execution pays for counters nobody reads (docs/metrics.md).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from ..catalog import ModelCatalog, builtin_catalog
from ..clock import WALL_CLOCK, Clock, utcnow
from ..events import (
    BreakerRejected,
    Event,
    EventBus,
    ExecutionFinished,
    ExecutionStarted,
    ModelFallback,
    RateLimitWait,
    RetryGaveUp,
    RetryScheduled,
)
from .backend import LAST_ROLLUP, MetricsStore, RollupReport
from .browse import ExecutionNote
from .notes import note_of, timeline_entry
from .reader import store_for as store_for  # (its home before reader.py)
from .record import ExecutionRecord, to_us
from .rollup import rollup_cutoff as rollup_cutoff  # (its home before rollup.py)
from .rollup import rollup_due, run_rollup
from .settings import MetricsSettings
from .writer import BatchWriter

if TYPE_CHECKING:
    from ..config import Project
    from .analytics import Analytics
    from .prometheus import PrometheusMetrics

log = logging.getLogger(__name__)

_SEEN_MAX = 50_000


@dataclass(frozen=True, slots=True)
class _FailedAttempt:
    """An attempt that failed and was followed by another (a retry, or a fallback model)."""

    model: str
    provider: str | None  # None: not known from the event; the execution's provider is used
    error_type: str
    at_us: int


YIELD_EVERY = 32
"""Records built by the writer thread between two offers of the GIL to other threads."""


class _Finished:
    """A finished execution whose record the writer thread builds (see ``record_event``)."""

    __slots__ = ("attempt", "event")

    def __init__(self, event: ExecutionFinished, attempt: int) -> None:
        self.event = event
        self.attempt = attempt


class MetricsTracker:
    """Records executions and attempts; answers analytics once pending writes are flushed."""

    def __init__(
        self,
        store: MetricsStore | Callable[[], MetricsStore],
        *,
        settings: MetricsSettings | None = None,
        catalog: ModelCatalog | None = None,
        prometheus: PrometheusMetrics | None = None,
        clock: Clock = WALL_CLOCK,
    ) -> None:
        self.settings = settings or MetricsSettings()
        self.catalog = catalog or builtin_catalog()
        # None until first asked for (see ``prometheus``): then every record and event counts
        self._prometheus = prometheus
        self._prometheus_lock = threading.Lock()
        self.clock = clock
        self._store: MetricsStore | None = None if callable(store) else store
        self._factory: Callable[[], MetricsStore] | None = store if callable(store) else None
        self._open_lock = threading.Lock()
        self._state_lock = threading.Lock()
        self._finished: OrderedDict[str, int] = OrderedDict()
        # failed attempts per execution, written with the execution's own dimensions (agent,
        # workflow, step, simulated) once it finishes; numbered in the order they happened
        self._failed: OrderedDict[str, list[_FailedAttempt]] = OrderedDict()
        self._final_attempt: dict[str, int] = {}
        # resilience events per execution (retries, fallbacks, waits), for its stored note
        self._timeline: OrderedDict[str, list[dict[str, object]]] = OrderedDict()
        self._unsubscribe: list[Callable[[], None]] = []
        s = self.settings
        self.writer: BatchWriter[ExecutionRecord | ExecutionNote | _Finished] = BatchWriter(
            self._write_batch,
            batch_size=s.batch_size,
            flush_interval_s=s.flush_interval_seconds,
            max_pending=s.max_pending,
            on_open=self._on_writer_start,
        )
        self.last_rollup: RollupReport | None = None

    @classmethod
    def for_project(cls, project: Project, *, bus: EventBus | None = None) -> MetricsTracker:
        settings = getattr(project.settings, "metrics", None) or MetricsSettings()
        tracker = cls(
            lambda: store_for(
                settings, project.state_dir, database_url=project.settings.cluster.database_url
            ),
            settings=settings,
            catalog=project.catalog,
        )
        if bus is not None:
            tracker.subscribe(bus)
        return tracker

    # --- the store (opened lazily, off the request path) ---------------------------------------

    @property
    def store(self) -> MetricsStore:
        """The store, opened at first use (blocking: call it off the event loop)."""
        if self._store is None:
            with self._open_lock:
                if self._store is None:
                    assert self._factory is not None
                    self._store = self._factory()
        return self._store

    def _on_writer_start(self) -> None:
        self.store  # noqa: B018 - open on the writer thread
        if self.settings.auto_rollup:
            self.maybe_rollup()

    def _write_batch(self, batch: Sequence[ExecutionRecord | ExecutionNote | _Finished]) -> None:
        records: list[ExecutionRecord] = []
        built = 0
        for item in batch:
            if type(item) is _Finished:
                records.append(self._build(item.event, item.attempt))
                built += 1
                if built % YIELD_EVERY == 0:
                    time.sleep(0)  # let the event loop's thread have the GIL (its latency)
            elif isinstance(item, ExecutionRecord):
                records.append(item)
        notes = [n for n in batch if isinstance(n, ExecutionNote)]
        self.store.upsert(records)
        if notes:
            self.store.put_notes(notes)

    def add_note(self, execution_id: str, started_at: datetime, data: dict[str, object]) -> bool:
        """Merge ``data`` into an execution's stored note (written in the background)."""
        return self.writer.submit(ExecutionNote(execution_id, to_us(started_at), dict(data)))

    # --- recording (request path: no I/O) -----------------------------------------------------------

    @property
    def prometheus(self) -> PrometheusMetrics:
        """This process's live Prometheus series, built at the first access and counting from
        then on: the executions and events recorded before are not in it (they are in the store;
        ``store_exposition`` shows those). A run nobody scrapes never imports prometheus-client
        nor updates counters; the server asks for the registry when it is created, so its
        ``/metrics`` has every execution it runs. Pass ``prometheus=`` to count from the start."""
        p = self._prometheus
        if p is None:
            with self._prometheus_lock:  # the loop records while another thread may ask
                p = self._prometheus
                if p is None:
                    from .prometheus import PrometheusMetrics

                    p = self._prometheus = PrometheusMetrics()
        return p

    def subscribe(self, bus: EventBus) -> None:
        self._unsubscribe.append(bus.subscribe(self.record_event))

    def record(self, rec: ExecutionRecord) -> bool:
        """Count and enqueue one record; False when skipped (simulated off, queue full).

        Each execution reaches the tracker once, from the bus; the store upserts by
        ``(execution_id, attempt)``.
        """
        if rec.simulated and not self.settings.record_simulated:
            return False
        prometheus = self._prometheus
        if prometheus is not None:  # nobody asked for the live series: nothing to count
            prometheus.observe(rec)
        return self.writer.submit(rec)

    def record_event(self, event: Event) -> None:
        """The EventBus subscriber: executions, retries and other resilience events.

        A retried attempt (``RetryScheduled``) and an attempt abandoned for a fallback model
        (``ModelFallback``) are kept until their execution finishes, then written as its
        earlier attempts (``final=False``), numbered in the order they happened — so the
        attempts of two models never share a number, and they carry the execution's workflow.
        """
        kind = type(event)
        if kind is ExecutionStarted:
            return  # nothing to record or count until it finishes
        if kind is ExecutionFinished:
            assert isinstance(event, ExecutionFinished)
            if (
                self._prometheus is None
                and event.execution_id not in self._failed
                and (event.cost_usd is not None or event.usage.total_tokens == 0)
            ):
                # the usual case — nothing counted live, no earlier attempt to write, a priced
                # model (an unpriced one is warned about here, on the caller's thread): the
                # record is built on the writer thread, not in the caller's latency
                if event.simulated and not self.settings.record_simulated:
                    return
                pending = _Finished(event, self._attempt_of(event.execution_id))
                if self.writer.submit(pending):
                    self._write_note(event)
                return
            final = self.record_of(event)
            for earlier in self._take_failed(event, final.attempt, final.task_hash):
                self.record(earlier)
            if self.record(final):
                self._write_note(event)
            return
        if isinstance(event, (RetryScheduled, ModelFallback, RateLimitWait, BreakerRejected)):
            self._add_to_timeline(event)
        if isinstance(event, RetryScheduled) and event.execution_id:
            self._note_failed(event.execution_id, event.model, event.provider, event.error_type)
        elif isinstance(event, ModelFallback) and event.execution_id:
            self._note_failed(event.execution_id, event.from_model, None, event.reason)
        elif isinstance(event, RetryGaveUp) and event.execution_id:
            with self._state_lock:
                self._final_attempt[event.execution_id] = event.attempts
        prometheus = self._prometheus
        if prometheus is not None:
            prometheus.on_event(event)

    def _add_to_timeline(
        self, event: RetryScheduled | ModelFallback | RateLimitWait | BreakerRejected
    ) -> None:
        if not event.execution_id:
            return
        entry = timeline_entry(event, utcnow(self.clock))
        with self._state_lock:
            if event.execution_id in self._finished:
                return
            self._timeline.setdefault(event.execution_id, []).append(entry)
            self._timeline.move_to_end(event.execution_id)
            if len(self._timeline) > _SEEN_MAX:
                self._timeline.popitem(last=False)

    def _write_note(self, event: ExecutionFinished) -> None:
        with self._state_lock:
            timeline = self._timeline.pop(event.execution_id, [])
        s = self.settings
        data = note_of(event, timeline, keep_text=s.keep_text, max_chars=s.text_max_chars)
        if data:
            self.writer.submit(ExecutionNote(event.execution_id, to_us(event.started_at), data))

    async def record_event_async(self, event: ExecutionFinished) -> None:
        """The orchestrator's ``tracker`` sink; never waits for I/O."""
        self.record_event(event)

    def record_of(self, event: ExecutionFinished) -> ExecutionRecord:
        """The record of a finished execution: its attempt number, exact or unknown cost."""
        return self._build(event, self._attempt_of(event.execution_id))

    def _build(self, event: ExecutionFinished, attempt: int) -> ExecutionRecord:
        """:meth:`record_of` once the attempt is known (pure but for the unpriced warning: the
        writer thread builds the usual records)."""
        cost = event.cost_usd
        if cost is None and event.usage.total_tokens == 0:
            cost = Decimal(0)  # nothing reached the model: nothing to pay
        elif cost is None:  # priced from the table in force on the execution's UTC date
            cost = self.catalog.prices.cost(event.model, event.usage, event.started_at.date())
            if cost is None:
                self.catalog.warn_unpriced(event.model)
        saved: Decimal | None = None
        if event.cached and event.saved_cost_usd is None:
            saved = self.catalog.prices.cost(event.model, event.usage, event.started_at.date())
        return ExecutionRecord.from_event(event, attempt=attempt, saved_usd=saved, cost_usd=cost)

    def _attempt_of(self, execution_id: str) -> int:
        """The final attempt's number: after the failed ones seen; stable if the event comes again."""
        with self._state_lock:
            attempt = self._finished.get(execution_id)
            if attempt is None:
                final = self._final_attempt.pop(execution_id, 0)
                failed = len(self._failed.get(execution_id, ()))
                attempt = max(final, failed + 1)
                self._finished[execution_id] = attempt
                if len(self._finished) > _SEEN_MAX:
                    self._finished.popitem(last=False)
            return attempt

    def _note_failed(
        self, execution_id: str, model: str, provider: str | None, error_type: str
    ) -> None:
        failed = _FailedAttempt(model, provider, error_type, to_us(utcnow(self.clock)))
        with self._state_lock:
            if execution_id in self._finished:
                return  # a late event of an execution already recorded
            self._failed.setdefault(execution_id, []).append(failed)
            self._failed.move_to_end(execution_id)
            if len(self._failed) > _SEEN_MAX:  # executions that never finished (cancelled)
                self._failed.popitem(last=False)

    def _take_failed(
        self, event: ExecutionFinished, final_attempt: int, th: str
    ) -> list[ExecutionRecord]:
        """The earlier attempts of a finished execution, once (a repeat of the event gets none);
        ``th``: the task's hash (the final record's)."""
        if not self._failed:
            return []
        with self._state_lock:
            failed = self._failed.pop(event.execution_id, [])
        if not failed:
            return []
        return [
            ExecutionRecord(
                execution_id=event.execution_id,
                attempt=n,
                final=False,
                agent=event.agent,
                provider=f.provider or event.provider,
                model=f.model,
                started_us=f.at_us,
                duration_us=0,
                success=False,
                error_type=f.error_type,
                cost_pusd=0,
                simulated=event.simulated,
                workflow=event.workflow_name,
                workflow_position=event.workflow_position,
                workflow_run_id=event.workflow_run_id,
                step_id=event.step_id,
                task_hash=th,
            )
            for n, f in enumerate(failed, 1)
            if n < final_attempt
        ]

    # --- flushing, reading, rollup ---------------------------------------------------------------

    def flush(self, timeout: float | None = 30.0) -> bool:
        """Wait until every record submitted so far is in the store."""
        return self.writer.flush(timeout)

    async def aflush(self) -> bool:
        """:meth:`flush` from async code (waits in a worker thread, not on the loop)."""
        import asyncio  # here: the read-only commands use the tracker without asyncio

        return await asyncio.to_thread(self.flush)

    def analytics(self) -> Analytics:
        """Analytics over the store, after flushing pending records (blocking)."""
        from .analytics import Analytics  # here: a run that reads no report never loads it

        self.flush()
        return Analytics(self.store)

    def rollup(self, now: datetime | None = None) -> RollupReport:
        """Roll up raw rows older than ``raw_retention_days`` and prune old daily rows."""
        self.flush()
        return self._rollup(now or utcnow(self.clock))

    def maybe_rollup(self, now: datetime | None = None) -> RollupReport | None:
        """Run a rollup if none ran within ``rollup_interval_hours`` (in any process)."""
        now = now or utcnow(self.clock)
        last = self.store.get_meta(LAST_ROLLUP)
        if not rollup_due(int(last) if last else None, now, self.settings.rollup_interval_hours):
            return None
        return self._rollup(now)

    def _rollup(self, now: datetime) -> RollupReport:
        self.last_rollup = run_rollup(self.store, self.settings, now)
        return self.last_rollup

    def close(self) -> None:
        """Flush pending records, stop the writer thread, close the store. Idempotent."""
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()
        self.writer.close()
        if self._store is not None:
            self._store.close()
            if self._factory is not None:
                self._store = None  # reopened on demand: reports still work after close()

    async def aclose(self) -> None:
        import asyncio

        await asyncio.to_thread(self.close)
