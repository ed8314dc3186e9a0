"""The tracker: events → records (attempts, saved cost), rollup scheduling, Prometheus,
and its wiring into the orchestrators."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from blockbuster import blockbuster_ctx
from prometheus_client.parser import text_string_to_metric_families

from _metrics_data import T0, make_records
from claude_force.async_orchestrator import AsyncAgentOrchestrator
from claude_force.clock import VirtualClock, utcnow
from claude_force.config import load_project
from claude_force.events import (
    BreakerRejected,
    BreakerTransition,
    EventBus,
    ExecutionFinished,
    ModelFallback,
    RateLimitWait,
    RetryGaveUp,
    RetryScheduled,
)
from claude_force.messages import Usage
from claude_force.metrics.analytics import Analytics
from claude_force.metrics.backend import LAST_ROLLUP, Query
from claude_force.metrics.memory_backend import MemoryMetricsStore
from claude_force.metrics.prometheus import PrometheusMetrics, store_exposition
from claude_force.metrics.record import to_us
from claude_force.metrics.settings import MetricsSettings
from claude_force.metrics.sqlite_backend import SQLiteMetricsStore
from claude_force.metrics.tracker import MetricsTracker, rollup_cutoff, rollup_due
from claude_force.orchestrator import AgentOrchestrator


def finished(
    execution_id: str = "e1",
    *,
    success: bool = True,
    cached: bool = False,
    cost: Decimal | None = Decimal("0.012"),
    model: str = "claude-sonnet-5-5",
    started: datetime = T0,
    **kw: object,
) -> ExecutionFinished:
    return ExecutionFinished(
        execution_id=execution_id,
        agent="python-expert",
        task="secret task text",
        model=model,
        provider="anthropic",
        success=success,
        started_at=started,
        duration_ms=1234.5,
        queue_wait_ms=2.5,
        usage=kw.pop("usage", Usage(1000, 1000)),  # type: ignore[arg-type]
        cost_usd=cost,
        cached=cached,
        simulated=False,
        error_type=None if success else "ServerError",
        **kw,  # type: ignore[arg-type]
    )


def tracker(**settings: object) -> MetricsTracker:
    return MetricsTracker(MemoryMetricsStore(), settings=MetricsSettings(**settings))  # type: ignore[arg-type]


def watched(**settings: object) -> MetricsTracker:
    """A tracker whose live Prometheus series were asked for before it records (they count from
    their first use)."""
    t = tracker(**settings)
    assert t.prometheus.registry is not None
    return t


def test_a_finished_event_becomes_one_record_with_everything() -> None:
    t = tracker()
    t.record_event(
        finished(workflow_name="wf", workflow_position=2, workflow_run_id="run1", step_id="s2")
    )
    t.flush()
    [rec] = list(t.store.records(Query()))
    assert rec.execution_id == "e1" and rec.attempt == 1 and rec.final
    assert (rec.duration_us, rec.queue_wait_us) == (1_234_500, 2500)
    assert rec.cost_usd == Decimal("0.012")
    assert (rec.workflow, rec.workflow_position, rec.workflow_run_id, rec.step_id) == (
        "wf",
        2,
        "run1",
        "s2",
    )
    assert "secret" not in json.dumps(rec.to_dict())  # tasks are stored as a digest only
    assert rec.started_at == T0
    t.close()


def test_the_usual_record_is_built_on_the_writer_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing counted live, no failed attempt, a priced model: the caller only queues the
    event; the writer thread builds the same record ``record_of`` would (yielding the GIL every
    ``YIELD_EVERY`` records)."""
    import threading

    from claude_force.metrics import tracker as tracker_mod

    t = tracker()
    built_on: list[str] = []
    build = t._build

    def on_thread(event: ExecutionFinished, attempt: int) -> Any:
        built_on.append(threading.current_thread().name)
        return build(event, attempt)

    monkeypatch.setattr(t, "_build", on_thread)
    yields: list[float] = []
    monkeypatch.setattr(tracker_mod, "YIELD_EVERY", 2)
    monkeypatch.setattr(tracker_mod.time, "sleep", lambda s: yields.append(s))
    for i in range(5):
        t.record_event(finished(f"e{i}"))
    t.flush()
    assert built_on == ["claude-force-metrics"] * 5 and yields == [0, 0]
    recs = sorted(t.store.records(Query()), key=lambda r: r.execution_id)
    expected = build(finished("e0"), 1)
    assert recs[0] == expected and len(recs) == 5
    # an unpriced model is built (and warned about) on the caller's thread
    built_on.clear()
    with pytest.warns(UserWarning, match="claude-mystery-1"):
        t.record_event(finished("u1", cost=None, model="claude-mystery-1"))
    assert built_on == [threading.current_thread().name]
    t.close()


async def test_an_execution_reaches_the_tracker_once_through_the_bus() -> None:
    bus = EventBus()
    t = watched()
    t.subscribe(bus)
    bus.emit(finished())  # the one path: the bus subscription
    assert await t.aflush()
    assert t.store.stats().raw_rows == 1
    assert (
        t.prometheus.registry.get_sample_value(
            "claude_force_executions_total",
            {
                "agent": "python-expert",
                "model": "claude-sonnet-5-5",
                "outcome": "success",
                "cached": "false",
                "simulated": "false",
            },
        )
        == 1
    )
    await t.aclose()
    bus.emit(finished("e2"))  # unsubscribed on close
    assert t.store.stats().raw_rows == 1


def test_retries_are_recorded_as_earlier_attempts() -> None:
    t = watched()
    for attempt in (1, 2):
        t.record_event(
            RetryScheduled(
                "anthropic",
                "claude-sonnet-5-5",
                attempt,
                0.5,
                "backoff",
                "RateLimitError",
                429,
                "python-expert",
                "e1",
            )
        )
    t.record_event(finished("e1"))
    t.record_event(finished("e1"))  # a repeat keeps the same attempt number
    t.record_event(RetryGaveUp("anthropic", "m", 3, "max_attempts", "ServerError", 500, "a", "e2"))
    t.record_event(finished("e2", success=False, cost=None, usage=Usage()))
    t.record_event(RetryScheduled("anthropic", "m", 1, 0.1, "backoff", "X"))  # no id: not stored
    t.flush()
    recs = sorted(t.store.records(Query()), key=lambda r: r.key)
    assert [(r.execution_id, r.attempt, r.final) for r in recs] == [
        ("e1", 1, False),
        ("e1", 2, False),
        ("e1", 3, True),
        ("e2", 3, True),
    ]
    s = Analytics(t.store).summary()
    assert (s.executions, s.attempts, s.retries, s.failures) == (2, 4, 2, 1)
    assert s.cost_unknown == 0  # the failed execution used no tokens → cost 0, not unknown
    assert (
        t.prometheus.registry.get_sample_value(
            "claude_force_retries_total",
            {"provider": "anthropic", "model": "claude-sonnet-5-5", "reason": "backoff"},
        )
        == 2
    )
    t.close()


def test_attempts_on_a_fallback_model_get_their_own_numbers_and_the_workflow() -> None:
    """Retries restart at 1 on the fallback model: the rows must not overwrite model A's."""
    clock = VirtualClock(T0)
    t = MetricsTracker(MemoryMetricsStore(), clock=clock)
    a, b = "claude-opus-5-5", "claude-sonnet-5-5"

    def retry(model: str, attempt: int) -> RetryScheduled:
        clock.advance(timedelta(seconds=1).total_seconds())
        return RetryScheduled("anthropic", model, attempt, 0.1, "backoff", "ServerError", 500,
                              "python-expert", "e1")  # fmt: skip

    t.record_event(retry(a, 1))
    t.record_event(retry(a, 2))
    t.record_event(RetryGaveUp("anthropic", a, 3, "max_attempts", "ServerError", 500, "x", "e1"))
    t.record_event(ModelFallback(a, b, "ServerError", "python-expert", "e1"))
    t.record_event(retry(b, 1))
    done = finished("e1", model=b, workflow_name="bug-fix", workflow_position=2,
                    workflow_run_id="run1", step_id="fix")  # fmt: skip
    t.record_event(done)
    t.record_event(retry(b, 2))  # a late event of a finished execution is ignored
    t.flush()
    recs = sorted(t.store.records(Query()), key=lambda r: r.key)
    assert [(r.attempt, r.model, r.final, r.error_type) for r in recs] == [
        (1, a, False, "ServerError"),
        (2, a, False, "ServerError"),
        (3, a, False, "ServerError"),  # the attempt given up for the fallback model
        (4, b, False, "ServerError"),
        (5, b, True, None),
    ]
    assert [r.started_us for r in recs[:4]] == sorted(r.started_us for r in recs[:4])
    assert {(r.workflow, r.step_id, r.workflow_run_id, r.agent) for r in recs} == {
        ("bug-fix", "fix", "run1", "python-expert")
    }
    assert {r.task_hash for r in recs} == {recs[-1].task_hash}
    (wf,) = Analytics(t.store).by_workflow()
    assert (wf.name, wf.stats.executions, wf.stats.retries) == ("bug-fix", 1, 4)
    t.close()


def test_cache_hits_record_the_cost_they_saved() -> None:
    t = tracker()
    t.record_event(
        finished("hit", cached=True, cost=Decimal(0), started=datetime(2026, 11, 1, tzinfo=UTC))
    )
    t.record_event(finished("hit2", cached=True, cost=Decimal(0), saved_cost_usd=Decimal("0.5")))
    t.flush()
    s = Analytics(t.store).summary()
    # 1000 in × $2/M + 1000 out × $10/M, what the call would have cost on its day
    assert s.saved_usd == Decimal("0.512")
    assert (s.cache_hits, s.cache_hit_rate, s.cost_usd) == (2, 1.0, 0)
    assert (s.semantic_hits, s.semantic_saved_usd) == (0, 0)
    t.close()


def test_a_semantic_hit_is_recorded_as_such() -> None:
    t = watched()
    t.record_event(finished("call"))
    t.record_event(finished("exact", cached=True, cost=Decimal(0), saved_cost_usd=Decimal("0.5")))
    para = {"saved_cost_usd": Decimal("0.25"), "semantic_similarity": 0.91}
    t.record_event(finished("para", cached=True, cost=Decimal(0), **para))
    t.flush()
    recs = {r.execution_id: r for r in t.store.records(Query())}
    assert [recs[k].cache_match for k in ("call", "exact", "para")] == [None, "exact", "semantic"]
    assert recs["para"].to_dict()["cache_match"] == "semantic"
    s = Analytics(t.store).summary()
    assert (s.cache_hits, s.semantic_hits, s.semantic_saved_usd) == (2, 1, Decimal("0.25"))
    assert s.to_dict()["semantic_saved_usd_exact"] == "0.25"
    get = t.prometheus.registry.get_sample_value
    assert get("claude_force_semantic_cache_hits_total", {"agent": "python-expert"}) == 1
    assert get("claude_force_cache_hits_total", {"agent": "python-expert"}) == 2
    t.close()


def test_simulated_runs_can_be_left_out() -> None:
    t = tracker(record_simulated=False)
    real = make_records(1, retries=False)[0]
    assert t.record(replace(real, simulated=False))
    assert t.record(replace(real, execution_id="sim", simulated=True)) is False
    t.flush()
    assert [r.execution_id for r in t.store.records(Query())] == [real.execution_id]
    t.close()


def test_rollup_is_due_at_most_once_per_interval() -> None:
    assert rollup_due(None, T0, 24)
    assert not rollup_due(to_us(T0), T0 + timedelta(hours=23, minutes=59), 24)
    assert rollup_due(to_us(T0), T0 + timedelta(hours=24), 24)
    assert rollup_cutoff(T0 + timedelta(hours=13), 7) == to_us(T0 - timedelta(days=7))


def test_maybe_rollup_follows_the_virtual_clock_and_retention(tmp_path: Path) -> None:
    clock = VirtualClock(T0 + timedelta(days=20))
    store = SQLiteMetricsStore(tmp_path / "m.db")
    t = MetricsTracker(
        store,
        settings=MetricsSettings(raw_retention_days=7, daily_retention_days=10),
        clock=clock,
    )
    recs = make_records(500, days=20)
    store.upsert(recs)
    report = t.maybe_rollup()
    assert report is not None
    cutoff = to_us(T0 + timedelta(days=13))
    assert report.raw_rows_rolled == sum(r.started_us < cutoff for r in recs)
    assert report.daily_rows_pruned > 0
    assert all(row.day_us >= to_us(T0 + timedelta(days=10)) for row in store.daily_rows(Query()))
    assert store.get_meta(LAST_ROLLUP) == str(to_us(utcnow(clock)))
    clock.advance(timedelta(hours=23).total_seconds())
    assert t.maybe_rollup() is None  # not due yet
    clock.advance(timedelta(hours=1).total_seconds())
    assert t.maybe_rollup() is not None
    on_demand = t.rollup()  # always runs
    assert on_demand.raw_rows_rolled == 0
    t.close()


def test_the_reader_of_the_report_commands_rolls_up_as_the_tracker_does(tmp_path: Path) -> None:
    """``analytics``/``metrics`` read through a MetricsReader (no tracker): same rollups."""
    from claude_force.catalog import builtin_catalog
    from claude_force.metrics.reader import MetricsReader, store_for

    clock = VirtualClock(T0 + timedelta(days=20))
    settings = MetricsSettings(raw_retention_days=7, daily_retention_days=10, path="m.db")
    store = store_for(settings, tmp_path)
    assert isinstance(store, SQLiteMetricsStore) and store.path == tmp_path / "m.db"
    reader = MetricsReader(store, settings=settings, catalog=builtin_catalog(), clock=clock)
    recs = make_records(500, days=20)
    store.upsert(recs)
    assert reader.flush()  # a reader has nothing pending
    report = reader.maybe_rollup()
    assert report is not None and reader.last_rollup == report
    cutoff = to_us(T0 + timedelta(days=13))
    assert report.raw_rows_rolled == sum(r.started_us < cutoff for r in recs)
    assert report.daily_rows_pruned > 0
    assert store.get_meta(LAST_ROLLUP) == str(to_us(utcnow(clock)))
    clock.advance(timedelta(hours=23).total_seconds())
    assert reader.maybe_rollup() is None  # not due yet
    assert reader.rollup().raw_rows_rolled == 0  # on demand: always runs
    tracker = MetricsTracker(store, settings=settings)
    assert reader.analytics().summary(Query()) == tracker.analytics().summary(Query())
    tracker.close()
    reader.close()  # (closing a closed store is harmless)
    assert isinstance(store_for(MetricsSettings(backend="memory"), tmp_path), MemoryMetricsStore)


def test_opening_the_store_runs_the_due_rollup_off_the_request_path(tmp_path: Path) -> None:
    store = SQLiteMetricsStore(tmp_path / "m.db")
    store.upsert(make_records(100, days=3))
    store.close()
    t = MetricsTracker(
        lambda: SQLiteMetricsStore(tmp_path / "m.db"),
        settings=MetricsSettings(raw_retention_days=1),
        clock=VirtualClock(T0 + timedelta(days=30)),
    )
    t.record_event(finished("new", started=T0 + timedelta(days=30)))  # starts the writer thread
    t.flush()
    assert t.last_rollup is not None and t.last_rollup.raw_rows_rolled > 0
    assert t.store.stats().raw_rows == 1
    t.close()


async def test_recording_never_blocks_the_event_loop(tmp_path: Path) -> None:
    t = MetricsTracker(lambda: SQLiteMetricsStore(tmp_path / "m.db"))
    with blockbuster_ctx():
        for i in range(300):
            await t.record_event_async(finished(f"e{i}"))
        assert await t.aflush()
    assert t.store.stats().raw_rows == 300
    await t.aclose()


def test_prometheus_counts_every_kind_of_event() -> None:
    p = PrometheusMetrics()
    p.on_event(BreakerTransition("anthropic", "m", "closed", "open", 0.6, 20, 30.0))
    p.on_event(BreakerRejected("anthropic", "m", 29.0))
    p.on_event(RateLimitWait("m", "input_tokens", 0.25, 2))
    p.on_event(ModelFallback("m", "n", "breaker_open"))
    p.on_event(RetryGaveUp("anthropic", "m", 3, "deadline", "ServerError"))
    p.on_event(finished())  # executions are counted by observe(), not here
    text = p.exposition().decode()
    get = p.registry.get_sample_value
    assert "claude_force_circuit_breaker_state{" in text
    assert get("claude_force_circuit_breaker_state", {"provider": "anthropic", "model": "m"}) == 2
    assert (
        get("claude_force_circuit_breaker_rejected_total", {"provider": "anthropic", "model": "m"})
        == 1
    )
    assert (
        get("claude_force_rate_limit_wait_seconds_count", {"model": "m", "limit": "input_tokens"})
        == 1
    )
    assert (
        get(
            "claude_force_model_fallbacks_total",
            {"from_model": "m", "to_model": "n", "reason": "breaker_open"},
        )
        == 1
    )
    assert (
        get(
            "claude_force_retry_gave_up_total",
            {"provider": "anthropic", "model": "m", "reason": "deadline"},
        )
        == 1
    )
    assert "claude_force_executions_total{" not in text


def test_prometheus_live_counters_match_the_records() -> None:
    t = watched()
    recs = make_records(300, days=2, seed=9)
    for r in recs:
        t.record(r)
    t.flush()
    get = t.prometheus.registry.get_sample_value
    finals = [r for r in recs if r.final]
    total_exec = sum(
        s.value
        for fam in text_string_to_metric_families(t.prometheus.exposition().decode())
        if fam.name == "claude_force_executions"
        for s in fam.samples
    )
    assert total_exec == len(finals)
    agent = "code-reviewer"
    hits = sum(r.cached for r in finals if r.agent == agent)
    assert (get("claude_force_cache_hits_total", {"agent": agent}) or 0) == hits
    semantic = [r for r in finals if r.agent == agent and r.semantic]
    assert get("claude_force_semantic_cache_hits_total", {"agent": agent}) == len(semantic) > 0
    assert get("claude_force_semantic_saved_cost_usd_total", {"agent": agent}) == pytest.approx(
        sum(r.saved_pusd or 0 for r in semantic) / 1e12
    )
    unknown = sum(r.cost_pusd is None for r in recs)
    assert get("claude_force_cost_unknown_total", {"model": "claude-x-9"}) == unknown
    t.close()


def test_store_exposition_agrees_with_the_store(tmp_path: Path) -> None:
    store = SQLiteMetricsStore(tmp_path / "m.db")
    recs = make_records(400, days=4, seed=2)
    store.upsert(recs)
    store.rollup(to_us(T0 + timedelta(days=2)))
    families = {f.name: f for f in text_string_to_metric_families(store_exposition(store).decode())}
    execs = sum(s.value for s in families["claude_force_executions"].samples)
    assert execs == sum(r.final for r in recs)
    cost = sum(s.value for s in families["claude_force_cost_usd"].samples)
    assert cost == pytest.approx(sum(r.cost_pusd or 0 for r in recs) / 1e12)
    retries = sum(s.value for s in families["claude_force_retried_attempts"].samples)
    assert retries == sum(not r.final for r in recs)
    semantic = [r for r in recs if r.final and r.semantic]
    hits = sum(s.value for s in families["claude_force_semantic_cache_hits"].samples)
    assert hits == len(semantic) > 0
    saved = sum(s.value for s in families["claude_force_semantic_saved_cost_usd"].samples)
    assert saved == pytest.approx(sum(r.saved_pusd or 0 for r in semantic) / 1e12)
    counts = [
        s
        for s in families["claude_force_execution_duration_seconds"].samples
        if s.name.endswith("_count")
    ]
    assert sum(s.value for s in counts) == execs
    tokens = {
        kind: sum(
            s.value for s in families["claude_force_tokens"].samples if s.labels["kind"] == kind
        )
        for kind in ("input", "output", "cache_write", "cache_read")
    }
    assert tokens["input"] == sum(r.input_tokens for r in recs)
    store.close()


# --- wiring ----------------------------------------------------------------------------------


def _configure(sample_config: Path, **metrics: object) -> None:
    data = json.loads(sample_config.read_text())
    data["metrics"] = metrics
    sample_config.write_text(json.dumps(data))


def test_the_orchestrator_records_into_the_state_directory(
    sample_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLAUDE_FORCE_LATENCY", "instant")
    _configure(sample_config, path="m/metrics.sqlite")
    with AgentOrchestrator(sample_config, simulate=True) as orch:
        orch.run_agent("python-expert", "one")
        orch.run_workflow("refactor", "two")
        summary = orch.get_performance_summary()
        assert summary["total_executions"] == 4
        assert summary["total_cost"] > 0
        assert set(orch.get_agent_performance()) == {
            "python-expert",
            "refactoring-specialist",
            "test-engineer",
            "code-reviewer",
        }
        assert orch.get_cost_breakdown()["by_model"].keys() == {"claude-sonnet-5-5"}
        orch.close()
        assert orch.get_performance_summary()["total_executions"] == 4  # still readable
    db = sample_config.parent / "state" / "m" / "metrics.sqlite"
    assert db.exists()
    store = SQLiteMetricsStore(db)
    wf = Analytics(store).by_workflow()
    assert {(g.name, g.stats.executions) for g in wf} == {("(none)", 1), ("refactor", 3)}
    recs = [r for r in store.records(Query(workflow="refactor"))]
    assert len({r.workflow_run_id for r in recs}) == 1 and all(r.step_id for r in recs)
    assert all(r.simulated for r in recs)
    store.close()


def test_tracking_off_means_no_tracker(sample_config: Path) -> None:
    orch = AgentOrchestrator(sample_config, simulate=True, enable_tracking=False)
    assert orch.tracker is None and orch.core.metrics is None
    with pytest.raises(RuntimeError, match="tracking is off"):
        orch.get_performance_summary()
    orch.close()
    _configure(sample_config, enabled=False)
    core = AsyncAgentOrchestrator(sample_config, simulate=True)
    assert core.tracker is None


def test_metrics_settings_are_validated(sample_config: Path) -> None:
    from claude_force.errors import ConfigurationError

    _configure(sample_config, raw_retention_days=-1)
    with pytest.raises(ConfigurationError, match=r"metrics\.raw_retention_days"):
        load_project(sample_config)
    _configure(sample_config, backend="memory", raw_retention_days=3, daily_retention_days=400)
    s = load_project(sample_config).settings.metrics
    assert (s.backend, s.raw_retention_days, s.daily_retention_days) == ("memory", 3, 400)


def test_the_live_series_count_from_their_first_use() -> None:
    t = tracker()
    t.record_event(finished("before"))
    t.record_event(RetryScheduled("anthropic", "m", 1, 0.5, "backoff", "X", 429, "a", "r1"))
    live = t.prometheus  # first asked for now: what came before is in the store only
    assert t.prometheus is live
    t.record_event(finished("after"))
    t.record_event(RetryScheduled("anthropic", "m", 1, 0.5, "backoff", "X", 429, "a", "r2"))
    t.flush()
    assert t.store.stats().raw_rows == 2
    get = live.registry.get_sample_value
    executions = sum(
        s.value
        for fam in text_string_to_metric_families(live.exposition().decode())
        if fam.name == "claude_force_executions"
        for s in fam.samples
    )
    assert executions == 1
    retries = {"provider": "anthropic", "model": "m", "reason": "backoff"}
    assert get("claude_force_retries_total", retries) == 1
    t.close()


# A run in a fresh process: one execution, recorded (tracking on), on the simulated model.
RUN_ONE = """
import asyncio, json, sys
from claude_force import AsyncAgentOrchestrator

async def main():
    async with AsyncAgentOrchestrator(sys.argv[1], simulate=True) as orch:
        ex = await orch.execute("python-expert", "count me")
        assert orch.metrics is not None and await orch.metrics.aflush()
        rows = orch.metrics.store.stats().raw_rows
    print(json.dumps({"success": ex.success, "rows": rows, "modules": sorted(sys.modules)}))

asyncio.run(main())
"""


def test_a_run_nobody_scrapes_never_loads_prometheus(sample_config: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", RUN_ONE, str(sample_config)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.splitlines()[-1])
    assert report["success"] is True and report["rows"] == 1  # recorded: the tracker ran
    loaded = set(report["modules"])
    assert "claude_force.metrics.tracker" in loaded
    assert not loaded & {"prometheus_client", "claude_force.metrics.prometheus", "http.server"}
    # nor what only a report (analytics) or an error message (difflib's suggestions) needs
    assert not loaded & {"claude_force.metrics.analytics", "difflib"}


async def test_an_orchestrators_execution_is_recorded_once(sample_config: Path) -> None:
    from claude_force.testing import ScriptedProvider

    async with AsyncAgentOrchestrator(
        sample_config, provider=ScriptedProvider(simulated=False), enable_memory=False
    ) as orch:
        metrics = orch.metrics
        assert metrics is not None and metrics.prometheus  # the live series count from now
        ex = await orch.execute("python-expert", "count me once")
        assert await metrics.aflush()
        rows = [r for r in metrics.store.records(Query()) if r.execution_id == ex.execution_id]
        assert len(rows) == 1
        labels = {"agent": "python-expert", "model": ex.model, "outcome": "success",
                  "cached": "false", "simulated": "false"}  # fmt: skip
        total = "claude_force_executions_total"
        assert metrics.prometheus.registry.get_sample_value(total, labels) == 1
