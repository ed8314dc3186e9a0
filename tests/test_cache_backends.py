"""One contract suite, run against every cache backend: memory, SQLite and Redis (127.0.0.1)."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from _cache_helpers import (
    BACKENDS,
    MISS,
    drop_redis_prefix,
    new_backend,
    ok_judge,
    record,
    redis_prefix,
)
from claude_force.cache.backend import CacheBackend
from claude_force.cache.records import Counters, Verdict

T0 = 1_000_000.0


@pytest.fixture(params=BACKENDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def env(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[dict[str, object]]:
    url = request.getfixturevalue("redis_url") if kind == "redis" else None
    prefix = redis_prefix()

    def make() -> CacheBackend:
        return new_backend(kind, tmp_path, url, prefix)

    backend = make()
    await backend.open("kid1")
    try:
        yield {"backend": backend, "make": make, "kind": kind}
    finally:
        await backend.aclose()
        if url is not None:
            await drop_redis_prefix(url, prefix)


def B(env: dict[str, object]) -> CacheBackend:
    b = env["backend"]
    assert isinstance(b, CacheBackend)
    return b


async def keys_of(b: CacheBackend) -> list[str]:
    return [e.key for e in await b.entries()]


async def test_miss_then_hit_counts_and_recency(env: dict[str, object]) -> None:
    b = B(env)
    assert await b.lookup("a" * 64, T0, ok_judge, MISS) is None
    out = await b.put(record("a" * 64), 10_000, T0, Counters(stores=1))
    assert out.stored and out.evicted == 0
    verdict = await b.lookup("a" * 64, T0 + 1, ok_judge, MISS)
    assert verdict is not None and verdict.valid and verdict.value == "a" * 64
    await b.lookup("a" * 64, T0 + 2, ok_judge, MISS)
    peeked = await b.peek("a" * 64)
    assert peeked is not None and peeked.hits == 2 and peeked.payload == record("a" * 64).payload
    s = await b.stats()
    assert (s.counters.hits, s.counters.misses, s.counters.stores) == (2, 1, 1)
    assert (s.entries, s.bytes) == (1, 100)
    [info] = await b.entries()
    assert info.last_used_at == T0 + 2 and info.hits == 2 and info.size == 100


async def test_ttl_is_exact(env: dict[str, object]) -> None:
    b = B(env)
    await b.put(record("k" * 64, created=T0, ttl=10.0), 10_000, T0, Counters(stores=1))
    assert await b.lookup("k" * 64, T0 + 9.999, ok_judge, MISS) is not None
    assert await b.lookup("k" * 64, T0 + 10.0, ok_judge, MISS) is None  # exactly at ttl: gone
    s = await b.stats()
    assert (s.counters.hits, s.counters.misses, s.counters.expirations) == (1, 1, 1)
    assert (s.entries, s.bytes) == (0, 0)
    assert await b.peek("k" * 64) is None


async def test_lru_eviction_is_exact(env: dict[str, object]) -> None:
    b = B(env)
    ka, kb, kc, kd = ("a" * 64, "b" * 64, "c" * 64, "d" * 64)
    for i, k in enumerate((ka, kb, kc)):
        await b.put(record(k), 300, T0 + i, Counters(stores=1))
    assert await b.lookup(ka, T0 + 5, ok_judge, MISS) is not None  # a is now the most recent
    out = await b.put(record(kd), 300, T0 + 6, Counters(stores=1))
    assert out.stored and out.evicted == 1 and out.expired == 0
    assert await keys_of(b) == [kd, ka, kc]  # most recently used first; b was least recent
    s = await b.stats()
    assert s.counters.evictions == 1 and s.bytes == 300 and s.entries == 3


async def test_byte_bound_holds_after_every_write(env: dict[str, object]) -> None:
    b = B(env)
    rng = random.Random(4)
    max_bytes = 2_000
    keys = [f"{i:064x}" for i in range(25)]
    for step in range(120):
        key = rng.choice(keys)
        if rng.random() < 0.3:
            await b.lookup(key, T0 + step, ok_judge, MISS)
        await b.put(record(key, rng.randint(40, 700)), max_bytes, T0 + step, Counters(stores=1))
        s = await b.stats()
        listed = await b.entries()
        assert s.bytes <= max_bytes
        assert s.bytes == sum(e.size for e in listed)
        assert s.entries == len(listed) == len({e.key for e in listed})
    assert (await b.stats()).counters.evictions > 0


async def test_evicting_an_expired_entry_counts_as_expiration(env: dict[str, object]) -> None:
    b = B(env)
    await b.put(record("a" * 64, created=T0, ttl=5), 200, T0, Counters(stores=1))
    await b.put(record("b" * 64, created=T0 + 10, ttl=100), 200, T0 + 10, Counters(stores=1))
    out = await b.put(record("c" * 64, 200, created=T0 + 11, ttl=100), 200, T0 + 11, Counters())
    assert (out.evicted, out.expired) == (1, 1)  # a had expired, b was live
    s = await b.stats()
    assert (s.counters.evictions, s.counters.expirations) == (1, 1)
    assert await keys_of(b) == ["c" * 64]


async def test_oversize_record_is_not_stored(env: dict[str, object]) -> None:
    b = B(env)
    await b.put(record("a" * 64, 100), 150, T0, Counters(stores=1))
    out = await b.put(record("b" * 64, 151), 150, T0, Counters(stores=1))
    assert not out.stored
    assert await keys_of(b) == ["a" * 64]
    assert (await b.stats()).counters.stores == 1


async def test_replacing_a_key_adjusts_bytes_not_entries(env: dict[str, object]) -> None:
    b = B(env)
    await b.put(record("a" * 64, 100), 10_000, T0, Counters(stores=1))
    await b.put(record("a" * 64, 400), 10_000, T0 + 1, Counters(stores=1))
    s = await b.stats()
    assert (s.entries, s.bytes, s.counters.stores) == (1, 400, 2)


async def test_invalid_verdict_removes_the_entry_and_adds_its_counters(
    env: dict[str, object],
) -> None:
    b = B(env)
    bad = record("a" * 64)
    bad = type(bad)(
        **{**{f: getattr(bad, f) for f in bad.__dataclass_fields__}, "payload": b"bad!"}
    )
    await b.put(bad, 10_000, T0, Counters(stores=1))
    verdict = await b.lookup("a" * 64, T0 + 1, ok_judge, MISS)
    assert verdict is not None and not verdict.valid
    assert await b.peek("a" * 64) is None
    s = await b.stats()
    assert (s.counters.integrity_failures, s.counters.misses, s.counters.hits) == (1, 1, 0)
    assert (s.entries, s.bytes) == (0, 0)


async def test_remove_bump_prune_and_clear(env: dict[str, object]) -> None:
    b = B(env)
    await b.put(record("a" * 64, agent="x", ttl=10), 10_000, T0, Counters())
    await b.put(record("b" * 64, agent="y", ttl=1000), 10_000, T0, Counters())
    await b.put(record("c" * 64, agent="y", ttl=1000), 10_000, T0, Counters())
    await b.put(record("d" * 64, agent="x", ttl=1000), 10_000, T0, Counters())
    assert await b.remove("d" * 64, Counters(integrity_failures=1))
    assert not await b.remove("d" * 64, Counters(integrity_failures=1))
    await b.bump(Counters(hits=3, cost_saved_pusd=7))
    assert await b.prune(T0 + 10) == 1  # a expired
    assert [e.agent for e in await b.entries(agent="y")] == ["y", "y"]
    assert len(await b.entries(limit=1)) == 1
    assert await b.clear(agent="y") == 2
    s = await b.stats()
    assert (s.entries, s.bytes) == (0, 0)
    c = s.counters
    assert (c.hits, c.cost_saved_pusd, c.integrity_failures, c.expirations) == (3, 7, 1, 1)
    await b.put(record("e" * 64), 10_000, T0, Counters())
    assert await b.clear() == 1 and await b.entries() == []
    assert (await b.stats()).counters.hits == 3  # clearing keeps the statistics


async def test_entries_and_counters_survive_a_restart(env: dict[str, object]) -> None:
    b = B(env)
    await b.put(record("a" * 64), 10_000, T0, Counters(stores=1))
    await b.lookup("a" * 64, T0, ok_judge, MISS)
    await b.lookup("b" * 64, T0, ok_judge, MISS)
    await b.aclose()
    make = env["make"]
    again: CacheBackend = make()  # type: ignore[operator]
    await again.open("kid1")
    env["backend"] = again
    s = await again.stats()
    if not again.persistent:  # the memory backend lives and dies with its instance
        assert (s.counters, s.entries) == (Counters(), 0)
        return
    assert (s.counters.hits, s.counters.misses, s.counters.stores, s.entries) == (1, 1, 1, 1)
    assert await again.lookup("a" * 64, T0 + 1, ok_judge, MISS) is not None


async def test_a_raising_judge_never_leaves_a_half_done_change(env: dict[str, object]) -> None:
    b = B(env)
    await b.put(record("a" * 64), 10_000, T0, Counters())

    def broken(_r: object) -> Verdict:
        raise RuntimeError("bug")

    with pytest.raises(RuntimeError):
        await b.lookup("a" * 64, T0, broken, MISS)
    assert (await b.stats()).entries == 1
    assert await b.lookup("a" * 64, T0, ok_judge, MISS) is not None


def test_redis_backend_without_the_redis_extra_is_a_configuration_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    from claude_force.cache.errors import CacheConfigurationError
    from claude_force.cache.layer import make_backend
    from claude_force.config.schema import CacheSettings

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "redis" else real(name, *a)
    )
    settings = CacheSettings(backend="redis", redis_url="redis://127.0.0.1:6379/0")
    with pytest.raises(CacheConfigurationError) as info:
        make_backend(settings, tmp_path)
    assert info.value.key == "cache.backend"
    assert "claude-force[redis]" in str(info.value.hint)


async def test_a_sqlite_miss_writes_nothing_and_its_count_is_written_later(
    tmp_path: Path,
) -> None:
    """A miss is one read: another connection sees no commit. Its count joins the next write
    (the answer's store), and ``stats`` and closing write what is left."""
    import sqlite3

    from claude_force.cache.sqlite_backend import SqliteBackend

    path = tmp_path / "cache.db"
    b = SqliteBackend(path)
    await b.open("kid1")
    await b.put(record("stored"), 10_000, T0, Counters(stores=1))
    other = sqlite3.connect(path)

    def seen() -> tuple[int, int]:
        version = int(other.execute("PRAGMA data_version").fetchone()[0])
        misses = int(
            other.execute("SELECT value FROM counters WHERE name = 'misses'").fetchone()[0]
        )
        return version, misses

    v0, m0 = seen()
    for key in ("x", "y", "z"):
        assert await b.lookup(key, T0, ok_judge, MISS) is None
    assert seen() == (v0, m0)  # nothing committed by three misses
    assert (await b.stats()).counters.misses == 3
    assert seen()[1] == 3
    assert await b.lookup("w", T0, ok_judge, MISS) is None
    await b.put(record("w"), 10_000, T0, Counters(stores=1))  # the miss's answer: one write
    assert seen()[1] == 4
    hit = await b.lookup("w", T0, ok_judge, MISS)
    assert hit is not None and hit.valid
    assert await b.lookup("v", T0, ok_judge, MISS) is None
    await b.aclose()
    assert seen()[1] == 5
    other.close()


async def test_a_sqlite_miss_count_survives_a_failed_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The write that was to carry a miss's count rolls back: the count waits for the next."""
    import sqlite3

    from claude_force.cache import sqlite_backend
    from claude_force.cache.errors import CacheBackendError

    b = sqlite_backend.SqliteBackend(tmp_path / "cache.db")
    await b.open("kid1")
    assert await b.lookup("x", T0, ok_judge, MISS) is None

    def full(conn: sqlite3.Connection, key: str) -> int:
        raise sqlite3.OperationalError("database or disk is full")

    with monkeypatch.context() as m:
        m.setattr(sqlite_backend, "_delete", full)
        with pytest.raises(CacheBackendError):
            await b.put(record("x"), 10_000, T0, Counters(stores=1))
    stats = await b.stats()
    assert (stats.counters.misses, stats.counters.stores, stats.entries) == (1, 0, 0)
    await b.aclose()
