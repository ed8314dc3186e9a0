"""``PerformanceTracker`` and ``get_tracker`` as claude-force 2.2 users call them (COMPAT.md)."""

from __future__ import annotations

import csv
import json
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from claude_force.base import TrackerProtocol
from claude_force.catalog import UnknownModelWarning
from claude_force.clock import VirtualClock
from claude_force.orchestrator import AgentOrchestrator
from claude_force.performance_tracker import ExecutionMetrics, PerformanceTracker, get_tracker

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


@pytest.fixture
def tracker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> PerformanceTracker:
    monkeypatch.chdir(tmp_path)
    t = PerformanceTracker(str(tmp_path / "metrics"), clock=VirtualClock(NOW))
    yield t  # type: ignore[misc]
    t.close()


def test_costs_are_per_million_tokens_exactly(tracker: PerformanceTracker) -> None:
    m = tracker.record_execution(
        "python-expert",
        "task",
        True,
        execution_time_ms=1500.0,
        model="claude-sonnet-5-5",
        input_tokens=1_000_000,
        output_tokens=1_000_000,
    )
    assert isinstance(m, ExecutionMetrics)
    assert m.estimated_cost == 12.0  # $2/M in + $10/M out; 2.2 would have said 0.012
    assert (m.total_tokens, m.execution_time_ms, m.cost_known) == (2_000_000, 1500.0, True)
    assert m.timestamp == NOW.isoformat()
    assert isinstance(tracker, TrackerProtocol)


def test_the_price_is_the_one_in_force_on_the_start_date(tracker: PerformanceTracker) -> None:
    """claude-sonnet-5-5 cache reads: $0.20/M until 2026-10-06, $0.10/M from 2026-10-07."""
    assert isinstance(tracker.clock, VirtualClock)
    tracker.clock.set(datetime(2026, 10, 7, 0, 0, 1, tzinfo=UTC))  # when it is recorded
    kw = {"model": "claude-sonnet-5-5", "cache_read_tokens": 1_000_000}
    before = tracker.record_execution("a", "t", True, 2000.0, **kw)  # started 2026-10-06
    after = tracker.record_execution("a", "t", True, 500.0, **kw)  # started 2026-10-07
    assert (before.estimated_cost, after.estimated_cost) == (0.2, 0.1)


def test_unknown_models_are_warned_once_and_cost_unknown(tracker: PerformanceTracker) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        a = tracker.record_execution("x", "t", True, 10.0, "gpt-9", 100, 100)
        tracker.record_execution("x", "t", True, 10.0, "gpt-9", 100, 100)
    assert [w.category for w in caught] == [UnknownModelWarning]
    assert (a.estimated_cost, a.cost_known) == (0.0, False)
    assert tracker.get_cost_breakdown()["unknown_cost_attempts"] == 2
    empty = tracker.record_execution("x", "t", False, 5.0, error_type="Timeout")  # no model
    assert (empty.model, empty.cost_known, empty.error_type) == ("unknown", True, "Timeout")


def test_summary_agents_costs_and_trends(tracker: PerformanceTracker) -> None:
    clock = tracker.clock
    assert isinstance(clock, VirtualClock)
    clock.set(NOW - timedelta(hours=30))
    tracker.record_execution("a", "t1", True, 100.0, "claude-haiku-4-5", 1000, 100)
    clock.set(NOW)
    tracker.record_execution("a", "t2", False, 300.0, "claude-haiku-4-5", 1000, 0, "ServerError")
    tracker.record_execution(
        "b",
        "t3",
        True,
        duration_ms=200.0,
        model="claude-opus-5-5",
        input_tokens=1000,
        output_tokens=1000,
    )
    s = tracker.get_summary()
    assert s["total_executions"] == 3 and s["failed_executions"] == 1
    assert s["success_rate"] == pytest.approx(2 / 3)
    assert s["total_cost"] == pytest.approx(0.0015 + 0.001 + 0.024)
    assert s["avg_execution_time_ms"] == pytest.approx(200.0)
    assert s["time_period"] == "all time" and s["in_memory_count"] == 3
    assert s["p50_ms"] == pytest.approx(200.0, rel=0.01)
    recent = tracker.get_summary(hours=24)
    assert recent["total_executions"] == 2 and recent["time_period"] == "last 24 hours"

    agents = tracker.get_agent_stats()
    assert set(agents) == {"a", "b"}
    assert agents["a"]["executions"] == 2 and agents["a"]["success_rate"] == 0.5
    assert tracker.get_agent_stats("b")["b"]["total_cost"] == pytest.approx(0.024)
    assert tracker.get_agent_stats("nobody") == {}

    costs = tracker.get_cost_breakdown()
    assert list(costs["by_agent"]) == ["b", "a"]  # most expensive first
    assert costs["by_model"]["claude-haiku-4-5"] == pytest.approx(0.0025)
    assert costs["total_exact"] == "0.0265"

    daily = tracker.get_trends()
    assert daily["executions"] == [1, 2]
    assert daily["timestamps"][0].startswith("2026-11-19")
    hourly = tracker.get_trends(interval_hours=1)
    assert sum(hourly["executions"]) == 3 and len(hourly["timestamps"]) == 2
    six = tracker.get_trends(interval_hours=6)
    assert sum(six["executions"]) == 3 and six["success_rates"][-1] == 0.5
    with pytest.raises(ValueError):
        tracker.get_trends(interval_hours=0)


def test_exports(tracker: PerformanceTracker, tmp_path: Path) -> None:
    for i in range(3):
        tracker.record_execution(
            "a",
            f"t{i}",
            True,
            10.0 + i,
            "claude-sonnet-5-5",
            10,
            10,
            workflow_name="wf",
            workflow_position=i,
        )
    tracker.export_json(tmp_path / "out" / "m.json")
    data = json.loads((tmp_path / "out" / "m.json").read_text())
    assert set(data) >= {"summary", "agent_stats", "cost_breakdown", "trends", "executions"}
    assert sorted(e["workflow_position"] for e in data["executions"]) == [0, 1, 2]
    tracker.export_csv(tmp_path / "m.csv")
    rows = list(csv.DictReader((tmp_path / "m.csv").open()))
    assert len(rows) == 3
    assert list(rows[0])[:13] == [
        "timestamp", "agent_name", "task_hash", "success", "execution_time_ms", "model",
        "input_tokens", "output_tokens", "total_tokens", "estimated_cost", "error_type",
        "workflow_name", "workflow_position",
    ]  # fmt: skip
    tracker.clear()
    tracker.export_csv(tmp_path / "empty.csv")
    assert (tmp_path / "empty.csv").read_text().startswith("timestamp,agent_name")


def test_clear_and_clear_old_metrics(tracker: PerformanceTracker) -> None:
    clock = tracker.clock
    assert isinstance(clock, VirtualClock)
    clock.set(NOW - timedelta(days=40))
    tracker.record_execution("a", "old", True, 1.0, "claude-sonnet-5-5", 1, 1)
    clock.set(NOW)
    tracker.record_execution("a", "new", True, 1.0, "claude-sonnet-5-5", 1, 1)
    assert tracker.clear_old_metrics(days=30) == 1
    assert tracker.get_summary()["total_executions"] == 1
    assert tracker.get_summary()["in_memory_count"] == 1
    tracker.clear()
    assert tracker.get_summary()["total_executions"] == 0


def test_a_relative_dir_resolves_against_the_project(
    sample_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = sample_config.parent.parent
    monkeypatch.chdir(sample_config.parent / "agents")  # somewhere inside the project
    t = PerformanceTracker("custom/metrics")
    t.record_execution("a", "t", True, 1.0, "claude-sonnet-5-5", 1, 1)
    t.flush()
    assert t.metrics_dir == root / "custom" / "metrics"
    assert t.metrics_file == root / "custom" / "metrics" / "executions.jsonl"
    assert len(t.metrics_file.read_text().splitlines()) == 1
    assert not (sample_config.parent / "agents" / "custom").exists()
    t.close()


def test_the_default_dir_is_the_projects_metrics_store(
    sample_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLAUDE_FORCE_LATENCY", "instant")
    monkeypatch.chdir(sample_config.parent.parent)
    with AgentOrchestrator(sample_config, simulate=True) as orch:
        orch.run_agent("code-reviewer", "review")
        assert (
            orch.tracker is not None and orch.tracker.metrics_dir == sample_config.parent / "state"
        )
    t = get_tracker()
    assert t.metrics_dir == sample_config.parent / "state"
    assert t.get_summary()["total_executions"] == 1
    assert list(t.get_agent_stats()) == ["code-reviewer"]
    t.close()


def test_without_a_project_or_persistence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    t = PerformanceTracker(enable_persistence=False, max_entries=2)
    for i in range(3):
        t.record_execution("a", str(i), True, 1.0, "claude-sonnet-5-5", 1, 1)
    s = t.get_summary()  # the summary covers the ring: the last max_entries executions
    assert s["total_executions"] == 2 and s["in_memory_count"] == 2 and s["max_entries"] == 2
    assert t.metrics_dir == tmp_path / ".claude" / "metrics"
    assert t.metrics_file is not None and not t.metrics_file.exists()
    assert not (tmp_path / ".claude").exists()  # nothing written
    t.close()


def test_a_broken_claude_json_falls_back_to_built_in_prices(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".claude").mkdir()
    (tmp_path / ".claude" / "claude.json").write_text("{ not json")
    monkeypatch.chdir(tmp_path)
    t = PerformanceTracker()
    m = t.record_execution("a", "t", True, 1.0, "claude-sonnet-5-5", 1_000_000, 0)
    assert m.estimated_cost == 2.0
    assert t.metrics_dir == tmp_path / ".claude" / "metrics"
    t.close()


def test_orchestrator_export_formats(
    sample_config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLAUDE_FORCE_LATENCY", "instant")
    with AgentOrchestrator(sample_config, simulate=True) as orch:
        orch.run_agent("code-reviewer", "review")
        orch.export_performance_metrics(str(tmp_path / "x.json"))
        orch.export_performance_metrics(str(tmp_path / "x.csv"), format="csv")
        with pytest.raises(ValueError, match="unsupported format"):
            orch.export_performance_metrics(str(tmp_path / "x.xml"), format="xml")
    assert json.loads((tmp_path / "x.json").read_text())["summary"]["total_executions"] == 1
    assert len((tmp_path / "x.csv").read_text().splitlines()) == 2
