"""The dashboard's questions, answered from the project's metrics store (blocking: the routes
call these through ``asyncio.to_thread``).

Everything here reads what *any* process wrote to the store — the CLI, the Python API, this
server, other servers — so the page shows the project, not one process. Each question is one
or two indexed queries: series and groups are ``GROUP BY`` aggregates over a ``started_us``
range (see :meth:`~claude_force.metrics.backend.MetricsStore.aggregate`), the newest executions
an index range scan read backwards, one execution a unique-index lookup.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from ..errors import ConfigurationError
from ..metrics.analytics import Stats
from ..metrics.backend import MetricsStore, Query
from ..metrics.record import Cell, ExecutionRecord, from_us

RangeName = Literal["15m", "1h", "24h", "7d", "30d"]


@dataclass(frozen=True, slots=True)
class Range:
    name: str
    seconds: int
    bucket_s: int  # divides a day, so buckets line up with UTC days (and rolled-up rows)


RANGES: dict[str, Range] = {
    r.name: r
    for r in (
        Range("15m", 15 * 60, 30),
        Range("1h", 3600, 60),
        Range("24h", 86_400, 3600),
        Range("7d", 7 * 86_400, 3 * 3600),
        Range("30d", 30 * 86_400, 86_400),
    )
}
MAX_ROWS = 500


def range_of(name: str) -> Range:
    found = RANGES.get(name)
    if found is None:
        raise ConfigurationError(
            f"unknown range '{name}'", key="range", hint=f"use one of {', '.join(RANGES)}"
        )
    return found


def _window(rng: Range, now_us: int) -> tuple[int, int]:
    """``[since, until)`` in µs: whole buckets, the last one containing ``now``."""
    size = rng.bucket_s * 1_000_000
    until = now_us - now_us % size + size
    return until - (rng.seconds // rng.bucket_s) * size, until


def _usd(pico: int) -> float:
    return pico / 1e12


def _point(t_us: int, cell: Cell) -> dict[str, Any]:
    n = cell.executions
    return {
        "t": t_us // 1_000_000,
        "executions": n,
        "errors": n - cell.successes,
        "retries": cell.attempts - n,
        "p50_ms": _round(cell.latency.quantile(0.50)),
        "p95_ms": _round(cell.latency.quantile(0.95)),
        "cost_usd": _usd(cell.cost_pusd),
        "cache_hits": cell.cached,
        "cache_hit_rate": round(cell.cached / n, 6) if n else None,
        "saved_usd": _usd(cell.saved_pusd),
        "semantic_hits": cell.semantic_cached,
        "semantic_saved_usd": _usd(cell.semantic_saved_pusd),
        "avg_queue_wait_ms": _round(cell.queue_wait_us / n / 1000) if n else None,
    }


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 3)


def overview(store: MetricsStore, range_name: str, now_us: int) -> dict[str, Any]:
    """Totals of the range, one point per bucket (empty buckets included), cost by agent and
    by model."""
    rng = range_of(range_name)
    since, until = _window(rng, now_us)
    q = Query(since_us=since, until_us=until)
    size = rng.bucket_s * 1_000_000
    cells = store.aggregate(q, ("period",), granularity=size)
    total = Cell()
    series = []
    for t in range(since, until, size):
        cell = cells.get((t,), Cell())
        total.merge(cell)
        series.append(_point(t, cell))
    totals = Stats.of(total).to_dict()
    return {
        "range": rng.name,
        "bucket_s": rng.bucket_s,
        "since": from_us(since).isoformat(),
        "until": from_us(until).isoformat(),
        "totals": totals,
        "series": series,
        "by_agent": _groups(store, q, "agent"),
        "by_model": _groups(store, q, "model"),
    }


def _groups(store: MetricsStore, q: Query, dim: Literal["agent", "model"]) -> list[dict[str, Any]]:
    cells = store.aggregate(q, (dim,), latency=False)  # the bars need no percentiles
    out = []
    for (name,), cell in cells.items():
        stats = Stats.of(cell)
        out.append(
            {
                "name": name,
                "executions": stats.executions,
                "failures": stats.failures,
                "cost_usd": float(stats.cost_usd),
                "saved_usd": float(stats.saved_usd),
                "cache_hit_rate": round(stats.cache_hit_rate, 6),
                "tokens": stats.total_tokens,
            }
        )
    out.sort(key=lambda g: (-g["cost_usd"], -g["executions"], g["name"]))
    return out


def execution_row(r: ExecutionRecord) -> dict[str, Any]:
    """One execution as the dashboard's table shows it (its final attempt). ``duration_ms`` is
    the service time (from a concurrency slot to the answer); ``queue_wait_ms`` came before it."""
    return {
        "execution_id": r.execution_id,
        "started_at": r.started_at.isoformat(),
        "agent": r.agent,
        "model": r.model,
        "provider": r.provider,
        "workflow": r.workflow,
        "workflow_run_id": r.workflow_run_id,
        "step_id": r.step_id,
        "success": r.success,
        "error_type": r.error_type,
        "attempts": r.attempt,
        "duration_ms": r.duration_us / 1000,
        "queue_wait_ms": r.queue_wait_us / 1000,
        "service_ms": r.duration_us / 1000,
        "total_ms": (r.duration_us + r.queue_wait_us) / 1000,
        "input_tokens": r.input_tokens,
        "output_tokens": r.output_tokens,
        "cache_write_tokens": r.cache_write_tokens,
        "cache_read_tokens": r.cache_read_tokens,
        "total_tokens": r.total_tokens,
        "cost_usd": None if r.cost_pusd is None else _usd(r.cost_pusd),
        "cached": r.cached,
        "cache_match": r.cache_match,
        "saved_usd": None if r.saved_pusd is None else _usd(r.saved_pusd),
        "simulated": r.simulated,
    }


def executions(
    store: MetricsStore,
    range_name: str,
    now_us: int,
    *,
    limit: int = 50,
    agent: str | None = None,
    model: str | None = None,
    failed_only: bool = False,
) -> dict[str, Any]:
    """The newest executions of the range (final attempts), newest first."""
    rng = range_of(range_name)
    since, until = _window(rng, now_us)
    limit = max(1, min(int(limit), MAX_ROWS))
    q = Query(since_us=since, until_us=until, agent=agent or None, model=model or None)
    rows = store.recent(q, limit, failed_only=failed_only)
    return {"range": rng.name, "executions": [execution_row(r) for r in rows]}


def execution_detail(store: MetricsStore, execution_id: str) -> dict[str, Any] | None:
    """Everything stored about one execution: its attempts, timings, tokens, cost, cache, and
    its note (retry/fallback/rate-limit events, error, routing; text only when kept)."""
    attempts = store.attempts(execution_id)
    final = next((a for a in attempts if a.final), None)
    if final is None:
        return None
    note = store.note(execution_id) or {}
    return {
        **execution_row(final),
        "attempt_rows": [
            {
                "attempt": a.attempt,
                "final": a.final,
                "started_at": a.started_at.isoformat(),
                "model": a.model,
                "provider": a.provider,
                "success": a.success,
                "error_type": a.error_type,
                "duration_ms": a.duration_us / 1000,
                "cost_usd": None if a.cost_pusd is None else _usd(a.cost_pusd),
            }
            for a in attempts
        ],
        "events": note.get("events", []),
        "error": note.get("error"),
        "routing": note.get("routing"),
        "request_id": note.get("request_id"),
        "stop_reason": note.get("stop_reason"),
        "task": note.get("task"),
        "output": note.get("output"),
        "text_kept": "task" in note,
        "task_hash": final.task_hash,
    }
