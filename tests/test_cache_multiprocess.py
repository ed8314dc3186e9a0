"""Two processes write the same SQLite cache at the same time: no corruption, no lost stats."""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import sqlite3
from pathlib import Path

from claude_force.cache.policy import CachePolicy
from claude_force.cache.secret import SecretSource
from claude_force.cache.sqlite_backend import SqliteBackend
from claude_force.cache.store import ResponseStore
from claude_force.messages import MessageResponse, Usage

ROUNDS = 150
KEYS = 40


def _worker(path: str, worker: int, start: mp.synchronize.Barrier) -> None:  # type: ignore[name-defined]
    """Each round: look a shared key up, store it on a miss (the same 40 keys in both)."""

    async def main() -> None:
        store = ResponseStore(
            SqliteBackend(Path(path)),
            CachePolicy(ttl_seconds=3600, max_bytes=40_000),  # about 30 of the 40 answers fit
            SecretSource(None, Path(path).with_name("cache.key")),
        )
        await store.open()
        start.wait(timeout=60)  # a partner that died breaks the barrier instead of hanging here
        for i in range(ROUNDS):
            key = f"{(i * 7 + worker) % KEYS:064x}"
            if await store.get(key) is None:
                answer = MessageResponse(
                    f"answer {key[-4:]} " + "x" * (200 + (i % 5) * 300),
                    "claude-sonnet-5-5",
                    "end_turn",
                    Usage(10, 20),
                )
                await store.put(
                    key,
                    namespace="sim",
                    agent=f"w{worker}",
                    model="claude-sonnet-5-5",
                    response=answer,
                    duration_s=0.1,
                )
        # The answer just stored is the most recently used entry: it must be there for a hit,
        # however the two processes' rounds interleaved (LRU over a cycle of 40 keys can miss).
        assert await store.get(key) is not None
        await store.aclose()

    asyncio.run(main())


def test_two_processes_share_one_sqlite_cache(tmp_path: Path) -> None:
    path = tmp_path / "state" / "cache.db"
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(2)
    # daemon, and killed below if still running: a stuck worker fails this test, never hangs
    # pytest's exit (multiprocessing joins live non-daemon children at exit, without a timeout)
    procs = [ctx.Process(target=_worker, args=(str(path), w, barrier), daemon=True) for w in (0, 1)]
    for p in procs:
        p.start()
    try:
        for p in procs:
            p.join(timeout=120)
    finally:
        for p in procs:
            if p.is_alive():
                p.kill()
                p.join()
    assert [p.exitcode for p in procs] == [0, 0]

    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        counters = dict(conn.execute("SELECT name, value FROM counters").fetchall())
        entries, total = conn.execute(
            "SELECT count(*), coalesce(sum(size), 0) FROM entries"
        ).fetchone()
    finally:
        conn.close()
    # every lookup of both processes was counted, once
    assert counters["hits"] + counters["misses"] == 2 * (ROUNDS + 1)
    assert counters["integrity_failures"] == 0  # one key file, shared: every entry verifies
    assert counters["hits"] > 0 and counters["stores"] > 0
    # the totals kept in the same transactions match the rows exactly
    assert (counters["entries"], counters["bytes"]) == (entries, total)
    assert total <= 40_000
    assert counters["stores"] - counters["evictions"] - counters["expirations"] >= entries
