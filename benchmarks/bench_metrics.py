"""Issue 6 benchmarks: recording overhead on the request path, rollup storage savings, and the
speed of ``analytics summary`` over 90 days."""

from __future__ import annotations

import asyncio
import os
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from _harness import Result, median, percentile

TITLE = "Metrics: recording overhead, rollup storage, analytics speed"

END = datetime(2026, 11, 1, tzinfo=UTC)
AGENT_MODEL = {
    "python-expert": "claude-sonnet-5-5",
    "code-reviewer": "claude-sonnet-5-5",
    "security-specialist": "claude-opus-5-5",
    "bug-investigator": "claude-sonnet-5-5",
    "test-engineer": "claude-sonnet-5-5",
    "document-writer": "claude-haiku-5-5",
    "api-documenter": "claude-haiku-5-5",
    "backend-architect": "claude-opus-5-5",
    "database-architect": "claude-sonnet-5-5",
    "devops-architect": "claude-sonnet-5-5",
    "performance-engineer": "claude-sonnet-5-5",
    "refactoring-specialist": "claude-sonnet-5-5",
}
WORKFLOWS = {
    "code-quality-check": ["python-expert", "code-reviewer", "security-specialist", "document-writer"],
    "bug-fix": ["bug-investigator", "python-expert", "test-engineer", "code-reviewer"],
    "api-design": ["backend-architect", "database-architect", "api-documenter", "security-specialist"],
    "performance-review": ["performance-engineer", "database-architect", "python-expert", "code-reviewer"],
    "new-service": ["backend-architect", "database-architect", "python-expert", "test-engineer",
                    "devops-architect", "security-specialist", "document-writer"],
    "refactor": ["refactoring-specialist", "test-engineer", "code-reviewer"],
    "security-audit": ["security-specialist", "python-expert", "devops-architect", "document-writer"],
}  # fmt: skip
ERRORS = ("ServerError", "RateLimitError", "ProviderTimeoutError")


def workload(days: int, per_day: int, seed: int = 1) -> list:  # type: ignore[type-arg]
    """A realistic mix: the sample project's agents and workflows, 4% failures, 25% cache hits,
    5% of executions retried once; prices from the package's table."""
    from claude_force.catalog import builtin_catalog
    from claude_force.messages import Usage
    from claude_force.metrics.record import ExecutionRecord, to_pico, to_us

    prices = builtin_catalog().prices
    rng = random.Random(seed)
    start = END - timedelta(days=days)
    agents = list(AGENT_MODEL)
    out = []
    for i in range(days * per_day):
        started = start + timedelta(seconds=86400 * days * i / (days * per_day) + rng.random())
        if rng.random() < 0.6:
            wf = rng.choice(list(WORKFLOWS))
            position = rng.randrange(len(WORKFLOWS[wf]))
            agent: str = WORKFLOWS[wf][position]
        else:
            wf, position, agent = None, None, rng.choice(agents)  # type: ignore[assignment]
        model = AGENT_MODEL[agent] if rng.random() < 0.95 else "claude-haiku-5-5"
        r = rng.random()
        success = r >= 0.04
        error = None if success else ERRORS[int(r * 75) % 3]
        cached = success and rng.random() < 0.25
        usage = Usage(rng.randint(800, 6000), rng.randint(100, 2000)) if success else Usage()
        cost = prices.cost(model, usage, started.date())
        exec_id = f"{i:08x}{rng.getrandbits(64):016x}"
        attempt = 1
        if rng.random() < 0.05:
            out.append(
                ExecutionRecord(exec_id, agent, model, "anthropic", to_us(started), 0, False,
                                attempt=1, final=False, error_type="RateLimitError", cost_pusd=0,
                                workflow=wf, workflow_position=position, task_hash="0" * 16)
            )  # fmt: skip
            attempt = 2
        out.append(
            ExecutionRecord(
                exec_id,
                agent,
                model,
                "anthropic",
                to_us(started),
                int(rng.lognormvariate(15.2, 0.6)) if not cached else rng.randint(300, 3000),
                success,
                attempt=attempt,
                queue_wait_us=rng.randint(0, 20_000),
                error_type=error,
                input_tokens=usage.input_tokens,
                output_tokens=usage.output_tokens,
                cost_pusd=0 if cached else to_pico(cost),
                cached=cached,
                saved_pusd=to_pico(cost) if cached else None,
                workflow=wf,
                workflow_position=position,
                workflow_run_id=f"run{i // 4:08x}" if wf else None,
                step_id=f"step{position}" if wf else None,
                task_hash=f"{rng.getrandbits(64):016x}",
            )
        )
    return out


def _recording_overhead(n: int) -> list[float]:
    """Seconds per ``record_event`` (the request path) with the SQLite writer running."""
    from claude_force.events import ExecutionFinished
    from claude_force.messages import Usage
    from claude_force.metrics.sqlite_backend import SQLiteMetricsStore
    from claude_force.metrics.tracker import MetricsTracker

    with tempfile.TemporaryDirectory() as tmp:
        tracker = MetricsTracker(lambda: SQLiteMetricsStore(Path(tmp) / "m.db"))
        started = datetime.now(UTC)
        events = [
            ExecutionFinished(
                execution_id=f"bench-{i}",
                agent="python-expert",
                task=f"task {i}",
                model="claude-sonnet-5-5",
                provider="anthropic",
                success=True,
                started_at=started,
                duration_ms=1234.5,
                queue_wait_ms=0.5,
                usage=Usage(1500, 400, 0, 1200),
                cost_usd=Decimal("0.00712"),
                cached=False,
                simulated=False,
                workflow_name="bug-fix",
                workflow_position=1,
            )
            for i in range(n + 200)
        ]
        samples = []
        for i, ev in enumerate(events):
            t0 = time.perf_counter()
            tracker.record_event(ev)
            dt = time.perf_counter() - t0
            if i >= 200:
                samples.append(dt)
        tracker.flush()
        assert tracker.store.stats().raw_rows == n + 200
        tracker.close()
    return samples


async def _execute_overhead(n: int) -> tuple[float, float]:
    """Median seconds of a simulated (instant) execution with tracking off and on, interleaved
    so that machine noise hits both alike."""
    from claude_force import AsyncAgentOrchestrator
    from claude_force.providers.simulated import SimulatedProvider
    from claude_force.runner import RunOptions
    from claude_force.scaffold import init_project

    with tempfile.TemporaryDirectory() as tmp:
        config = init_project(Path(tmp))
        orchs = [
            AsyncAgentOrchestrator(
                config, provider=SimulatedProvider(latency="instant"), enable_tracking=tracking
            )
            for tracking in (False, True)
        ]
        times: list[list[float]] = [[], []]
        for i in range(n + 50):
            for k, orch in enumerate(orchs):
                t0 = time.perf_counter()
                await orch.execute("python-expert", f"task {k} {i}", RunOptions(use_cache=False))
                if i >= 50:
                    times[k].append(time.perf_counter() - t0)
        for orch in orchs:
            await orch.close()
    return median(times[0]), median(times[1])


def _storage_and_query(days: int, per_day: int) -> dict[str, float]:
    from claude_force.metrics.analytics import Analytics
    from claude_force.metrics.backend import Query
    from claude_force.metrics.record import to_us
    from claude_force.metrics.sqlite_backend import SQLiteMetricsStore
    from claude_force.metrics.tracker import rollup_cutoff

    records = workload(days, per_day)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "metrics.db"
        store = SQLiteMetricsStore(path)
        for i in range(0, len(records), 256):  # the writer's batch size
            store.upsert(records[i : i + 256])
        store.vacuum()  # compact the raw store too, for a fair comparison
        raw_bytes = os.path.getsize(path)
        a = Analytics(store)
        raw_summary = a.summary()
        raw_query = [_timed(lambda: a.summary(Query())) for _ in range(5)]
        t0 = time.perf_counter()
        report = store.rollup(rollup_cutoff(END, 7))  # what the daily automatic rollup does
        rollup_s = time.perf_counter() - t0
        rolled_bytes = os.path.getsize(path) + _wal(path)
        assert a.summary() == raw_summary, "rollup changed the summary"
        summary_s = [_timed(lambda: a.summary(Query())) for _ in range(20)]
        agents_s = [_timed(lambda: a.by_agent(Query())) for _ in range(10)]
        trend_s = [
            _timed(lambda: a.trends(Query(since_us=to_us(END - timedelta(days=90)))))
            for _ in range(5)
        ]
        stats = store.stats()
        store.vacuum()
        vacuumed = os.path.getsize(path)
        store.close()
    return {
        "raw_bytes": raw_bytes,
        "rolled_bytes": rolled_bytes,
        "vacuumed_bytes": vacuumed,
        "raw_rows": len(records),
        "raw_left": stats.raw_rows,
        "daily_rows": stats.daily_rows,
        "rolled": report.raw_rows_rolled,
        "rollup_s": rollup_s,
        "summary_p50": median(summary_s),
        "summary_max": max(summary_s),
        "raw_summary_p50": median(raw_query),
        "agents_p50": median(agents_s),
        "trend_p50": median(trend_s),
    }


def _timed(fn: object) -> float:
    t0 = time.perf_counter()
    fn()  # type: ignore[operator]
    return time.perf_counter() - t0


def _wal(path: Path) -> int:
    wal = Path(str(path) + "-wal")
    return os.path.getsize(wal) if wal.exists() else 0


def run(quick: bool) -> list[Result]:
    n = 5_000 if quick else 50_000
    rec = _recording_overhead(n)
    off, on = asyncio.run(_execute_overhead(300 if quick else 2000))
    s = _storage_and_query(90, 1000)
    ratio = s["rolled_bytes"] / s["raw_bytes"]
    return [
        Result(
            "record_event p50 (request path)",
            percentile(rec, 50) * 1e3,
            "ms",
            "≤ 0.2 ms",
            percentile(rec, 50) <= 0.0002,
            f"p99 {percentile(rec, 99) * 1e3:.3f} ms, n={n}; SQLite writer thread running",
        ),
        Result(
            "execute() with tracking − without (median)",
            (on - off) * 1e3,
            "ms",
            "",
            None,
            f"instant simulated model: {off * 1e3:.3f} → {on * 1e3:.3f} ms",
        ),
        Result(
            "storage after rollup / raw (90 d × 1,000/d)",
            ratio * 100,
            "%",
            "≤ 20%",
            ratio <= 0.20,
            f"{s['raw_bytes'] / 1e6:.1f} MB raw ({s['raw_rows']:,} rows) → "
            f"{s['rolled_bytes'] / 1e6:.2f} MB ({s['raw_left']:,} raw + {s['daily_rows']:,} daily "
            f"rows); {s['vacuumed_bytes'] / 1e6:.2f} MB after VACUUM",
        ),
        Result(
            "analytics summary, 90 days (p50)",
            s["summary_p50"] * 1e3,
            "ms",
            "≤ 50 ms",
            s["summary_p50"] <= 0.050,
            f"max {s['summary_max'] * 1e3:.1f} ms; all-raw store: {s['raw_summary_p50'] * 1e3:.1f} ms",
        ),
        Result("analytics agents, 90 days (p50)", s["agents_p50"] * 1e3, "ms", "", None),
        Result("analytics trends per day, 90 days (p50)", s["trend_p50"] * 1e3, "ms", "", None),
        Result(
            "rollup of 83 days",
            s["rollup_s"] * 1e3,
            "ms",
            "",
            None,
            f"{s['rolled']:,} raw rows folded, space reclaimed",
        ),
    ]
