"""A burst of answers queued for the SQLite cache is written in bounded transactions."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest

from _cache_helpers import record
from claude_force.cache import sqlite_backend
from claude_force.cache.records import Counters
from claude_force.cache.sqlite_backend import SqliteBackend

T0 = 1_000_000.0


async def test_queued_puts_are_built_and_written_a_bounded_chunk_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Puts queued behind one job are still one job, but at most ``PUTS_PER_TRANSACTION`` records
    are built (encoded, signed) and written per transaction; every put is stored and answered."""
    monkeypatch.setattr(sqlite_backend, "PUTS_PER_TRANSACTION", 4)
    backend = SqliteBackend(tmp_path / "state" / "cache.db")
    await backend.open("kid1")
    chunks: list[int] = []
    live = 0
    most_live = 0
    put_batch = backend._put_batch

    def counting(conn: Any, items: Any) -> Any:
        chunks.append(len(items))
        return put_batch(conn, items)

    monkeypatch.setattr(backend, "_put_batch", counting)

    def builder(key: str) -> Any:
        def build() -> Any:
            nonlocal live, most_live
            live += 1
            most_live = max(most_live, live)
            return record(key)

        return build

    def written(_: Any) -> None:
        nonlocal live
        live = 0  # a chunk's records are dropped once written

    blocker = threading.Event()
    gate = backend._worker.submit(blocker.wait, 30)
    keys = [f"{i:064d}" for i in range(10)]
    puts = [
        asyncio.ensure_future(backend.put_built(builder(k), 10_000, T0, Counters(stores=1)))
        for k in keys
    ]
    await asyncio.sleep(0)
    real = backend._put_batch

    def tracked(conn: Any, items: Any) -> Any:
        out = real(conn, items)
        written(out)
        return out

    monkeypatch.setattr(backend, "_put_batch", tracked)
    blocker.set()
    await gate
    outcomes = await asyncio.gather(*puts)
    assert chunks == [4, 4, 2]
    assert most_live <= 4
    assert all(o.stored for o in outcomes)
    assert sorted(e.key for e in await backend.entries()) == keys
    await backend.aclose()
