"""SQLite puts wait ``PUT_DELAY_S`` for the next ones (docs/caching.md, "When an answer is
written"): one job writes them together; any other job, a flush, a full batch or the exit
handler queues them at once; a repeat in the same process is a hit meanwhile."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from _cache_helpers import GatedProvider, request
from claude_force.cache import sqlite_backend as backend_mod
from claude_force.cache.keys import request_key
from claude_force.cache.policy import CachePolicy
from claude_force.cache.secret import SecretSource
from claude_force.cache.sqlite_backend import SqliteBackend
from claude_force.cache.store import ResponseStore


class Jobs:
    """Counts the write jobs queued on the backend's worker."""

    def __init__(self, backend: SqliteBackend, monkeypatch: pytest.MonkeyPatch) -> None:
        self.writes = 0
        real = backend._put_queued

        def counted() -> None:
            self.writes += 1
            real()

        monkeypatch.setattr(backend, "_put_queued", counted)


def make_store(path: Path) -> tuple[ResponseStore, SqliteBackend]:
    backend = SqliteBackend(path / "cache.db")
    store = ResponseStore(
        backend,
        CachePolicy(ttl_seconds=3600, max_bytes=1_000_000),
        SecretSource(b"0123456789abcdef0123456789abcdef"),
    )
    return store, backend


async def miss(store: ResponseStore, provider: GatedProvider, text: str) -> Any:
    """A call whose miss was known without a lookup job (the key filter's sure miss, as the
    engine's runs take it), or a repeat of one (looked up: a hit)."""
    req = request(text)
    key = request_key(req, namespace="sim", provider="gated")
    sure = store.surely_absent(key)
    return await store.fetch(
        key,
        namespace="sim",
        agent="alpha",
        model=req.model,
        call=lambda: provider.send(req),
        found=store.skipped(None, key, store.writes()) if sure else None,
    )


async def test_puts_wait_and_are_written_by_one_job(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(backend_mod, "PUT_DELAY_S", 3600.0)
    store, backend = make_store(tmp_path)
    await store.open()
    jobs = Jobs(backend, monkeypatch)
    provider = GatedProvider()
    for text in ("a", "b", "c"):
        assert not (await miss(store, provider, text)).cached
    for _ in range(3):
        await asyncio.sleep(0)  # the writes' tasks queue their puts
    assert jobs.writes == 0 and len(backend._puts) == 3  # waiting for their job
    again = await miss(store, provider, "b")  # served from memory while it waits
    assert again.cached and provider.calls == 3
    stats = await store.stats()  # another job: the waiting puts are written before it
    assert jobs.writes == 1 and stats.entries == 3
    await store.aclose()


async def test_the_timer_a_full_batch_and_the_exit_handler_queue_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, backend = make_store(tmp_path)
    await store.open()
    jobs = Jobs(backend, monkeypatch)
    provider = GatedProvider()
    monkeypatch.setattr(backend_mod, "PUT_DELAY_S", 0.01)
    await miss(store, provider, "a")
    await store.flush()  # the timer queues the job (flush waits for the write)
    assert jobs.writes == 1 and not backend._puts
    monkeypatch.setattr(backend_mod, "PUT_DELAY_S", 3600.0)
    monkeypatch.setattr(backend_mod, "PUTS_PER_TRANSACTION", 2)
    await miss(store, provider, "b")
    await miss(store, provider, "c")  # the second of a transaction: queued at once
    await store.flush()
    assert jobs.writes == 2
    await miss(store, provider, "d")
    for _ in range(3):
        await asyncio.sleep(0)  # the write's task queues its put
    assert len(backend._puts) == 1
    backend_mod._write_at_exit()  # what runs at interpreter exit
    assert not backend._puts and jobs.writes == 3
    assert (await store.stats()).entries == 4
    await store.aclose()


async def test_a_miss_queues_its_put_at_once_without_a_task(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue #10: the answer's put is queued on the backend when the miss returns — no task, no
    loop turn first — and the store keeps only the put's future until it is written."""
    monkeypatch.setattr(backend_mod, "PUT_DELAY_S", 3600.0)
    store, backend = make_store(tmp_path)
    await store.open()
    tasks_before = len(asyncio.all_tasks())
    assert not (await miss(store, GatedProvider(), "a")).cached
    assert len(backend._puts) == 1  # queued before any other turn of the loop
    assert len(asyncio.all_tasks()) == tasks_before  # no task holds the write
    (write,) = store._writes
    assert not isinstance(write, asyncio.Task)
    await store.flush()
    assert not store._writes and (await store.stats()).entries == 1
    await store.aclose()


async def test_a_queued_put_that_fails_is_reported_and_rested(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    store, backend = make_store(tmp_path)
    await store.open()

    def broken(*_: Any) -> None:
        raise sqlite_error("disk I/O error")

    monkeypatch.setattr(backend, "_put_batch", broken)
    provider = GatedProvider()
    assert not (await miss(store, provider, "a")).cached
    await store.flush()
    assert store._errors == 1 and "store" in caplog.text  # counted, logged, the cache rests
    assert not store._storing  # the answer is no longer served from memory
    await store.aclose()


def sqlite_error(text: str) -> Exception:
    import sqlite3

    return sqlite3.OperationalError(text)
