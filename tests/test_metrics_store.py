"""One contract suite for every metrics store: idempotent upserts, exact rollups, seamless queries."""

from __future__ import annotations

import contextlib
import dataclasses
import math
import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from _metrics_data import T0, make_records
from claude_force.errors import ConfigurationError
from claude_force.metrics.analytics import Analytics
from claude_force.metrics.backend import (
    DAY_US,
    ROLLED_BEFORE,
    MetricsStore,
    Query,
    aggregate_records,
)
from claude_force.metrics.histogram import RELATIVE_ACCURACY, nearest_rank
from claude_force.metrics.memory_backend import MemoryMetricsStore
from claude_force.metrics.record import Cell, ExecutionRecord, to_us
from claude_force.metrics.sqlite_backend import SQLiteMetricsStore

DIMS = ("period", "agent", "provider", "model", "workflow", "outcome", "simulated")


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.services)])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[type]:
    made: list[MetricsStore] = []
    with contextlib.ExitStack() as stack:

        def factory(name: str = "m.db") -> MetricsStore:
            store: MetricsStore
            if request.param == "memory":
                store = MemoryMetricsStore()
            elif request.param == "sqlite":
                store = SQLiteMetricsStore(tmp_path / name)
            else:  # a database of its own per store (cluster mode's shared store)
                from _cluster_helpers import pg_database
                from claude_force.cluster.pg_metrics import PostgresMetricsStore

                store = PostgresMetricsStore(stack.enter_context(pg_database("cf_metrics")))
            made.append(store)
            return store

        yield factory  # type: ignore[misc]
        for s in made:
            s.close()


def _cutoff(days: int) -> int:
    return to_us(T0 + timedelta(days=days))


def test_is_a_metrics_store(make_store) -> None:
    assert isinstance(make_store(), MetricsStore)


def test_recording_the_same_execution_twice_stores_it_once(make_store) -> None:
    store = make_store()
    rec = make_records(1, retries=False)[0]
    store.upsert([rec])
    store.upsert([rec])
    store.upsert([rec, rec])
    assert store.stats().raw_rows == 1
    assert list(store.records(Query())) == [rec]
    assert Analytics(store).summary().executions == 1


def test_an_upsert_replaces_the_row_of_the_same_attempt(make_store) -> None:
    store = make_store()
    rec = make_records(1, retries=False)[0]
    store.upsert([rec])
    changed = dataclasses.replace(rec, output_tokens=rec.output_tokens + 5, cost_pusd=123)
    store.upsert([changed])
    assert list(store.records(Query())) == [changed]
    # a new attempt of the same execution is a new row
    retry = dataclasses.replace(rec, attempt=rec.attempt + 1)
    store.upsert([retry])
    assert store.stats().raw_rows == 2


def test_records_round_trip_every_field(make_store) -> None:
    store = make_store()
    recs = make_records(200, days=2)
    store.upsert(recs)
    got = sorted(store.records(Query()), key=lambda r: r.key)
    assert got == sorted(recs, key=lambda r: r.key)


def test_aggregate_matches_the_pure_rollup_math(make_store) -> None:
    store = make_store()
    recs = make_records(600, days=5)
    store.upsert(recs)
    for by in [(), ("agent",), ("model", "outcome"), DIMS]:
        assert store.aggregate(Query(), by=by) == aggregate_records(recs, by, "day")
    hourly = store.aggregate(Query(), by=("period",), granularity="hour")
    assert hourly == aggregate_records(recs, ("period",), "hour")


def test_filters_and_time_window(make_store) -> None:
    store = make_store()
    recs = make_records(500, days=6)
    store.upsert(recs)
    q = Query(since_us=_cutoff(2), until_us=_cutoff(4), agent="code-reviewer", simulated=False)
    expected = [
        r
        for r in recs
        if _cutoff(2) <= r.started_us < _cutoff(4)
        and r.agent == "code-reviewer"
        and not r.simulated
    ]
    assert store.aggregate(q) == aggregate_records(expected, (), "day")
    got = list(store.records(q))
    assert [r.started_us for r in got] == sorted(r.started_us for r in expected)  # oldest first
    assert sorted(got, key=lambda r: r.key) == sorted(expected, key=lambda r: r.key)
    none = store.aggregate(Query(workflow=""))
    assert none == aggregate_records([r for r in recs if r.workflow is None], (), "day")


def test_rollup_preserves_counts_tokens_and_costs_exactly(make_store) -> None:
    store = make_store()
    recs = make_records(1500, days=10)
    store.upsert(recs)
    before = store.aggregate(Query(), by=("agent", "model", "workflow", "outcome"))
    report = store.rollup(_cutoff(7))
    old = [r for r in recs if r.started_us < _cutoff(7)]
    assert report.raw_rows_rolled == len(old)
    assert store.stats().raw_rows == len(recs) - len(old)
    assert store.stats().daily_rows == report.daily_rows_written > 0
    after = store.aggregate(Query(), by=("agent", "model", "workflow", "outcome"))
    assert after == before  # every sum and every histogram bucket
    total = Analytics(store).summary()
    assert total.executions == sum(r.final for r in recs)
    assert total.cost_usd * 10**12 == sum(r.cost_pusd or 0 for r in recs)
    assert total.input_tokens == sum(r.input_tokens for r in recs)
    assert total.cost_unknown == sum(r.cost_pusd is None for r in recs)
    assert int(store.get_meta(ROLLED_BEFORE) or 0) == _cutoff(7) - _cutoff(7) % DAY_US


def test_queries_spanning_raw_and_rolled_days_agree_with_unrolled_data(make_store) -> None:
    recs = make_records(2000, days=12, seed=11)
    rolled, plain = make_store("a.db"), make_store("b.db")
    rolled.upsert(recs)
    plain.upsert(recs)
    rolled.rollup(_cutoff(8))
    a, b = Analytics(rolled), Analytics(plain)
    windows = [
        Query(),
        Query(since_us=_cutoff(3), until_us=_cutoff(11)),  # whole days on both sides
        Query(since_us=_cutoff(5), agent="python-expert"),
        Query(until_us=_cutoff(9), model="claude-haiku-5-5", simulated=False),
        Query(workflow="bug-fix"),
    ]
    for q in windows:
        assert a.summary(q) == b.summary(q)
        for dim in ("agent", "model", "workflow"):
            assert a.by(dim, q) == b.by(dim, q)
        assert [p.stats for p in a.trends(q, "day")] == [p.stats for p in b.trends(q, "day")]
    # hourly trends: rolled-up days come back as whole days, raw days by the hour
    points = a.trends(Query(), "hour")
    assert {p.resolution for p in points if to_us(p.start) < _cutoff(8)} == {"day"}
    assert {p.resolution for p in points if to_us(p.start) >= _cutoff(8)} == {"hour"}
    assert sum(p.stats.executions for p in points) == b.summary().executions


def test_rollup_percentiles_stay_within_the_stated_error(make_store) -> None:
    store = make_store()
    recs = make_records(3000, days=9, seed=5)
    store.upsert(recs)
    store.rollup(_cutoff(9))
    assert store.stats().raw_rows == 0
    durations = sorted(r.duration_us / 1000 for r in recs if r.final)
    stats = Analytics(store).summary()
    for q, got in ((0.50, stats.p50_ms), (0.95, stats.p95_ms), (0.99, stats.p99_ms)):
        exact = durations[nearest_rank(len(durations), q) - 1]
        assert got is not None
        assert math.isclose(got, exact, rel_tol=RELATIVE_ACCURACY + 1e-9)


def test_rollup_twice_and_late_rows_merge_into_the_same_daily_rows(make_store) -> None:
    store = make_store()
    recs = make_records(800, days=6)
    early, late = recs[:500], recs[500:]
    store.upsert(early)
    first = store.rollup(_cutoff(6))
    again = store.rollup(_cutoff(6))
    assert again.raw_rows_rolled == 0
    store.upsert(late)  # rows for days that were already rolled up
    store.rollup(_cutoff(6))
    assert store.stats().raw_rows == 0
    assert store.stats().daily_rows >= first.daily_rows_written
    assert store.aggregate(Query(), by=("agent", "outcome")) == aggregate_records(
        recs, ("agent", "outcome"), "day"
    )


def test_prune_daily_and_delete_before(make_store) -> None:
    store = make_store()
    recs = make_records(400, days=8)
    store.upsert(recs)
    store.rollup(_cutoff(5))
    pruned = store.prune_daily(_cutoff(3))
    assert pruned > 0
    assert all(row.day_us >= _cutoff(3) for row in store.daily_rows(Query()))
    deleted = store.delete_before(_cutoff(7))
    assert deleted > 0
    assert all(r.started_us >= _cutoff(7) for r in store.records(Query()))
    assert store.daily_rows(Query()) == []
    left = [r for r in recs if r.started_us >= _cutoff(7)]
    assert store.aggregate(Query()) == aggregate_records(left, (), "day")


def test_daily_rows_carry_their_dimensions_and_histograms(make_store) -> None:
    store = make_store()
    recs = make_records(300, days=3)
    store.upsert(recs)
    store.rollup(_cutoff(3))
    rows = store.daily_rows(Query())
    total = Cell()
    for row in rows:
        assert row.day_us % DAY_US == 0
        assert set(row.dims) == {"agent", "provider", "model", "workflow", "outcome", "simulated"}
        total.merge(row.cell)
    assert total == aggregate_records(recs, (), "day")[()]
    one_day = store.daily_rows(Query(since_us=_cutoff(1) + 5, until_us=_cutoff(2) - 5))
    assert {r.day_us for r in one_day} == {_cutoff(1)}


def test_meta_stats_and_clear(make_store) -> None:
    store = make_store()
    assert store.get_meta("x") is None
    store.set_meta("x", "1")
    store.set_meta("x", "2")
    assert store.get_meta("x") == "2"
    empty = store.stats()
    assert (empty.raw_rows, empty.daily_rows, empty.oldest_us) == (0, 0, None)
    recs = make_records(50, days=2)
    store.upsert(recs)
    s = store.stats()
    assert s.oldest_us == min(r.started_us for r in recs)
    assert s.newest_us == max(r.started_us for r in recs)
    store.rollup(_cutoff(1))
    store.clear()
    assert store.stats().raw_rows == store.stats().daily_rows == 0
    assert store.aggregate(Query()) == {}
    assert Analytics(store).summary().executions == 0
    store.upsert([])  # nothing to do


# --- SQLite specifics ----------------------------------------------------------------------------


def test_sqlite_uses_wal_and_gives_space_back_after_rollup(tmp_path: Path) -> None:
    store = SQLiteMetricsStore(tmp_path / "m.db")
    recs = make_records(6000, days=3, seed=3)
    for i in range(0, len(recs), 500):
        store.upsert(recs[i : i + 500])
    conn = sqlite3.connect(tmp_path / "m.db")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    store.vacuum()
    raw_bytes = store.size_bytes()
    report = store.rollup(_cutoff(3))
    assert report.raw_rows_rolled == len(recs)
    assert report.bytes_after < raw_bytes / 4
    assert store.integrity_ok()
    store.close()


def test_sqlite_data_survives_reopening(tmp_path: Path) -> None:
    recs = make_records(100, days=3)
    a = SQLiteMetricsStore(tmp_path / "m.db")
    a.upsert(recs)
    a.rollup(_cutoff(1))
    expected = a.aggregate(Query(), by=("agent",))
    a.close()
    b = SQLiteMetricsStore(tmp_path / "m.db")
    assert b.aggregate(Query(), by=("agent",)) == expected
    b.close()


def test_sqlite_opens_a_file_written_before_the_semantic_columns(tmp_path: Path) -> None:
    recs = make_records(120, days=2)
    path = tmp_path / "m.db"
    SQLiteMetricsStore(path).close()
    # the file as the release before the semantic cache wrote it: no semantic columns, the
    # hourly mirror of version 2
    conn = sqlite3.connect(path)
    for trigger in ("insert", "delete", "update"):
        conn.execute(f"DROP TRIGGER executions_hourly_{trigger}")
    conn.execute("DROP TABLE hourly")
    conn.execute("ALTER TABLE executions DROP COLUMN semantic")
    conn.execute("ALTER TABLE daily DROP COLUMN semantic_cached")
    conn.execute("ALTER TABLE daily DROP COLUMN semantic_saved_pusd")
    conn.execute("UPDATE meta SET value = '2' WHERE key = 'hourly_version'")
    conn.execute("PRAGMA user_version = 0")  # that release marked files with neither
    conn.execute("PRAGMA application_id = 0")
    conn.commit()
    conn.close()
    store = SQLiteMetricsStore(path)
    store.upsert(recs)
    with sqlite3.connect(path) as check:  # migrated: version 2, the columns added
        assert check.execute("PRAGMA user_version").fetchone()[0] == 2
    assert store.aggregate(Query(), by=("agent",)) == aggregate_records(recs, ("agent",), "day")
    hourly = store.aggregate(Query(), by=("period",), granularity="hour")
    assert hourly == aggregate_records(recs, ("period",), "hour")
    semantic = sum(r.final and r.semantic for r in recs)
    assert sum(c.semantic_cached for c in hourly.values()) == semantic > 0
    store.close()
    SQLiteMetricsStore(path).close()  # opening it again adds nothing


def test_sqlite_moves_a_file_that_is_not_a_database_aside(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bad = tmp_path / "m.db"
    bad.write_bytes(b"this is not sqlite" * 100)
    store = SQLiteMetricsStore(bad)
    store.upsert(make_records(3, retries=False))
    assert store.stats().raw_rows == 3
    store.close()
    [aside] = tmp_path.glob("m.db.corrupt-*")
    assert aside.read_bytes() == b"this is not sqlite" * 100
    assert "moved aside" in caplog.text and str(bad) in caplog.text


def test_sqlite_refuses_a_database_of_another_application(tmp_path: Path) -> None:
    other = tmp_path / "m.db"
    with sqlite3.connect(other) as conn:
        conn.execute("PRAGMA application_id = 1234")
        conn.execute("CREATE TABLE meta (key TEXT)")
    before = other.read_bytes()
    with pytest.raises(ConfigurationError, match="not a claude-force metrics database") as info:
        SQLiteMetricsStore(other)
    assert "metrics.path" in str(info.value) and str(other) in str(info.value)
    assert other.read_bytes() == before


def test_sqlite_refuses_a_newer_schema(tmp_path: Path) -> None:
    store = SQLiteMetricsStore(tmp_path / "m.db")
    store.close()
    with sqlite3.connect(tmp_path / "m.db") as conn:
        conn.execute("PRAGMA user_version = 99")
    with pytest.raises(ConfigurationError, match="newer claude-force"):
        SQLiteMetricsStore(tmp_path / "m.db")


def test_sqlite_adopts_a_file_written_before_application_ids(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    store = SQLiteMetricsStore(path)
    store.upsert(make_records(2, retries=False))
    store.close()
    with sqlite3.connect(path) as conn:  # as the previous release left it: no id, no version
        conn.execute("PRAGMA application_id = 0")
        conn.execute("PRAGMA user_version = 0")
    again = SQLiteMetricsStore(path)
    assert again.stats().raw_rows == 2
    again.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA application_id").fetchone()[0] != 0
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 2


def test_sqlite_a_failed_batch_writes_nothing(tmp_path: Path) -> None:
    store = SQLiteMetricsStore(tmp_path / "m.db")
    good = make_records(10, retries=False)
    bad = dataclasses.replace(good[0], execution_id=None)  # type: ignore[arg-type]
    with pytest.raises(sqlite3.IntegrityError):
        store.upsert([*good[1:], bad])
    assert store.stats().raw_rows == 0
    store.upsert(good)
    assert store.stats().raw_rows == 10
    store.close()


def test_sqlite_cannot_create_its_folder(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ConfigurationError, match="cannot open"):
        SQLiteMetricsStore(blocker / "sub" / "m.db")


def test_record_dimensions_used_by_every_store() -> None:
    rec = ExecutionRecord("e", "a", "m", "p", to_us(T0) + 5, 1000, False, error_type=None)
    assert rec.outcome == "error"
    assert rec.latency_bucket is not None
    assert dataclasses.replace(rec, final=False).latency_bucket is None


def test_the_old_module_path_re_exports_the_backend_names() -> None:
    from claude_force.metrics import backend, memory_backend, store

    assert store.Query is backend.Query and store.MetricsStore is backend.MetricsStore
    assert store.MemoryMetricsStore is memory_backend.MemoryMetricsStore
