"""Live figures for the dashboard (virtual clock) and the JSON form of events."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from claude_force import monitoring
from claude_force.clock import VirtualClock
from claude_force.events import (
    BreakerTransition,
    ExecutionFinished,
    ExecutionStarted,
    RateLimitWait,
)
from claude_force.messages import Usage
from claude_force.monitoring.anomaly import AnomalyChange
from claude_force.monitoring.live import LiveStats
from claude_force.monitoring.wire import MAX_ERROR_CHARS, anomaly_event, event_payload, event_type

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def finished(
    eid: str,
    *,
    ms: float = 100.0,
    ok: bool = True,
    cached: bool = False,
    cost: str | None = "0.5",
    agent: str = "a",
    error: str | None = None,
) -> ExecutionFinished:
    return ExecutionFinished(
        execution_id=eid,
        agent=agent,
        task="the secret task text",
        model="m",
        provider="simulated",
        success=ok,
        started_at=T0,
        duration_ms=ms,
        queue_wait_ms=0.0,
        usage=Usage(10, 5),
        cost_usd=None if cost is None else Decimal(cost),
        cached=cached,
        simulated=True,
        error_type=None if ok else "ServerError",
        error=error,
        saved_cost_usd=Decimal("0.25") if cached else None,
    )


def test_window_totals_percentiles_and_throughput() -> None:
    clock = VirtualClock(1_800_000_000.0)
    live = LiveStats(clock=clock, window_s=60, bucket_s=10, horizon_s=120)
    for i in range(10):
        live.finished(finished(f"e{i}", ms=100.0 * (i + 1), ok=i != 0, cached=i == 9))
        clock.advance(1)
    snap = live.snapshot()
    w, t = snap["window"], snap["totals"]
    assert (w["executions"], w["failures"], w["cache_hits"]) == (10, 1, 1)
    assert w["error_rate"] == 0.1 and w["cache_hit_rate"] == 0.1
    assert w["cost_usd"] == 5.0 and t["saved_usd"] == 0.25
    assert w["p50_ms"] == pytest.approx(500, rel=0.01)  # nearest rank of 100..1000
    assert w["p99_ms"] == pytest.approx(1000, rel=0.01)
    assert w["tokens"] == 150
    # uptime 10 s < bucket: the rate is over one bucket (10 s) → 60 per minute
    assert w["throughput_per_min"] == 60.0
    assert snap["uptime_s"] == 10.0
    assert len(snap["timeline"]) == 12 and sum(p["executions"] for p in snap["timeline"]) == 10
    assert snap["recent"][0]["execution_id"] == "e9"  # newest first
    clock.advance(65)  # the window has moved past every execution, the horizon has not
    later = live.snapshot()
    assert later["window"]["executions"] == 0 and later["window"]["p50_ms"] is None
    assert later["totals"]["executions"] == 10
    assert sum(p["executions"] for p in later["timeline"]) == 10
    clock.advance(120)
    live.finished(finished("late"))  # opens a new bucket: old ones beyond the horizon go
    assert sum(p["executions"] for p in live.snapshot()["timeline"]) == 1
    json.dumps(live.snapshot())


def test_in_flight_executions_and_their_expiry() -> None:
    clock = VirtualClock(1_800_000_000.0)
    live = LiveStats(clock=clock, window_s=60, bucket_s=10, horizon_s=120, max_in_flight=2)
    for eid in ("a", "b", "c"):
        live.on_event(ExecutionStarted(eid, "agent", "m", T0))
        clock.advance(1)
    assert live.in_flight == 2  # bounded: the oldest was forgotten
    running = live.snapshot()["running"]
    assert [r["execution_id"] for r in running] == ["b", "c"]
    assert running[0]["elapsed_s"] == 2.0
    live.on_event(finished("b"))
    assert live.in_flight == 1
    clock.advance(200)  # never finished (e.g. cancelled): dropped after the horizon
    assert live.snapshot()["in_flight"] == 0
    live.on_event(BreakerTransition("p", "m", "closed", "open", 1.0, 5))  # ignored, no error


def test_bucket_sizes_are_checked() -> None:
    with pytest.raises(ValueError, match="bucket_s"):
        LiveStats(window_s=10, bucket_s=20, horizon_s=30)


def test_event_payloads_hide_the_task_and_shorten_errors() -> None:
    event = finished("x", ok=False, error="boom " * 200, cost=None)
    data = event_payload(event)
    assert event_type(event) == "execution_finished"
    assert "task" not in data and "the secret task text" not in json.dumps(data)
    assert len(data["task_hash"]) == 16
    assert len(data["error"]) == MAX_ERROR_CHARS and data["error"].endswith("…")
    assert data["usage"] == {
        "input_tokens": 10,
        "output_tokens": 5,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "total_tokens": 15,
    }
    assert data["started_at"] == T0.isoformat() and data["cost_usd"] is None
    wait = RateLimitWait("m", "input_tokens", 0.1234567891, 3)
    assert event_type(wait) == "rate_limit_wait"
    assert event_payload(wait)["wait_s"] == 0.123457
    started = ExecutionStarted("x", "a", "m", T0)
    assert event_payload(started)["at"] == T0.isoformat()


def test_anomaly_events() -> None:
    from claude_force.monitoring.anomaly import detect
    from claude_force.monitoring.settings import AnomalySettings

    det = detect([], AnomalySettings())
    assert det.history() == []
    from claude_force.monitoring.anomaly import Sample

    samples = [Sample(T0, "a", "m", False, 1.0) for _ in range(12)]
    (a,) = detect(samples).history()[:1]
    kind, data = anomaly_event(AnomalyChange("raised", a))
    assert kind == "anomaly_raised" and data["id"] == a.id
    json.dumps(data)


def test_the_package_exports_lazily() -> None:
    assert monitoring.LiveStats is LiveStats
    assert "AnomalyDetector" in dir(monitoring)
    with pytest.raises(AttributeError, match="Nope"):
        _ = monitoring.Nope  # type: ignore[attr-defined]
