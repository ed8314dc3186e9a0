"""The server's event-bus subscriber: live figures, anomaly detection, Prometheus, the SSE fan-out.

Every event the orchestrator emits goes to :meth:`Monitor.on_event` (quick, never raises, no
I/O): it updates :class:`~claude_force.monitoring.live.LiveStats`, feeds finished executions to
the :class:`~claude_force.monitoring.anomaly.AnomalyDetector`, and publishes the event — and any
anomaly raised or resolved — to the :class:`Broadcaster` for the dashboard's stream.
"""

from __future__ import annotations

import asyncio
import platform
import threading
import time
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from prometheus_client import (
    GC_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Info,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)

from .._version import __version__
from ..events import Event, ExecutionFinished, ExecutionStarted
from ..metrics.prometheus import PrometheusMetrics
from ..metrics.record import ExecutionRecord
from ..monitoring.anomaly import KINDS, AnomalyChange, AnomalyDetector, Sample
from ..monitoring.live import LiveStats
from ..monitoring.wire import anomaly_event, event_payload, event_type
from .broadcast import Broadcaster

WARMUP_SLICE_S = 0.002
"""How long the start-up replay of stored executions feeds the detector before it rests as long
(the loop serves requests meanwhile): a request in flight waits at most that long at each of its
own turns, not for the whole replay (50,000 samples, 1-2 s here; at half the duty, 2-4 s)."""


class Monitor:
    """Live state of one server. ``prometheus``: the registry to expose at ``/metrics`` when the
    orchestrator's metrics tracker keeps one; otherwise the monitor keeps its own, fed by events.
    """

    def __init__(
        self,
        *,
        live: LiveStats,
        detector: AnomalyDetector,
        broadcaster: Broadcaster,
        prometheus: PrometheusMetrics | None = None,
    ) -> None:
        self.live = live
        self.detector = detector
        self.broadcaster = broadcaster
        self._own_prometheus = prometheus is None
        self.prometheus = prometheus if prometheus is not None else PrometheusMetrics()
        self._lock = threading.Lock()
        # while the warm-up reads the store: the samples of new executions, fed after the
        # stored ones (the detector's windows must see executions in the order they finished)
        self._held: list[Sample] | None = None
        self._held_from: datetime | None = None
        self.registry = CollectorRegistry()
        r = self.registry
        self._active = Gauge(
            "claude_force_anomalies_active", "Anomalies open now, by kind.", ["kind"], registry=r
        )
        self._raised = Counter(
            "claude_force_anomalies_raised", "Anomalies raised, by kind.", ["kind"], registry=r
        )
        for kind in KINDS:
            self._active.labels(kind).set(0)
            self._raised.labels(kind)
        in_flight = Gauge(
            "claude_force_executions_in_flight", "Executions started, not finished.", registry=r
        )
        in_flight.set_function(lambda: self.live.in_flight)
        clients = Gauge(
            "claude_force_live_stream_clients", "Open /api/v1/events streams.", registry=r
        )
        clients.set_function(lambda: self.broadcaster.clients)
        # the process (CPU, memory, open files, start time), the interpreter and the build
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
        r.register(GC_COLLECTOR)
        Info("claude_force_build", "The claude-force build serving.", registry=r).info(
            {"version": __version__, "python": platform.python_version()}
        )

    # --- the bus subscriber ----------------------------------------------------------------------

    def on_event(self, event: Event) -> None:
        changes: list[AnomalyChange] = []
        payload = event_payload(event)
        with self._lock:
            if isinstance(event, ExecutionFinished):
                self.live.finished(event, payload)
                changes = self._observe(Sample.from_event(event))
                if self._own_prometheus:
                    self.prometheus.observe(ExecutionRecord.from_event(event))
            elif isinstance(event, ExecutionStarted):
                self.live.started(event)
            elif self._own_prometheus:
                self.prometheus.on_event(event)
        self.broadcaster.publish(event_type(event), payload)
        self._announce(changes)

    def observe_stored(self, sample: Sample, row: dict[str, Any]) -> None:
        """An execution another process wrote to the store (see ``server/follow.py``): the
        detector sees it, the stream announces it as ``stored_execution``."""
        with self._lock:
            changes = self._observe(sample)
        self.broadcaster.publish("stored_execution", row)
        self._announce(changes)

    def _announce(self, changes: Iterable[AnomalyChange]) -> None:
        for change in changes:
            kind = change.anomaly.kind
            if change.change == "raised":
                self._raised.labels(kind).inc()
                self._active.labels(kind).inc()
            else:
                self._active.labels(kind).dec()
            self.broadcaster.publish(*anomaly_event(change))

    def _observe(self, sample: Sample) -> list[AnomalyChange]:
        """Feed the detector (under the lock), or keep the sample while a warm-up runs."""
        if self._held is not None:
            self._held.append(sample)
            return []
        return self.detector.observe(sample)

    def hold(self, since: datetime) -> None:
        """A warm-up begins: executions that finish from ``since`` on are kept and fed after
        the stored ones (by :meth:`warm_up`), so the detector sees every execution in order."""
        with self._lock:
            self._held, self._held_from = [], since

    def warm_up(self, samples: Iterable[Sample]) -> int:
        """Seed the anomaly baselines with past executions (oldest first), then those kept since
        :meth:`hold` (in the order they finished; stored ones from then on are theirs, not fed
        twice); nothing is announced, but anomalies still open at the end count as active.
        Returns how many were fed."""
        n = 0
        with self._lock:
            held, cutoff = self._held or [], self._held_from
            self._held = self._held_from = None
            for sample in samples:
                if cutoff is None or sample.at < cutoff:
                    self.detector.observe(sample)
                    n += 1
            for sample in sorted(held, key=lambda s: s.at):
                self.detector.observe(sample)
                n += 1
            for kind in KINDS:
                self._active.labels(kind).set(sum(a.kind == kind for a in self.detector.active()))
        return n

    async def warm_up_soon(self, samples: Sequence[Sample], slice_s: float = WARMUP_SLICE_S) -> int:
        """:meth:`warm_up`, giving the event loop back every ``slice_s`` seconds: fed in one
        go, the 50,000 stored samples a server replays at most held every request of its first
        seconds up. Executions that finish meanwhile are still held and fed last, in order;
        when cancelled (shutdown), the rest is fed at once, as :meth:`warm_up` would."""
        cutoff = self._held_from
        n = done = 0
        clock = time.perf_counter
        try:
            while done < len(samples):
                with self._lock:
                    until = clock() + slice_s
                    while done < len(samples):
                        sample = samples[done]
                        done += 1  # (first: a sample the detector refused is not fed again)
                        if cutoff is None or sample.at < cutoff:
                            self.detector.observe(sample)
                            n += 1
                        if clock() >= until:
                            break
                # a real rest as long as the slice, not sleep(0): the loop's thread must let go
                # of the GIL too, or a request's query on a worker thread gets it back only every
                # switch interval, at each row (0.4 s an overview here)
                await asyncio.sleep(slice_s)
        finally:
            n += self.warm_up(samples[done:])
        return n

    # --- reading ---------------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """The live figures and the anomalies (stale ones are resolved, and announced, first)."""
        with self._lock:
            changes = self.detector.expire()
            snap = self.live.snapshot()
            snap["anomalies"] = {
                "active": [a.to_dict() for a in self.detector.active()],
                "recent": [a.to_dict() for a in self.detector.history()[:20]],
            }
        self._announce(changes)
        snap["stream"] = {"clients": self.broadcaster.clients, "dropped": self.broadcaster.dropped}
        return snap

    def exposition(self) -> bytes:
        """Prometheus text: the execution metrics, then the server's own."""
        with self._lock:
            changes = self.detector.expire()
        self._announce(changes)
        return generate_latest(self.prometheus.registry) + generate_latest(self.registry)
