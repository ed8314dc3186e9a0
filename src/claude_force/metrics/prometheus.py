"""Prometheus metrics: a live registry fed by events, and a collector that reads the store.

* :class:`PrometheusMetrics` — counters, gauges and histograms in its own
  ``prometheus_client.CollectorRegistry`` (never the global one), updated on every recorded
  execution and resilience event. The server exposes ``registry`` at ``/metrics``.
* :class:`StoreCollector` — the same families computed from the metrics store (raw + rolled-up
  data), for ``claude-force analytics prometheus`` and for scraping a store that many processes
  write. Its totals cover the retained data. Breaker state is live-only (the store keeps no
  breaker rows); retries are ``claude_force_retried_attempts`` there, not ``claude_force_retries``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from ..events import (
    BreakerRejected,
    BreakerTransition,
    Event,
    ModelFallback,
    RateLimitWait,
    RetryGaveUp,
    RetryScheduled,
)
from .backend import MetricsStore, Query
from .histogram import bucket_value
from .record import PICO, ExecutionRecord

LATENCY_BUCKETS_S = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)
WAIT_BUCKETS_S = (0.001, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0)
BREAKER_STATES = {"closed": 0, "half_open": 1, "open": 2}
_PICO = float(PICO)


class PrometheusMetrics:
    """Live metrics of this process."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self._children: dict[tuple[Any, ...], Any] = {}

        # labels: space-separated names
        def counter(name: str, doc: str, labels: str) -> Counter:
            return Counter(name, doc, labels.split(), registry=r)

        def gauge(name: str, doc: str, labels: str) -> Gauge:
            return Gauge(name, doc, labels.split(), registry=r)

        def histogram(name: str, doc: str, labels: str, buckets: tuple[float, ...]) -> Histogram:
            return Histogram(name, doc, labels.split(), buckets=buckets, registry=r)

        self.executions = counter(
            "claude_force_executions",
            "Finished agent executions.",
            "agent model outcome cached simulated",
        )
        self.tokens = counter(
            "claude_force_tokens",
            "Tokens used, by kind (input, output, cache_write, cache_read).",
            "agent model kind",
        )
        self.cost = counter("claude_force_cost_usd", "Cost in USD (known prices).", "agent model")
        self.cost_unknown = counter(
            "claude_force_cost_unknown",
            "Attempts whose model has no price (cost recorded as unknown).",
            "model",
        )
        self.cache_hits = counter(
            "claude_force_cache_hits", "Executions answered from the cache.", "agent"
        )
        self.saved = counter("claude_force_saved_cost_usd", "USD saved by cache hits.", "agent")
        self.semantic_hits = counter(
            "claude_force_semantic_cache_hits",
            "Executions answered by the semantic cache (paraphrases; part of the cache hits).",
            "agent",
        )
        self.semantic_saved = counter(
            "claude_force_semantic_saved_cost_usd",
            "USD saved by semantic cache hits (part of the saved cost).",
            "agent",
        )
        self.latency = histogram(
            "claude_force_execution_duration_seconds",
            "Wall time of an execution (queue wait included).",
            "agent model",
            LATENCY_BUCKETS_S,
        )
        self.queue_wait = histogram(
            "claude_force_queue_wait_seconds",
            "Time an execution waited for a concurrency slot.",
            "agent",
            WAIT_BUCKETS_S,
        )
        self.retries = counter(
            "claude_force_retries",
            "Retried attempts, by reason (retry_after or backoff).",
            "provider model reason",
        )
        self.retry_gave_up = counter(
            "claude_force_retry_gave_up",
            "Retryable failures not retried (max attempts, deadline, budget …).",
            "provider model reason",
        )
        self.breaker_state = gauge(
            "claude_force_circuit_breaker_state",
            "Circuit breaker state: 0 closed, 1 half-open, 2 open.",
            "provider model",
        )
        self.breaker_transitions = counter(
            "claude_force_circuit_breaker_transitions",
            "Circuit breaker state changes, by new state.",
            "provider model state",
        )
        self.breaker_rejected = counter(
            "claude_force_circuit_breaker_rejected",
            "Calls failed at once because the breaker was open.",
            "provider model",
        )
        self.rate_limit_waits = histogram(
            "claude_force_rate_limit_wait_seconds",
            "Waits for the client-side rate limit (estimated at the start of the wait).",
            "model limit",
            WAIT_BUCKETS_S,
        )
        self.fallbacks = counter(
            "claude_force_model_fallbacks",
            "Calls moved to a fallback model.",
            "from_model to_model reason",
        )

    def _child(self, metric: Any, *labels: str) -> Any:
        """``metric.labels(*labels)``, remembered: ``labels()`` validates and converts its
        arguments on every call (a few microseconds, seven times per execution); the child it
        returns is the same object each time, so it is looked up once per label set."""
        key = (id(metric), *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def observe(self, rec: ExecutionRecord) -> None:
        """Count one recorded attempt (called once per ``(execution_id, attempt)``)."""
        agent, model = rec.agent, rec.model
        child = self._child
        if rec.input_tokens:
            child(self.tokens, agent, model, "input").inc(rec.input_tokens)
        if rec.output_tokens:
            child(self.tokens, agent, model, "output").inc(rec.output_tokens)
        if rec.cache_write_tokens:
            child(self.tokens, agent, model, "cache_write").inc(rec.cache_write_tokens)
        if rec.cache_read_tokens:
            child(self.tokens, agent, model, "cache_read").inc(rec.cache_read_tokens)
        if rec.cost_pusd is None:
            child(self.cost_unknown, model).inc()
        elif rec.cost_pusd:
            child(self.cost, agent, model).inc(rec.cost_pusd / _PICO)
        if not rec.final:
            return
        cached = "true" if rec.cached else "false"
        simulated = "true" if rec.simulated else "false"
        child(self.executions, agent, model, rec.outcome, cached, simulated).inc()
        if rec.cached:
            child(self.cache_hits, agent).inc()
            if rec.saved_pusd:
                child(self.saved, agent).inc(rec.saved_pusd / _PICO)
        if rec.cached and rec.semantic:
            child(self.semantic_hits, agent).inc()
            if rec.saved_pusd:
                child(self.semantic_saved, agent).inc(rec.saved_pusd / _PICO)
        child(self.latency, agent, model).observe(rec.duration_us / 1e6)
        child(self.queue_wait, agent).observe(rec.queue_wait_us / 1e6)

    def on_event(self, event: Event) -> None:
        """Count a resilience event (executions are counted by :meth:`observe`)."""
        if isinstance(event, RetryScheduled):
            self.retries.labels(event.provider, event.model, event.reason).inc()
        elif isinstance(event, RetryGaveUp):
            self.retry_gave_up.labels(event.provider, event.model, event.reason).inc()
        elif isinstance(event, BreakerTransition):
            state = BREAKER_STATES.get(event.to_state, -1)
            self.breaker_state.labels(event.provider, event.model).set(state)
            self.breaker_transitions.labels(event.provider, event.model, event.to_state).inc()
        elif isinstance(event, BreakerRejected):
            self.breaker_rejected.labels(event.provider, event.model).inc()
        elif isinstance(event, RateLimitWait):
            self.rate_limit_waits.labels(event.model, event.limit).observe(event.wait_s)
        elif isinstance(event, ModelFallback):
            self.fallbacks.labels(event.from_model, event.to_model, event.reason).inc()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class StoreCollector(Collector):
    """Prometheus families computed from a metrics store at scrape time."""

    def __init__(self, store: MetricsStore, query: Query | None = None) -> None:
        self.store = store
        self.query = query or Query()

    def collect(self) -> Iterator[Metric]:
        cells = self.store.aggregate(self.query, by=("agent", "model", "outcome", "simulated"))

        def family(name: str, doc: str, labels: str = "agent model") -> CounterMetricFamily:
            return CounterMetricFamily(name, doc, labels=labels.split())

        executions = family(
            "claude_force_executions",
            "Finished agent executions.",
            "agent model outcome simulated",
        )
        # Not ``claude_force_retries``: the live registry's family of that name counts
        # RetryScheduled events by (provider, model, reason); the store counts the attempts that
        # did not end their execution (retries and fallbacks alike) by (agent, model).
        retries = family(
            "claude_force_retried_attempts",
            "Attempts that were retried or moved to a fallback model (from the store).",
        )
        tokens = family("claude_force_tokens", "Tokens used, by kind.", "agent model kind")
        cost = family("claude_force_cost_usd", "Cost in USD (known prices).")
        unknown = family("claude_force_cost_unknown", "Attempts whose model has no price.")
        hits = family("claude_force_cache_hits", "Executions answered from the cache.")
        saved = family("claude_force_saved_cost_usd", "USD saved by cache hits.")
        semantic_hits = family(
            "claude_force_semantic_cache_hits",
            "Executions answered by the semantic cache (part of the cache hits).",
        )
        semantic_saved = family(
            "claude_force_semantic_saved_cost_usd",
            "USD saved by semantic cache hits (part of the saved cost).",
        )
        latency = HistogramMetricFamily(
            "claude_force_execution_duration_seconds",
            "Wall time of an execution (from the store's log-scale histogram, ±1%).",
            labels=["agent", "model"],
        )
        per_am: dict[tuple[str, str], list[int]] = {}
        per_am_hist: dict[tuple[str, str], list[int]] = {}
        per_am_sum: dict[tuple[str, str], int] = {}
        for (agent, model, outcome, simulated), c in sorted(cells.items(), key=str):
            if c.executions:
                executions.add_metric([agent, model, outcome, str(simulated).lower()], c.executions)
            sums = per_am.setdefault((agent, model), [0] * 11)
            for i, v in enumerate(
                (
                    c.attempts - c.executions,
                    c.input_tokens,
                    c.output_tokens,
                    c.cache_write_tokens,
                    c.cache_read_tokens,
                    c.cost_pusd,
                    c.cost_unknown,
                    c.cached,
                    c.saved_pusd,
                    c.semantic_cached,
                    c.semantic_saved_pusd,
                )
            ):
                sums[i] += v
            counts = per_am_hist.setdefault((agent, model), [0] * (len(LATENCY_BUCKETS_S) + 1))
            for index, n in c.latency.buckets():
                seconds = bucket_value(index) / 1000
                slot = next(
                    (i for i, le in enumerate(LATENCY_BUCKETS_S) if seconds <= le),
                    len(LATENCY_BUCKETS_S),
                )
                counts[slot] += n
            per_am_sum[(agent, model)] = per_am_sum.get((agent, model), 0) + c.duration_us
        for (agent, model), s in per_am.items():
            labels = [agent, model]
            retries.add_metric(labels, s[0])
            for kind, v in zip(
                ("input", "output", "cache_write", "cache_read"), s[1:5], strict=True
            ):
                tokens.add_metric([*labels, kind], v)
            cost.add_metric(labels, s[5] / _PICO)
            unknown.add_metric(labels, s[6])
            hits.add_metric(labels, s[7])
            saved.add_metric(labels, s[8] / _PICO)
            semantic_hits.add_metric(labels, s[9])
            semantic_saved.add_metric(labels, s[10] / _PICO)
            counts = per_am_hist[(agent, model)]
            cumulative: list[tuple[str, float]] = []
            running = 0
            for le, n in zip((*map(str, LATENCY_BUCKETS_S), "+Inf"), counts, strict=True):
                running += n
                cumulative.append((le, running))
            latency.add_metric(labels, cumulative, per_am_sum[(agent, model)] / 1e6)
        yield from (executions, retries, tokens, cost, unknown, hits, saved)
        yield from (semantic_hits, semantic_saved, latency)


def store_exposition(store: MetricsStore, query: Query | None = None) -> bytes:
    """The Prometheus text exposition of a store's data."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(store, query))
    return generate_latest(registry)
