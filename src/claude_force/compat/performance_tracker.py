"""``PerformanceTracker`` — the claude-force 1.x/2.2 tracking API, over the metrics store.

Kept for migrating users (see COMPAT.md and docs/metrics.md). Differences from 2.2, on purpose:

* Costs are exact, per **million** tokens, from the effective-dated price table (2.2 divided
  per-1K prices by a million: its costs were 1000× too low). An unknown model is warned about
  once and its cost counted as unknown (``estimated_cost`` 0.0 with ``cost_known`` False).
* The default ``metrics_dir`` (``.claude/metrics``) inside a project means *the project's*
  metrics store (``metrics.path`` in the state directory, SQLite), so a standalone tracker sees
  what the orchestrator recorded; its summaries cover everything retained there.
* Any other ``metrics_dir`` (or no project) works as in 2.2: the last ``max_entries`` executions
  in a bounded in-memory ring, which every summary covers, and each execution appended to
  ``metrics_file`` (``<metrics_dir>/executions.jsonl``) when ``enable_persistence`` is on
  (read back into the ring at start). A relative ``metrics_dir`` resolves against the project
  root, not the CWD.
* ``clear()`` deletes the tracker's stored metrics, the file's lines included (2.2 only emptied
  its in-memory list, and the data came back on the next start).
"""

from __future__ import annotations

import contextlib
import csv
import json
import logging
import os
import uuid
import warnings
from collections import deque
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from ..catalog import ModelCatalog, builtin_catalog
from ..clock import WALL_CLOCK, Clock, utcnow
from ..messages import Usage
from ..metrics.analytics import Analytics, Stats
from ..metrics.backend import MetricsStore, Query
from ..metrics.record import Cell, ExecutionRecord, Granularity, from_us, task_hash, to_pico, to_us
from ..metrics.ring import RingMetricsStore, append_line, read_lines, rewrite_lines
from ..metrics.settings import MetricsSettings
from ..metrics.tracker import MetricsTracker, store_for

DEFAULT_METRICS_DIR = ".claude/metrics"

log = logging.getLogger(__name__)


@dataclass
class ExecutionMetrics:
    """One recorded execution (fields of 2.2, then new ones)."""

    timestamp: str
    agent_name: str
    task_hash: str
    success: bool
    execution_time_ms: float
    model: str
    input_tokens: int
    output_tokens: int
    total_tokens: int
    estimated_cost: float
    error_type: str | None = None
    workflow_name: str | None = None
    workflow_position: int | None = None
    execution_id: str = ""
    cost_known: bool = True
    cached: bool = False
    simulated: bool = False
    cache_write_tokens: int = 0
    cache_read_tokens: int = 0

    @classmethod
    def of(cls, r: ExecutionRecord) -> ExecutionMetrics:
        return cls(
            timestamp=from_us(r.started_us + r.duration_us).isoformat(),
            agent_name=r.agent,
            task_hash=r.task_hash,
            success=r.success,
            execution_time_ms=r.duration_us / 1000,
            model=r.model,
            input_tokens=r.input_tokens,
            output_tokens=r.output_tokens,
            total_tokens=r.total_tokens,
            estimated_cost=float(r.cost_usd) if r.cost_usd is not None else 0.0,
            error_type=r.error_type,
            workflow_name=r.workflow,
            workflow_position=r.workflow_position,
            execution_id=r.execution_id,
            cost_known=r.cost_pusd is not None,
            cached=r.cached,
            simulated=r.simulated,
            cache_write_tokens=r.cache_write_tokens,
            cache_read_tokens=r.cache_read_tokens,
        )

    def to_record(self, catalog: ModelCatalog) -> ExecutionRecord:
        """The stored record of a line of ``executions.jsonl`` (ours, or 2.2's).

        2.2 wrote local times without a zone and costs 1000x too low: a line without an
        ``execution_id`` (2.2's) is re-priced from the price table (unknown when the table has
        no price for its model), and a naive time is taken as local time.
        """
        end = datetime.fromisoformat(self.timestamp)
        if end.tzinfo is None:
            end = end.astimezone()
        duration_us = max(0, round(float(self.execution_time_ms or 0.0) * 1000))
        started_us = to_us(end) - duration_us
        usage = Usage(
            self.input_tokens, self.output_tokens, self.cache_write_tokens, self.cache_read_tokens
        )
        if self.execution_id:
            pusd = to_pico(Decimal(str(self.estimated_cost))) if self.cost_known else None
        else:
            cost = catalog.prices.cost(self.model, usage, from_us(started_us).date())
            pusd = to_pico(cost) if cost is not None else (None if usage.total_tokens else 0)
        return ExecutionRecord(
            execution_id=self.execution_id or uuid.uuid4().hex,
            agent=self.agent_name,
            model=self.model or "unknown",
            provider="anthropic",
            started_us=started_us,
            duration_us=duration_us,
            success=bool(self.success),
            error_type=None if self.success else (self.error_type or "error"),
            input_tokens=self.input_tokens,
            output_tokens=self.output_tokens,
            cache_write_tokens=self.cache_write_tokens,
            cache_read_tokens=self.cache_read_tokens,
            cost_pusd=pusd,
            cached=self.cached,
            simulated=self.simulated,
            workflow=self.workflow_name,
            workflow_position=self.workflow_position,
            task_hash=self.task_hash,
        )

    @classmethod
    def from_line(cls, row: dict[str, Any]) -> ExecutionMetrics:
        """A line of ``executions.jsonl`` (unknown keys ignored, 2.2's missing ones defaulted)."""
        known = {k: v for k, v in row.items() if k in cls.__dataclass_fields__}
        return cls(**known)


def _project_root_and_catalog() -> tuple[Path | None, ModelCatalog, Any]:
    """The nearest project's root, catalog and settings (None/builtin when there is none)."""
    from ..config.discover import nearby_project

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        found = nearby_project()
    if found.project is None:  # none, or a broken claude.json: tracking goes on, prices built in
        return found.root, builtin_catalog(), None
    return found.root, found.project.catalog, found.project


class PerformanceTracker:
    """Track agent executions: tokens, exact costs, latency, success; summaries and exports."""

    def __init__(
        self,
        metrics_dir: str | os.PathLike[str] = DEFAULT_METRICS_DIR,
        max_entries: int = 10_000,
        enable_persistence: bool = True,
        *,
        tracker: MetricsTracker | None = None,
        clock: Clock = WALL_CLOCK,
    ) -> None:
        if isinstance(max_entries, bool) or not isinstance(max_entries, int) or max_entries < 1:
            raise ValueError(f"max_entries must be a positive integer, got {max_entries!r}")
        self.max_entries = max_entries
        self.enable_persistence = enable_persistence
        self.clock = clock
        #: the last ``max_entries`` executions recorded through this object (2.2's ring)
        self._cache: deque[ExecutionMetrics] = deque(maxlen=max_entries)
        self._summary_cache: dict[str, Any] | None = None
        self._cache_dirty = True
        self._owns_tracker = tracker is None
        self._metrics_dir: Path | None = None
        self._ring: RingMetricsStore | None = None
        #: the JSON Lines file of a tracker with its own ``metrics_dir`` (written only when
        #: ``enable_persistence`` is on); ``None`` for a view of the project's metrics store
        self.metrics_file: Path | None = None
        if tracker is not None:
            self.tracker = tracker
            return
        root, catalog, project = _project_root_and_catalog()
        given = Path(metrics_dir).expanduser()
        self._metrics_dir = given if given.is_absolute() else (root or Path.cwd()) / given
        settings = MetricsSettings()
        store: MetricsStore
        if (
            enable_persistence
            and project is not None
            and os.fspath(metrics_dir) == DEFAULT_METRICS_DIR
        ):
            settings = project.settings.metrics
            store = store_for(settings, project.state_dir)
            self._metrics_dir = Path(store.location).parent
        else:
            store = self._ring = RingMetricsStore(max_entries)
            self.metrics_file = self._metrics_dir / "executions.jsonl"
        self.tracker = MetricsTracker(store, settings=settings, catalog=catalog, clock=clock)
        if self._ring is not None and enable_persistence:
            self._load_file()

    def _load_file(self) -> None:
        """Fill the ring with the newest ``max_entries`` lines of ``metrics_file`` (2.2 did)."""
        assert self._ring is not None and self.metrics_file is not None
        rows = read_lines(self.metrics_file)[-self.max_entries :]
        records = []
        for row in rows:
            try:
                metrics = ExecutionMetrics.from_line(row)
                records.append(metrics.to_record(self.tracker.catalog))
            except (TypeError, ValueError, ArithmeticError) as exc:
                log.warning(
                    "%s: skipped a line that is not an execution (%s)", self.metrics_file, exc
                )
                continue
            self._cache.append(metrics)
        self._ring.upsert(records)

    @property
    def metrics_dir(self) -> Path:
        """The folder of the metrics database (the state directory for the project's store)."""
        if self._metrics_dir is None:
            location = self.tracker.store.location
            self._metrics_dir = Path.cwd() if location == ":memory:" else Path(location).parent
        return self._metrics_dir

    @property
    def store(self) -> MetricsStore:
        return self.tracker.store

    # --- recording ------------------------------------------------------------------------------

    def record_execution(
        self,
        agent_name: str,
        task: str,
        success: bool,
        duration_ms: float | None = None,
        model: str = "",
        input_tokens: int = 0,
        output_tokens: int = 0,
        error_type: str | None = None,
        workflow_name: str | None = None,
        workflow_position: int | None = None,
        execution_time_ms: float | None = None,
        *,
        cache_write_tokens: int = 0,
        cache_read_tokens: int = 0,
    ) -> ExecutionMetrics:
        """Record one execution; the cost is computed from today's price of ``model``."""
        duration = duration_ms if duration_ms is not None else (execution_time_ms or 0.0)
        model = model or "unknown"
        end_us = to_us(utcnow(self.clock))
        duration_us = max(0, round(duration * 1000))
        usage = Usage(input_tokens, output_tokens, cache_write_tokens, cache_read_tokens)
        catalog = self.tracker.catalog
        # the price in force on the execution's UTC start date (as the runner prices it)
        cost = catalog.prices.cost(model, usage, from_us(end_us - duration_us).date())
        if cost is None and usage.total_tokens:
            catalog.warn_unpriced(model)
        rec = ExecutionRecord(
            execution_id=uuid.uuid4().hex,
            agent=agent_name,
            model=model,
            provider="anthropic",
            started_us=end_us - duration_us,
            duration_us=duration_us,
            success=success,
            error_type=None if success else (error_type or "error"),
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cache_write_tokens=cache_write_tokens,
            cache_read_tokens=cache_read_tokens,
            cost_pusd=to_pico(cost) if cost is not None else (None if usage.total_tokens else 0),
            workflow=workflow_name,
            workflow_position=workflow_position,
            task_hash=task_hash(task),
        )
        self.tracker.record(rec)
        metrics = ExecutionMetrics.of(rec)
        self._cache.append(metrics)
        self._cache_dirty = True
        if self._ring is not None and self.enable_persistence and self.metrics_file is not None:
            append_line(self.metrics_file, asdict(metrics))
        return metrics

    def _task_hash(self, task: str) -> str:
        """The digest that ``task_hash`` holds for ``task`` (tasks themselves are never kept)."""
        return task_hash(task)

    # --- queries --------------------------------------------------------------------------------

    def _analytics(self) -> Analytics:
        return self.tracker.analytics()

    def _since(self, hours: float | None) -> Query:
        if not hours:
            return Query()
        return Query(since_us=to_us(utcnow(self.clock) - timedelta(hours=hours)))

    def get_summary(self, hours: float | None = None) -> dict[str, Any]:
        """Totals over the ring (or the project's store), or its last ``hours`` (2.2 keys plus
        new ones). Over the ring, an unchanged tracker returns the same summary object (2.2)."""
        if hours or self._ring is None:
            return self._compute_summary(hours)
        if self._cache_dirty or self._summary_cache is None:
            self._summary_cache = self._compute_summary(None)
            self._cache_dirty = False
        return self._summary_cache

    def _compute_summary(self, hours: float | None) -> dict[str, Any]:
        s = self._analytics().summary(self._since(hours))
        base: dict[str, Any] = {
            "total_executions": s.executions,
            "successful_executions": s.successes,
            "failed_executions": s.failures,
            "success_rate": s.success_rate,
            "total_tokens": s.total_tokens,
            "total_input_tokens": s.input_tokens,
            "total_output_tokens": s.output_tokens,
            "total_cost": float(s.cost_usd),
            "avg_execution_time_ms": s.avg_duration_ms or 0.0,
            "avg_cost_per_execution": float(s.cost_usd) / s.executions if s.executions else 0.0,
            "time_period": f"last {hours:g} hours" if hours else "all time",
            "in_memory_count": self._in_memory(),
            "max_entries": self.max_entries,
            "memory_usage_mb": self._in_memory() * 1024 / (1024 * 1024),  # 2.2's ~1 KB each
        }
        extra = s.to_dict()
        for key in ("cost_usd", "cost_usd_exact", "executions", "successes", "failures"):
            extra.pop(key)
        return {**base, **extra}

    def _in_memory(self) -> int:
        return len(self._ring) if self._ring is not None else len(self._cache)

    def get_agent_stats(self, agent_name: str | None = None) -> dict[str, Any]:
        """Per-agent figures: ``{agent: {executions, success_rate, total_cost, …}}``."""
        q = Query(agent=agent_name) if agent_name else Query()
        out: dict[str, Any] = {}
        for g in self._analytics().by_agent(q):
            out[g.name] = _agent_dict(g.stats)
        return out

    def get_cost_breakdown(self) -> dict[str, Any]:
        """Cost by agent and by model (most expensive first) and the total, in USD."""
        a = self._analytics()
        by_agent = {g.name: float(g.stats.cost_usd) for g in a.by_agent()}
        by_model = {g.name: float(g.stats.cost_usd) for g in a.by_model()}
        total = a.summary()
        return {
            "by_agent": by_agent,
            "by_model": by_model,
            "total": float(total.cost_usd),
            "total_exact": str(total.cost_usd.normalize()),
            "unknown_cost_attempts": total.cost_unknown,
            "saved_by_cache": float(total.saved_usd),
        }

    def get_trends(self, interval_hours: int = 24) -> dict[str, list[Any]]:
        """Executions, cost and success rate per ``interval_hours`` window (UTC-aligned)."""
        if interval_hours < 1:
            raise ValueError(f"interval_hours must be at least 1, got {interval_hours}")
        self.tracker.flush()
        granularity: Granularity = "day" if interval_hours % 24 == 0 else "hour"
        cells = self.store.aggregate(Query(), by=("period",), granularity=granularity)
        size = interval_hours * 3_600_000_000
        windows: dict[int, Cell] = {}
        for (start,), cell in cells.items():
            w = windows.setdefault(start - start % size, Cell())
            w.merge(cell)
        trend: dict[str, list[Any]] = {
            "timestamps": [],
            "executions": [],
            "costs": [],
            "success_rates": [],
        }
        for start in sorted(windows):
            stats = Stats.of(windows[start])
            trend["timestamps"].append(from_us(start).isoformat())
            trend["executions"].append(stats.executions)
            trend["costs"].append(float(stats.cost_usd))
            trend["success_rates"].append(stats.success_rate)
        return trend

    def _executions(self) -> list[ExecutionMetrics]:
        self.tracker.flush()
        return [ExecutionMetrics.of(r) for r in self.store.records(Query()) if r.final]

    def export_json(self, output_path: str | os.PathLike[str]) -> None:
        """Summary, per-agent stats, costs, trends, raw executions and daily rollups as JSON."""
        path = Path(output_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        a = self._analytics()
        data = {
            "summary": self.get_summary(),
            "agent_stats": self.get_agent_stats(),
            "cost_breakdown": self.get_cost_breakdown(),
            "trends": self.get_trends(),
            "executions": [asdict(m) for m in self._executions()],
            "daily": json.loads(a.export())["daily"],
        }
        path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")

    def export_csv(self, output_path: str | os.PathLike[str]) -> None:
        """Raw executions, one row each (2.2 columns first)."""
        path = Path(output_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        rows = self._executions()
        fields = list(asdict(rows[0])) if rows else list(ExecutionMetrics.__dataclass_fields__)
        with path.open("w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=fields)
            writer.writeheader()
            for m in rows:
                writer.writerow(asdict(m))

    # --- maintenance ----------------------------------------------------------------------------

    def clear(self) -> None:
        """Delete every metric this tracker holds: memory, store, and ``metrics_file``'s lines."""
        self.tracker.flush()
        self.store.clear()
        self._cache.clear()
        self._summary_cache = None
        self._cache_dirty = True
        if self._ring is not None and self.metrics_file is not None and self.metrics_file.exists():
            rewrite_lines(self.metrics_file, [])

    def clear_old_metrics(self, days: int = 30) -> int:
        """Delete metrics older than ``days``; returns how many.

        With a ring and ``metrics_file``, the file keeps every newer line — also those the ring
        had no room for — and the ring is refilled from it (2.2's behaviour: no data loss).
        """
        self.tracker.flush()
        cutoff_dt = utcnow(self.clock) - timedelta(days=days)
        cutoff = to_us(cutoff_dt)
        self._cache = deque(
            (m for m in self._cache if _end(m) > cutoff_dt), maxlen=self.max_entries
        )
        self._summary_cache = None
        self._cache_dirty = True
        if self._ring is None:
            return self.store.delete_before(cutoff)
        if not (self.enable_persistence and self.metrics_file is not None):
            return self.store.delete_before(cutoff)
        rows = read_lines(self.metrics_file)
        kept = [r for r in rows if _line_end(r) > cutoff_dt]
        rewrite_lines(self.metrics_file, kept)
        self.store.clear()
        self._cache.clear()
        self._load_file()
        return len(rows) - len(kept)

    def flush(self) -> None:
        self.tracker.flush()

    def close(self) -> None:
        """Flush and close (only a tracker this object created itself)."""
        if self._owns_tracker:
            with contextlib.suppress(Exception):
                self.tracker.close()
        else:
            self.tracker.flush()


def _end(m: ExecutionMetrics) -> datetime:
    end = datetime.fromisoformat(m.timestamp)
    return end if end.tzinfo is not None else end.astimezone()


def _line_end(row: dict[str, Any]) -> datetime:
    """When a line's execution ended; a line without a readable time counts as old."""
    try:
        end = datetime.fromisoformat(str(row["timestamp"]))
    except (KeyError, ValueError):
        return datetime.min.replace(tzinfo=UTC)
    return end if end.tzinfo is not None else end.astimezone()


def _agent_dict(s: Stats) -> dict[str, Any]:
    return {
        "executions": s.executions,
        "success_rate": s.success_rate,
        "total_cost": float(s.cost_usd),
        "avg_execution_time_ms": s.avg_duration_ms or 0.0,
        "total_tokens": s.total_tokens,
        "p50_ms": s.p50_ms,
        "p95_ms": s.p95_ms,
        "p99_ms": s.p99_ms,
        "cache_hit_rate": s.cache_hit_rate,
        "retries": s.retries,
    }


def get_tracker(
    metrics_dir: str | os.PathLike[str] = DEFAULT_METRICS_DIR,
    max_entries: int = 10_000,
    enable_persistence: bool = True,
) -> PerformanceTracker:
    """A :class:`PerformanceTracker` (factory kept from 2.2)."""
    return PerformanceTracker(
        metrics_dir, max_entries=max_entries, enable_persistence=enable_persistence
    )


__all__ = ["ExecutionMetrics", "PerformanceTracker", "get_tracker"]
