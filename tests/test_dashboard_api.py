"""The dashboard's data: browsing the store, execution notes, the overview and detail endpoints,
and the follower that brings other processes' executions to the server."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from _core_helpers import minimal_project
from claude_force.clock import VirtualClock
from claude_force.events import (
    BreakerRejected,
    ExecutionFinished,
    ModelFallback,
    RateLimitWait,
    RetryScheduled,
)
from claude_force.messages import Usage
from claude_force.metrics.backend import MetricsStore, Query
from claude_force.metrics.browse import ExecutionNote, merge_note
from claude_force.metrics.memory_backend import MemoryMetricsStore
from claude_force.metrics.notes import note_of, timeline_entry
from claude_force.metrics.record import ExecutionRecord, to_us
from claude_force.metrics.settings import MetricsSettings
from claude_force.metrics.sqlite_backend import SQLiteMetricsStore
from claude_force.metrics.tracker import MetricsTracker
from claude_force.monitoring.anomaly import AnomalyDetector
from claude_force.monitoring.live import LiveStats
from claude_force.server import create_app
from claude_force.server import dashboard as dash
from claude_force.server.broadcast import Broadcaster
from claude_force.server.follow import StoreFollower
from claude_force.server.monitor import Monitor

NOW = datetime(2026, 11, 20, 12, 0, 30, tzinfo=UTC)
NOW_US = to_us(NOW)
SECRET = "sk-ant-api03-" + "x" * 40


def rec(
    i: int, *, ago_s: float = 10, attempt: int = 1, final: bool = True, **kw: Any
) -> ExecutionRecord:
    base: dict[str, Any] = {
        "execution_id": f"e{i}",
        "agent": "alpha" if i % 2 else "beta",
        "model": "claude-sonnet-5-5",
        "provider": "anthropic",
        "started_us": NOW_US - int(ago_s * 1e6),
        "duration_us": 200_000 + i * 1000,
        "queue_wait_us": 5_000,
        "success": True,
        "attempt": attempt,
        "final": final,
        "input_tokens": 100,
        "output_tokens": 50,
        "cost_pusd": 1_000_000_000,  # $0.001
    }
    base.update(kw)
    return ExecutionRecord(**base)


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MetricsStore]:
    s: MetricsStore = (
        MemoryMetricsStore() if request.param == "memory" else SQLiteMetricsStore(tmp_path / "m.db")
    )
    yield s
    s.close()


# --- browsing the store ----------------------------------------------------------------------------


def test_recent_is_newest_first_final_attempts_only(store: MetricsStore) -> None:
    store.upsert([rec(i, ago_s=100 - i) for i in range(5)])
    store.upsert([rec(9, ago_s=1, attempt=1, final=False, success=False, error_type="X")])
    store.upsert([rec(9, ago_s=1, attempt=2, success=False, error_type="Y")])
    rows = store.recent(Query(), 3)
    assert [r.execution_id for r in rows] == ["e9", "e4", "e3"]
    assert rows[0].attempt == 2 and rows[0].final
    assert [r.execution_id for r in store.recent(Query(), 10, failed_only=True)] == ["e9"]
    assert [r.execution_id for r in store.recent(Query(agent="beta"), 10)] == ["e4", "e2", "e0"]
    old = store.recent(Query(until_us=NOW_US - 97_000_000), 10)
    assert [r.execution_id for r in old] == ["e2", "e1", "e0"]


def test_attempts_and_tail_follow_what_was_written(store: MetricsStore) -> None:
    assert store.tail_cursor() == 0
    store.upsert([rec(1, attempt=1, final=False, success=False), rec(1, attempt=2)])
    cursor, rows = store.tail(0)
    assert [(r.execution_id, r.attempt) for r in rows] == [("e1", 1), ("e1", 2)]
    assert cursor == store.tail_cursor() > 0
    assert store.tail(cursor) == (cursor, [])
    store.upsert([rec(1, attempt=2, duration_us=5)])  # the same row again: not new
    store.upsert([rec(2)])
    cursor2, rows = store.tail(cursor)
    assert [r.execution_id for r in rows] == ["e2"] and cursor2 > cursor
    assert [a.attempt for a in store.attempts("e1")] == [1, 2]
    assert store.attempts("nope") == []


def test_notes_merge_and_go_with_their_rows(store: MetricsStore) -> None:
    store.upsert([rec(1, ago_s=3 * 86400), rec(2)])
    store.put_notes([ExecutionNote("e1", NOW_US - 3 * 86400 * 10**6, {"error": "boom"})])
    store.put_notes([ExecutionNote("e1", NOW_US, {"routing": {"model": "m", "source": "auto"}})])
    store.put_notes([ExecutionNote("e2", NOW_US, {"events": [{"kind": "retry"}]})])
    assert store.note("e1") == {"error": "boom", "routing": {"model": "m", "source": "auto"}}
    assert store.note("missing") is None
    store.rollup(NOW_US - 86400 * 10**6)
    assert store.note("e1") is None and store.note("e2") == {"events": [{"kind": "retry"}]}
    store.clear()
    assert store.note("e2") is None


def test_merge_note_is_rfc_7396() -> None:
    assert merge_note({"a": 1, "b": {"x": 1}}, {"b": {"y": 2}, "c": 3}) == {
        "a": 1,
        "b": {"x": 1, "y": 2},
        "c": 3,
    }
    assert merge_note({"a": 1}, {"a": None}) == {}


def test_aggregate_with_a_bucket_of_any_size(store: MetricsStore) -> None:
    store.upsert([rec(i, ago_s=i * 20) for i in range(6)])  # every 20 s over 100 s
    size = 60 * 10**6
    cells = store.aggregate(Query(), ("period",), granularity=size)
    assert sum(c.executions for c in cells.values()) == 6
    assert all(k[0] % size == 0 for k in cells)


# --- notes -------------------------------------------------------------------------------------------


def finished(**kw: Any) -> ExecutionFinished:
    base: dict[str, Any] = {
        "execution_id": "x1",
        "agent": "alpha",
        "task": f"deploy with key {SECRET}",
        "model": "claude-sonnet-5-5",
        "provider": "anthropic",
        "success": True,
        "started_at": NOW,
        "duration_ms": 12.0,
        "queue_wait_ms": 1.0,
        "usage": Usage(10, 5),
        "cost_usd": Decimal("0.001"),
        "cached": False,
        "simulated": False,
        "output": f"done; the key was {SECRET}",
        "request_id": "req_1",
    }
    base.update(kw)
    return ExecutionFinished(**base)


def test_note_keeps_text_only_when_asked_and_always_redacted() -> None:
    assert note_of(finished(), [], keep_text=False, max_chars=100) == {}
    kept = note_of(finished(), [], keep_text=True, max_chars=100)
    assert SECRET not in str(kept) and "[REDACTED" in kept["task"] and "[REDACTED" in kept["output"]
    assert kept["request_id"] == "req_1"
    short = note_of(finished(), [], keep_text=True, max_chars=10)
    assert len(short["task"]) == 10 and short["task"].endswith("…")
    failed = note_of(
        finished(success=False, error=f"401 {SECRET}"), [], keep_text=False, max_chars=9
    )
    assert SECRET not in failed["error"] and "task" not in failed


def test_timeline_entries_of_every_resilience_event() -> None:
    entries = [
        timeline_entry(e, NOW)
        for e in (
            RetryScheduled("anthropic", "m", 1, 0.5, "overloaded", "OverloadedError", 529),
            ModelFallback("m", "n", "breaker open"),
            RateLimitWait("m", "tokens", 1.25, 3),
            BreakerRejected("anthropic", "m", 4.0),
        )
    ]
    assert [e["kind"] for e in entries] == [
        "retry",
        "fallback",
        "rate_limit_wait",
        "breaker_rejected",
    ]
    assert entries[0]["status"] == 529 and entries[0]["delay_s"] == 0.5
    assert entries[2]["queued_ahead"] == 3


def test_tracker_writes_a_note_with_the_retries_of_an_execution() -> None:
    store = MemoryMetricsStore()
    tracker = MetricsTracker(
        store, settings=MetricsSettings(keep_text=True), clock=VirtualClock(NOW)
    )
    tracker.record_event(
        RetryScheduled(
            "anthropic", "m", 1, 0.5, "overloaded", "OverloadedError", 529, "alpha", "x1"
        )
    )
    tracker.record_event(finished())
    tracker.record_event(finished())  # the same execution again (bus + 2.2 hook): one note
    tracker.add_note("x1", NOW, {"routing": {"model": "m"}})
    tracker.flush()
    note = store.note("x1")
    assert note is not None
    assert [e["kind"] for e in note["events"]] == ["retry"]
    assert note["routing"] == {"model": "m"} and "[REDACTED" in note["task"]
    assert [a.attempt for a in store.attempts("x1")] == [1, 2]
    tracker.close()


# --- the dashboard's questions --------------------------------------------------------------------


def test_overview_has_a_point_per_bucket_and_totals(store: MetricsStore) -> None:
    store.upsert([rec(i, ago_s=30 + i * 60, cached=i == 0, saved_pusd=5) for i in range(5)])
    store.upsert([rec(7, ago_s=90, success=False, error_type="Boom")])
    store.upsert([rec(8, ago_s=2 * 3600)])  # outside the hour
    o = dash.overview(store, "1h", NOW_US)
    assert o["bucket_s"] == 60 and len(o["series"]) == 60
    assert o["totals"]["executions"] == 6 and o["totals"]["failures"] == 1
    assert sum(p["executions"] for p in o["series"]) == 6
    assert sum(p["errors"] for p in o["series"]) == 1
    assert o["series"][-1]["t"] * 10**6 <= NOW_US < (o["series"][-1]["t"] + 60) * 10**6
    assert {g["name"] for g in o["by_agent"]} == {"alpha", "beta"}
    assert o["by_model"][0]["executions"] == 6
    assert o["totals"]["cache_hits"] == 1 and o["totals"]["semantic_hits"] == 0
    store.upsert([rec(9, ago_s=40, cached=True, saved_pusd=7, semantic=True)])
    o = dash.overview(store, "1h", NOW_US)
    assert (o["totals"]["cache_hits"], o["totals"]["semantic_hits"]) == (2, 1)
    assert sum(p["semantic_hits"] for p in o["series"]) == 1
    assert sum(p["semantic_saved_usd"] for p in o["series"]) == 7e-12
    rows = {x["execution_id"]: x for x in dash.executions(store, "1h", NOW_US)["executions"]}
    assert (rows["e9"]["cache_match"], rows["e0"]["cache_match"]) == ("semantic", "exact")
    assert rows["e1"]["cache_match"] is None
    with pytest.raises(Exception, match="unknown range"):
        dash.overview(store, "2h", NOW_US)


def test_execution_detail_has_timings_attempts_and_note(store: MetricsStore) -> None:
    store.upsert([rec(1, attempt=1, final=False, success=False, error_type="Overloaded")])
    store.upsert([rec(1, attempt=2, queue_wait_us=50_000, duration_us=250_000)])
    store.put_notes([ExecutionNote("e1", NOW_US, {"events": [{"kind": "retry"}]})])
    d = dash.execution_detail(store, "e1")
    assert d is not None
    assert d["attempts"] == 2 and len(d["attempt_rows"]) == 2
    assert d["queue_wait_ms"] == 50 and d["service_ms"] == 250 and d["total_ms"] == 300
    assert d["events"] == [{"kind": "retry"}] and d["text_kept"] is False
    assert dash.execution_detail(store, "nope") is None
    listed = dash.executions(store, "15m", NOW_US, limit=9999)
    assert [x["execution_id"] for x in listed["executions"]] == ["e1"]


# --- through HTTP ---------------------------------------------------------------------------------


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    config = minimal_project(
        tmp_path,
        provider={"latency": "instant"},
        memory={"enabled": False},
        server={"follow_seconds": 0},
    )
    with TestClient(create_app(config, simulate=True), base_url="http://127.0.0.1") as c:
        yield c


def test_endpoints_answer_from_the_store(client: TestClient) -> None:
    for task in ("one", "two"):
        assert (
            client.post("/api/v1/execute", json={"agent": "alpha", "task": task}).status_code == 200
        )
    o = client.get("/api/v1/dashboard/overview", params={"range": "15m"}).json()
    assert o["totals"]["executions"] == 2 and len(o["series"]) == 30 and o["refresh_s"] == 5
    rows = client.get("/api/v1/dashboard/executions", params={"range": "15m"}).json()["executions"]
    assert len(rows) == 2 and rows[0]["simulated"] is True
    d = client.get(f"/api/v1/dashboard/executions/{rows[0]['execution_id']}").json()
    assert d["execution_id"] == rows[0]["execution_id"] and d["attempt_rows"][0]["final"]
    missing = client.get("/api/v1/dashboard/executions/nope")
    assert (
        missing.status_code == 404 and "no stored execution" in missing.json()["error"]["message"]
    )
    bad = client.get("/api/v1/dashboard/overview", params={"range": "2h"})
    assert bad.status_code == 400 and "range" in bad.json()["error"]["message"]


def test_docs_page_uses_local_swagger_assets(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200 and "static/swagger/swagger-ui-bundle.js" in page.text
    assert "cdn" not in page.text.lower()
    assert client.get("/static/swagger/swagger-ui-bundle.js").status_code == 200
    assert client.get("/static/swagger/swagger-ui.css").status_code == 200
    assert client.get("/static/docs.js").status_code == 200
    assert "/api/v1/dashboard/overview" in client.get("/openapi.json").json()["paths"]


def test_docs_page_without_swagger_says_what_to_install(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from claude_force.server import routes_dash

    monkeypatch.setattr(routes_dash, "swagger_dir", lambda: None)
    page = client.get("/docs")
    assert page.status_code == 503 and "fastapi-offline" in page.text


# --- following the store --------------------------------------------------------------------------


def test_follower_hands_over_other_processes_executions(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    ours, theirs = SQLiteMetricsStore(path), SQLiteMetricsStore(path)
    ours.upsert([rec(0)])  # before the follower starts: the warm-up's business
    broadcaster = Broadcaster(10)
    sent: list[tuple[str, dict[str, Any]]] = []
    broadcaster.publish = lambda kind, data: sent.append((kind, data))  # type: ignore[method-assign]
    monitor = Monitor(
        live=LiveStats(clock=VirtualClock(NOW)),
        detector=AnomalyDetector(None, clock=VirtualClock(NOW)),
        broadcaster=broadcaster,
    )
    follower = StoreFollower(lambda: ours, monitor)
    assert follower.poll() == 0 and follower.cursor == ours.tail_cursor()
    follower.on_event(finished(execution_id="e1"))  # e1 ran in this process
    theirs.upsert([rec(1), rec(2, attempt=1, final=False), rec(2, attempt=2), rec(3)])
    assert follower.poll() == 2  # e2 (final attempt) and e3
    assert [d["execution_id"] for k, d in sent if k == "stored_execution"] == ["e2", "e3"]
    assert monitor.detector.samples_seen == 2
    assert follower.poll() == 0
    ours.close()
    theirs.close()


def test_row_of_a_record_splits_queue_wait_and_service_time() -> None:
    row = dash.execution_row(
        dataclasses.replace(rec(1), duration_us=300_000, queue_wait_us=100_000)
    )
    assert row["service_ms"] == 300 and row["queue_wait_ms"] == 100 and row["total_ms"] == 400
    assert row["cost_usd"] == 0.001


def held_monitor() -> tuple[Monitor, list[datetime]]:
    """A monitor in a warm-up (held from NOW) whose detector records what it is fed, and one
    execution that finished during the warm-up (held, not fed yet)."""
    from datetime import timedelta

    from claude_force.monitoring.anomaly import Sample

    seen: list[datetime] = []

    class Recording(AnomalyDetector):
        def observe(self, sample: Sample) -> list[Any]:
            seen.append(sample.at)
            return super().observe(sample)

    monitor = Monitor(
        live=LiveStats(clock=VirtualClock(NOW)),
        detector=Recording(None, clock=VirtualClock(NOW)),
        broadcaster=Broadcaster(10),
    )
    monitor.hold(NOW)
    monitor.on_event(finished(started_at=NOW + timedelta(seconds=2)))  # live, during the warm-up
    return monitor, seen


def test_warm_up_feeds_the_stored_executions_before_those_that_finished_meanwhile() -> None:
    """Executions that finish while the warm-up reads the store wait for the stored (older)
    ones: the detector sees every execution once, in the order they finished."""
    from datetime import timedelta

    from claude_force.monitoring.anomaly import Sample

    monitor, seen = held_monitor()
    assert seen == []  # held
    stored = [Sample.from_event(finished(started_at=NOW - timedelta(seconds=s))) for s in (60, 30)]
    again = Sample.from_event(finished(started_at=NOW + timedelta(seconds=2)))  # also stored
    assert monitor.warm_up([*stored, again]) == 3
    assert seen == sorted(seen) and len(seen) == 3
    monitor.on_event(finished(started_at=NOW + timedelta(seconds=5)))  # after: fed at once
    assert len(seen) == 4


async def test_a_long_warm_up_gives_the_event_loop_back_between_chunks() -> None:
    """Replaying stored executions at start-up must not hold the server's requests up: the
    detector is fed a slice at a time, another task runs between slices, and the order (stored,
    then those held meanwhile) is the one :meth:`Monitor.warm_up` keeps."""
    import asyncio
    from datetime import timedelta

    from claude_force.monitoring.anomaly import Sample

    monitor, seen = held_monitor()
    turns: list[int] = []  # how many samples the detector had seen at each turn of the other task
    stored = [
        Sample.from_event(finished(started_at=NOW - timedelta(seconds=s)))
        for s in range(250, 0, -1)
    ]
    stop = False

    async def other_requests() -> None:
        while not stop:
            turns.append(len(seen))
            await asyncio.sleep(0)

    other = asyncio.create_task(other_requests())
    await asyncio.sleep(0)
    assert await monitor.warm_up_soon(stored, slice_s=0) == 251  # a slice: one sample
    stop = True
    await other
    assert seen == sorted(seen) and len(seen) == 251
    assert {1, 100, 249} <= set(turns)  # the other task ran between the slices
    monitor.on_event(finished(started_at=NOW + timedelta(seconds=5)))  # no longer held
    assert len(seen) == 252


async def test_a_warm_up_cancelled_midway_still_feeds_everything_once() -> None:
    import asyncio
    from datetime import timedelta

    from claude_force.monitoring.anomaly import Sample

    monitor, _ = held_monitor()
    stored = [
        Sample.from_event(finished(started_at=NOW - timedelta(seconds=s))) for s in range(30, 0, -1)
    ]
    task = asyncio.create_task(monitor.warm_up_soon(stored, slice_s=0))
    await asyncio.sleep(0)  # one slice is fed, then the task gives the loop back
    assert monitor.detector.samples_seen == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert monitor.detector.samples_seen == 31  # the rest and the held one, at once
    monitor.on_event(finished(started_at=NOW + timedelta(seconds=5)))
    assert monitor.detector.samples_seen == 32


@pytest.mark.parametrize("page", [1, 3, 4, 10_000])
def test_the_warm_up_reads_the_store_a_page_at_a_time_and_loses_no_row(
    tmp_path: Path, page: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pages end inside a microsecond several executions share: every final attempt is read
    once (as in one read), a retried attempt never, whatever the page size."""
    import types

    from claude_force.server import state as server_state

    store = SQLiteMetricsStore(tmp_path / "m.db")
    ages = [10, 10, 10, 9, 9, 8, 8, 8, 8, 7, 3]
    store.upsert(
        [rec(i, ago_s=a) for i, a in enumerate(ages)] + [rec(99, ago_s=8, attempt=1, final=False)]
    )
    tracker = types.SimpleNamespace(store=store, flush=lambda: True)
    monkeypatch.setattr(server_state, "WARMUP_PAGE", page)
    samples = server_state.ServerState._stored_samples(tracker, NOW - timedelta(minutes=1))  # type: ignore[arg-type]
    store.close()
    assert len(samples) == len(ages)  # each once; not the retried attempt
    assert samples == sorted(samples, key=lambda s: s.at)
    assert {s.duration_ms for s in samples} == {200 + i for i in range(len(ages))}
