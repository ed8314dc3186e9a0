"""The hourly mirror of the SQLite store: kept equal to the raw rows by triggers, filled once
for an existing file, and used only where it answers exactly."""

from __future__ import annotations

import dataclasses
import random
import sqlite3
from pathlib import Path

import pytest

from _metrics_data import T0, make_records
from claude_force.metrics import sqlite_hourly
from claude_force.metrics.backend import Query
from claude_force.metrics.memory_backend import MemoryMetricsStore
from claude_force.metrics.record import to_us
from claude_force.metrics.sqlite_backend import SQLiteMetricsStore

H = sqlite_hourly.HOUR_US


def mirror(
    path: Path,
) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]], list[tuple[object, ...]]]:
    conn = sqlite3.connect(path)
    try:
        return (
            conn.execute("SELECT * FROM hourly WHERE attempts > 0 ORDER BY 1, 2, 3").fetchall(),
            conn.execute("SELECT * FROM hourly_latency WHERE n > 0 ORDER BY 1, 2, 3, 4").fetchall(),
            conn.execute("SELECT * FROM hour_latency WHERE n > 0 ORDER BY 1, 2").fetchall(),
        )
    finally:
        conn.close()


def rebuilt(path: Path) -> tuple[object, ...]:
    """The mirror as a fresh fill from the raw rows makes it."""
    conn = sqlite3.connect(path)
    conn.execute("DELETE FROM meta WHERE key = ?", (sqlite_hourly.VERSION_KEY,))
    conn.commit()
    conn.close()
    SQLiteMetricsStore(path).close()
    return mirror(path)


def test_triggers_keep_the_mirror_equal_to_the_raw_rows(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    store = SQLiteMetricsStore(path)
    records = make_records(400, days=3)
    store.upsert(records[:300])
    store.upsert(records[250:])  # 50 upserted again (update triggers), 100 new
    changed = [dataclasses.replace(r, duration_us=r.duration_us + 7_000) for r in records[:20]]
    store.upsert(changed)
    store.delete_before(to_us(T0) + 86_400_000_000)  # delete triggers
    live = mirror(path)
    store.close()
    assert live[0] and live == rebuilt(path)


def test_rollup_empties_the_mirror_of_rolled_rows(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    store = SQLiteMetricsStore(path)
    store.upsert(make_records(200, days=2))
    store.rollup(to_us(T0) + 10 * 86_400_000_000)
    store.close()
    assert mirror(path) == ([], [], [])


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_answers_with_the_mirror_equal_the_memory_store(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    records = make_records(600, days=4, seed=seed)
    sqlite_store, memory = SQLiteMetricsStore(tmp_path / "m.db"), MemoryMetricsStore()
    sqlite_store.upsert(records)
    memory.upsert(records)
    base = to_us(T0)
    for _ in range(8):
        since = base + rng.randrange(0, 3 * 86_400_000_000)
        until = since + rng.randrange(1, 2 * 86_400_000_000)
        q = Query(since_us=since, until_us=until, agent=rng.choice([None, "code-reviewer"]))
        for by, g in (
            ((), "day"),
            (("period",), H),
            (("period", "agent"), 3 * H),
            (("model",), "day"),
        ):
            assert sqlite_store.aggregate(q, by, g) == memory.aggregate(q, by, g), (q, by)
        sums = sqlite_store.aggregate(q, ("agent",), latency=False)
        assert {k: c.sums() for k, c in sums.items()} == {
            k: c.sums() for k, c in memory.aggregate(q, ("agent",)).items()
        }
    sqlite_store.close()


def test_split_uses_the_mirror_only_where_it_is_exact() -> None:
    q = Query(since_us=H + 5, until_us=5 * H + 7)
    raw, mid = sqlite_hourly.split(q, ("period",), H) or ([], None)
    assert mid == Query(since_us=2 * H, until_us=5 * H)
    assert raw == [Query(since_us=H + 5, until_us=2 * H), Query(since_us=5 * H, until_us=5 * H + 7)]
    assert sqlite_hourly.split(q, ("workflow",), "day") is None
    assert sqlite_hourly.split(Query(workflow="w"), (), "day") is None
    assert sqlite_hourly.split(q, ("period",), 60_000_000) is None  # minute buckets
    assert sqlite_hourly.split(Query(since_us=H + 1, until_us=H + 9), (), "day") is None
    assert sqlite_hourly.split(Query(), ("agent",), "day") == ([], Query())
