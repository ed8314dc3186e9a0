"""The work after each answer (metrics rows, memory sessions, cache entries): what its SQLite
connections may hold, that what was written is let go, and how many transactions a batch is."""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from _cache_helpers import record
from claude_force.cache import sqlite_backend as cache_sqlite
from claude_force.cache.records import Counters, Record
from claude_force.cache.sqlite_backend import SqliteBackend
from claude_force.memory import MemorySettings, MemoryStore, SearchQuery
from claude_force.memory.sqlite_backend import CACHE_KIB, SessionDB
from claude_force.metrics.sqlite_backend import SQLiteMetricsStore
from claude_force.metrics.writer import BatchWriter
from claude_force.state.sqlite import WRITE_CACHE_KIB
from claude_force.state.worker import Worker

T0 = 1_000_000.0


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


# --- the response cache's puts -------------------------------------------------------------------


def _builder(key: str, held: list[weakref.ref[_Thing]]) -> Callable[[], Record | None]:
    answer = _Thing()  # what a queued put's builder holds (the answer it encodes)
    held.append(weakref.ref(answer))

    def build() -> Record | None:
        assert answer is not None
        return record(key)

    return build


async def _queue_puts(
    backend: SqliteBackend, keys: list[str], held: list[weakref.ref[_Thing]]
) -> list[asyncio.Future[Any]]:
    """A job holding the worker, then ``keys``' puts, all queued behind it (a burst of
    answers)."""
    blocker = threading.Event()
    gate = backend._worker.submit(blocker.wait, 30)
    puts = [
        asyncio.ensure_future(backend.put_built(_builder(k, held), 10_000, T0, Counters(stores=1)))
        for k in keys
    ]
    await asyncio.sleep(0)
    blocker.set()  # (the gate's own result reaches the loop with the write job's first results)
    return [gate, *puts]


async def test_queued_puts_are_one_transaction_per_chunk_of_two_statements_a_put(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cache_sqlite, "PUTS_PER_TRANSACTION", 4)
    backend = SqliteBackend(tmp_path / "cache.db")
    await backend.open("kid1")
    seen: list[str] = []
    conn = await backend._worker.run(backend._connection)
    conn.set_trace_callback(seen.append)
    gate, *puts = await _queue_puts(backend, [f"{i:064d}" for i in range(10)], [])
    assert all(o.stored for o in await asyncio.gather(*puts))
    await gate
    conn.set_trace_callback(None)
    assert [s for s in seen if s in ("BEGIN IMMEDIATE", "COMMIT")] == [
        "BEGIN IMMEDIATE",
        "COMMIT",
    ] * 3
    # per put: delete the key's old entry, insert the new one; per chunk: begin, the totals
    # read once and written once (a row each), commit, the key filter's check
    assert len(seen) <= 2 * 10 + 8 * 3
    stats = await backend.stats()
    assert (stats.entries, stats.counters.stores) == (10, 10)
    assert stats.bytes == 10 * record("x" * 64).size
    await backend.aclose()


async def test_a_chunk_of_queued_puts_is_answered_and_let_go_at_its_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first chunk's callers hear, and its builders are let go, while the next chunk is
    still being written."""
    monkeypatch.setattr(cache_sqlite, "PUTS_PER_TRANSACTION", 4)
    backend = SqliteBackend(tmp_path / "cache.db")
    await backend.open("kid1")
    writing_second, release = threading.Event(), threading.Event()
    real = backend._put_batch
    chunks = 0

    def gated(conn: Any, items: Any) -> Any:
        nonlocal chunks
        chunks += 1
        if chunks == 2:
            writing_second.set()
            release.wait(30)
        return real(conn, items)

    monkeypatch.setattr(backend, "_put_batch", gated)
    held: list[weakref.ref[_Thing]] = []
    gate, *puts = await _queue_puts(backend, [f"{i:064d}" for i in range(8)], held)
    try:
        done, _ = await asyncio.wait(puts[:4], timeout=10)
        assert len(done) == 4
        assert await asyncio.to_thread(writing_second.wait, 10)
        assert not any(p.done() for p in puts[4:])
        assert [r() is None for r in held] == [True] * 4 + [False] * 4
    finally:
        release.set()
    assert all(o.stored for o in await asyncio.gather(*puts))
    await gate
    await backend.aclose()


# --- memory's sessions ------------------------------------------------------------------------


def test_a_chunk_of_sessions_fills_each_full_text_index_in_one_statement(tmp_path: Path) -> None:
    store = MemoryStore(tmp_path / "m.db", MemorySettings(retention_days=0))
    store.open()
    agents = ("alpha", "beta")
    sessions = [
        store.prepare(
            agents[i % 2], f"tune the kafka consumer {i}", "done", True, session_id=f"s{i}"
        )
        for i in range(64)
    ]
    seen: list[str] = []
    conn = store._db.conn  # type: ignore[attr-defined]
    conn.set_trace_callback(seen.append)
    store.add_prepared(sessions)
    store.add_prepared(sessions[:8])  # stored already: nothing is added twice
    conn.set_trace_callback(None)
    ours = [s for s in seen if not s.startswith("--")]  # not FTS5's own statements
    # the global index and each agent's: one statement each, filled from the rows just written
    assert len([s for s in ours if s.startswith("INSERT INTO memory_fts")]) == 3
    assert len(ours) <= 64 + 8 + 30  # a row each; opening the indexes, the generations
    for agent in agents:
        hits = store.search(SearchQuery("kafka consumer", agent=agent, limit=100))
        assert len(hits) == 32
    assert store.stats().sessions == 64
    store.close()
