"""``PerformanceTracker`` — the claude-force 1.x/2.2 tracking API, over the metrics store.

Kept for migrating users (see COMPAT.md and docs/metrics.md). Differences from 2.2, on purpose:

* Costs are exact, per **million** tokens, from the effective-dated price table (2.2 divided
  per-1K prices by a million: its costs were 1000× too low). An unknown model is warned about
  once and its cost counted as unknown (``estimated_cost`` 0.0 with ``cost_known`` False).
* Data lives in the SQLite metrics store (raw rows + daily rollups), not ``executions.jsonl``.
  The default ``metrics_dir`` (``.claude/metrics``) means *the project's* metrics store
  (``metrics.path`` in the state directory), so a standalone tracker sees what the orchestrator
  recorded. Another relative ``metrics_dir`` resolves against the project root, not the CWD.
* ``clear()`` deletes the tracker's stored metrics (2.2 only emptied its in-memory list, and
  the data came back on the next start).
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import uuid
import warnings
from collections import deque
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from .catalog import ModelCatalog, builtin_catalog
from .clock import WALL_CLOCK, Clock, utcnow
from .messages import Usage
from .metrics.analytics import Analytics, Stats
from .metrics.record import Cell, ExecutionRecord, Granularity, from_us, task_hash, to_pico, to_us
from .metrics.settings import MetricsSettings
from .metrics.sqlite_store import SQLiteMetricsStore
from .metrics.store import MemoryMetricsStore, MetricsStore, Query
from .metrics.tracker import MetricsTracker, store_for

DEFAULT_METRICS_DIR = ".claude/metrics"


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


def _project_root_and_catalog() -> tuple[Path | None, ModelCatalog, Any]:
    """The nearest project's root, catalog and settings (None/builtin when there is none)."""
    from .config.discover import nearby_project

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
        self.max_entries = max_entries
        self.enable_persistence = enable_persistence
        self.clock = clock
        self._recent: deque[ExecutionMetrics] = deque(maxlen=max_entries)
        self._owns_tracker = tracker is None
        self._metrics_dir: Path | None = None
        if tracker is not None:
            self.tracker = tracker
            return
        root, catalog, project = _project_root_and_catalog()
        given = Path(metrics_dir).expanduser()
        self._metrics_dir = given if given.is_absolute() else (root or Path.cwd()) / given
        settings = MetricsSettings()
        store: MetricsStore
        if not enable_persistence:
            store = MemoryMetricsStore()
        elif project is not None and os.fspath(metrics_dir) == DEFAULT_METRICS_DIR:
            settings = project.settings.metrics
            store = store_for(settings, project.state_dir)
            self._metrics_dir = Path(store.location).parent
        else:
            store = SQLiteMetricsStore(self._metrics_dir / "metrics.db")
        self.tracker = MetricsTracker(store, settings=settings, catalog=catalog, clock=clock)

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
        self._recent.append(metrics)
        return metrics

    # --- queries --------------------------------------------------------------------------------

    def _analytics(self) -> Analytics:
        return self.tracker.analytics()

    def _since(self, hours: float | None) -> Query:
        if not hours:
            return Query()
        return Query(since_us=to_us(utcnow(self.clock) - timedelta(hours=hours)))

    def get_summary(self, hours: float | None = None) -> dict[str, Any]:
        """Totals over all retained data, or the last ``hours`` (2.2 keys plus new ones)."""
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
            "in_memory_count": len(self._recent),
            "max_entries": self.max_entries,
            "memory_usage_mb": len(self._recent) * 1024 / (1024 * 1024),
        }
        extra = s.to_dict()
        for key in ("cost_usd", "cost_usd_exact", "executions", "successes", "failures"):
            extra.pop(key)
        return {**base, **extra}

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
        """Delete every metric this tracker's store holds."""
        self.tracker.flush()
        self.store.clear()
        self._recent.clear()

    def clear_old_metrics(self, days: int = 30) -> int:
        """Delete metrics older than ``days`` (raw rows and daily rollups); returns how many."""
        self.tracker.flush()
        cutoff = to_us(utcnow(self.clock) - timedelta(days=days))
        self._recent = deque(
            (m for m in self._recent if datetime.fromisoformat(m.timestamp) >= from_us(cutoff)),
            maxlen=self.max_entries,
        )
        return self.store.delete_before(cutoff)

    def flush(self) -> None:
        self.tracker.flush()

    def close(self) -> None:
        """Flush and close (only a tracker this object created itself)."""
        if self._owns_tracker:
            with contextlib.suppress(Exception):
                self.tracker.close()
        else:
            self.tracker.flush()


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
    metrics_dir: str | os.PathLike[str] = DEFAULT_METRICS_DIR, max_entries: int = 10_000
) -> PerformanceTracker:
    """A :class:`PerformanceTracker` (factory kept from 2.2)."""
    return PerformanceTracker(metrics_dir, max_entries=max_entries)


__all__ = ["ExecutionMetrics", "PerformanceTracker", "get_tracker"]
