"""The work after each answer (metrics rows, memory sessions, cache entries): what its SQLite
connections may hold, that what was written is let go, and how many transactions a batch is."""

from __future__ import annotations

import asyncio
import weakref
from pathlib import Path

from claude_force.cache.sqlite_backend import SqliteBackend
from claude_force.memory.sqlite_backend import CACHE_KIB, SessionDB
from claude_force.metrics.sqlite_backend import SQLiteMetricsStore
from claude_force.metrics.writer import BatchWriter
from claude_force.state.sqlite import WRITE_CACHE_KIB
from claude_force.state.worker import Worker


def _cache_kib(conn: object) -> int:
    value = int(conn.execute("PRAGMA cache_size").fetchone()[0])  # type: ignore[attr-defined]
    assert value < 0, "set in KiB (negative), not in pages"
    return -value


def test_the_append_mostly_connections_keep_a_small_page_cache(tmp_path: Path) -> None:
    assert WRITE_CACHE_KIB < 2000  # below SQLite's default bound (2,000 KiB)
    cache = SqliteBackend(tmp_path / "cache.db")
    try:
        assert _cache_kib(cache._connection()) == WRITE_CACHE_KIB
    finally:
        cache._close()
    metrics = SQLiteMetricsStore(tmp_path / "metrics.db")
    try:
        assert _cache_kib(metrics._conn) == WRITE_CACHE_KIB
    finally:
        metrics.close()
    # memory's connection also answers searches: its larger bound is for them
    memory = SessionDB(tmp_path / "memory.db")
    try:
        assert _cache_kib(memory.conn) == CACHE_KIB
    finally:
        memory.close()


def test_an_existing_file_gets_the_bound_too(tmp_path: Path) -> None:
    SQLiteMetricsStore(tmp_path / "metrics.db").close()
    again = SQLiteMetricsStore(tmp_path / "metrics.db")
    try:
        assert _cache_kib(again._conn) == WRITE_CACHE_KIB
    finally:
        again.close()


# --- what was written is let go ---------------------------------------------------------------


class _Thing:
    """An object a weak reference can follow (a record, an answer)."""


def test_the_metrics_writer_keeps_no_record_once_its_batch_is_written() -> None:
    written: list[int] = []
    w: BatchWriter[_Thing] = BatchWriter(
        lambda batch: written.append(len(batch)), batch_size=4, flush_interval_s=3600
    )
    refs = []
    for _ in range(10):
        thing = _Thing()
        refs.append(weakref.ref(thing))
        assert w.submit(thing)
    del thing
    assert w.flush(timeout=10)
    # the thread now waits for the next record: it refers to none of those it wrote
    assert written == [4, 4, 2]
    assert [r() for r in refs] == [None] * 10
    w.close()


async def test_the_worker_keeps_no_result_while_it_waits_for_the_next_job() -> None:
    worker = Worker("test-end-phase")
    try:
        result = await worker.run(_Thing)
        ref = weakref.ref(result)
        del result
        for _ in range(200):  # until the thread is back waiting (it posted, then returns)
            if ref() is None:
                break
            await asyncio.sleep(0.01)
        assert ref() is None
    finally:
        await worker.aclose()
