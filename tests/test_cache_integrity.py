"""Integrity: tampered, truncated and foreign entries or files are misses, counted, and survived."""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

import pytest

from _cache_helpers import (
    GatedProvider,
    corrupt_files,
    drop_redis_prefix,
    redis_prefix,
    request,
    truncate,
)
from claude_force.cache.codec import Signer, decode
from claude_force.cache.errors import (
    CacheBackendError,
    CacheConfigurationError,
    ForeignStorageError,
)
from claude_force.cache.keys import request_key
from claude_force.cache.memory_backend import MemoryBackend
from claude_force.cache.policy import CachePolicy
from claude_force.cache.redis_backend import RedisBackend, redact_url
from claude_force.cache.secret import SECRET_ENV, SecretSource, check_secret, load_or_create_key
from claude_force.cache.sqlite_backend import SqliteBackend
from claude_force.cache.store import ResponseStore

KEY_A = b"A" * 32
KEY_B = b"B" * 32


def store_on(backend: object, secret: bytes = KEY_A) -> ResponseStore:
    return ResponseStore(
        backend,  # type: ignore[arg-type]
        CachePolicy(ttl_seconds=3600, max_bytes=10_000_000),
        SecretSource(secret),
    )


async def ask(store: ResponseStore, provider: GatedProvider, task: str = "t") -> bool:
    """Fetch once; returns whether the answer came from the cache."""
    req = request(task)
    key = request_key(req, namespace="sim", provider="gated")
    answer = await store.fetch(
        key, namespace="sim", agent="alpha", model=req.model, call=lambda: provider.send(req)
    )
    return answer.cached


def db_rows(path: Path) -> list[tuple[str, bytes, bytes]]:
    with sqlite3.connect(path) as conn:
        return [
            (k, bytes(p), bytes(s))
            for k, p, s in conn.execute("SELECT key, payload, sig FROM entries")
        ]


def db_exec(path: Path, sql: str, *params: object) -> None:
    conn = sqlite3.connect(path)
    try:
        conn.execute(sql, params)
        conn.commit()
    finally:
        conn.close()


TAMPERINGS = {
    "edited payload": "UPDATE entries SET payload = replace(payload, CAST('answer' AS BLOB), CAST('ANSWER' AS BLOB))",
    "truncated payload": "UPDATE entries SET payload = substr(payload, 1, length(payload) / 2)",
    "wrong signature": "UPDATE entries SET sig = zeroblob(32)",
    "truncated signature": "UPDATE entries SET sig = substr(sig, 1, 10)",
    "expiry extended": "UPDATE entries SET expires_at = expires_at + 1e9",
    "row moved to another key": "UPDATE entries SET key = '" + "e" * 64 + "'",
    "impossible column value": "UPDATE entries SET created_at = 'yesterday'",
}


@pytest.mark.parametrize("how", list(TAMPERINGS))
async def test_tampered_sqlite_rows_are_counted_misses_and_removed(
    tmp_path: Path, how: str
) -> None:
    path = tmp_path / "cache.db"
    store = store_on(SqliteBackend(path))
    provider = GatedProvider()
    assert not await ask(store, provider)
    await store.aclose()
    db_exec(path, TAMPERINGS[how])
    if how == "row moved to another key":
        # the moved row is only found under the other key: read it there
        store = store_on(SqliteBackend(path))
        assert await store.get("e" * 64) is None
    else:
        store = store_on(SqliteBackend(path))
        assert not await ask(store, provider)  # a miss: the provider answers again
        assert provider.calls == 2
    stats = await store.stats()
    assert stats.counters.integrity_failures == 1
    if how != "row moved to another key":
        assert stats.entries == 1 and await ask(store, provider)  # re-stored, now a hit
    else:
        assert stats.entries == 0
    await store.aclose()


async def test_rows_signed_with_another_secret_are_foreign(tmp_path: Path) -> None:
    path = tmp_path / "cache.db"
    writer = store_on(SqliteBackend(path), KEY_A)
    provider = GatedProvider()
    await ask(writer, provider)
    await writer.aclose()
    reader = store_on(SqliteBackend(path), KEY_B)
    assert not await ask(reader, provider)
    assert (await reader.stats()).counters.integrity_failures == 1
    await reader.aclose()


async def test_memory_entries_are_checked_too() -> None:
    backend = MemoryBackend()
    store = store_on(backend)
    provider = GatedProvider()
    await ask(store, provider)
    await store.flush()  # the answer is written in the background
    [(key, rec)] = list(backend._entries.items())
    backend._entries[key] = type(rec)(
        **{**{f: getattr(rec, f) for f in rec.__dataclass_fields__}, "payload": rec.payload[:-5]}
    )
    assert not await ask(store, provider)
    assert (await store.stats()).counters.integrity_failures == 1


async def test_verification_can_be_switched_off_for_signatures_only() -> None:
    backend = MemoryBackend()
    store = store_on(backend)
    store.verify = False
    provider = GatedProvider()
    await ask(store, provider)
    await store.flush()  # the answer is written in the background
    [(key, rec)] = list(backend._entries.items())
    backend._entries[key] = type(rec)(
        **{**{f: getattr(rec, f) for f in rec.__dataclass_fields__}, "sig": b"x" * 32}
    )
    assert await ask(store, provider)  # the signature is not checked …
    backend._entries[key] = type(rec)(
        **{**{f: getattr(rec, f) for f in rec.__dataclass_fields__}, "payload": b"{not json"}
    )
    assert not await ask(store, provider)  # … but the payload still is


@pytest.mark.parametrize("garbage", [b"this is not a database at all" * 100, b"\x00\xff" * 5000])
async def test_a_garbage_file_is_moved_aside_and_replaced(tmp_path: Path, garbage: bytes) -> None:
    path = tmp_path / "cache.db"
    path.write_bytes(garbage)
    store = store_on(SqliteBackend(path))
    provider = GatedProvider()
    assert not await ask(store, provider)
    assert await ask(store, provider)
    assert (await store.stats()).counters.integrity_failures == 1
    await store.aclose()
    moved = corrupt_files(tmp_path)
    assert len(moved) == 1 and moved[0].read_bytes() == garbage  # kept, not deleted


async def test_a_truncated_database_is_survived(tmp_path: Path) -> None:
    path = tmp_path / "cache.db"
    store = store_on(SqliteBackend(path))
    provider = GatedProvider()
    for i in range(150):
        await ask(store, provider, task=f"task {i} " + "x" * 2000)
    await store.aclose()
    truncate(path, 1 / 3)
    store = store_on(SqliteBackend(path))
    served = [await ask(store, provider, task=f"task {i} " + "x" * 2000) for i in range(150)]
    stats = await store.stats()
    assert stats.counters.integrity_failures >= 1
    assert not all(served)
    assert corrupt_files(tmp_path)
    await store.aclose()


async def test_a_foreign_sqlite_database_is_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "cache.db"
    db_exec(path, "CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
    db_exec(path, "INSERT INTO invoices(total) VALUES (12.5)")
    before = path.read_bytes()
    store = store_on(SqliteBackend(path))
    with pytest.raises(ForeignStorageError, match="not a claude-force cache"):
        await store.open()
    provider = GatedProvider()
    assert not await ask(store, provider)  # the call still succeeds, from the provider
    assert provider.calls == 1
    assert path.read_bytes() == before
    assert store._errors == 1


async def test_redis_entries_tampered_in_place_are_counted(redis_url: str) -> None:
    prefix = redis_prefix()
    store = store_on(RedisBackend(redis_url, prefix=prefix))
    provider = GatedProvider()
    try:
        await ask(store, provider)
        from redis.asyncio import Redis

        client = Redis.from_url(redis_url)
        [entry_key] = [k async for k in client.scan_iter(match=prefix + "*:e:*")]
        payload = await client.hget(entry_key, "payload")
        await client.hset(entry_key, "payload", payload.replace(b"answer", b"ANSWER"))
        assert not await ask(store, provider)
        stats = await store.stats()
        assert stats.counters.integrity_failures == 1 and stats.entries == 1
        assert await ask(store, provider)
        [entry_key] = [k async for k in client.scan_iter(match=prefix + "*:e:*")]
        await client.hset(entry_key, "created_at", "yesterday")
        await client.aclose()
        assert not await ask(store, provider)
        assert (await store.stats()).counters.integrity_failures == 2
    finally:
        await store.aclose()
        await drop_redis_prefix(redis_url, prefix)


async def test_redis_keyspaces_of_different_secrets_do_not_meet(redis_url: str) -> None:
    prefix = redis_prefix()
    a = store_on(RedisBackend(redis_url, prefix=prefix), KEY_A)
    b = store_on(RedisBackend(redis_url, prefix=prefix), KEY_B)
    provider = GatedProvider()
    try:
        await ask(a, provider)
        assert not await ask(b, provider)  # invisible, not a failure
        assert (await b.stats()).counters.integrity_failures == 0
        assert await ask(a, provider)  # and b did not delete a's entry
    finally:
        await a.aclose()
        await b.aclose()
        await drop_redis_prefix(redis_url, prefix)


async def test_an_unreachable_redis_never_fails_a_call() -> None:
    store = store_on(RedisBackend("redis://:hunter2@127.0.0.1:1/0"))
    provider = GatedProvider()
    assert not await ask(store, provider)
    assert store._errors == 1
    with pytest.raises(CacheBackendError) as info:
        await store.stats()
    assert "hunter2" not in str(info.value)
    assert redact_url("redis://u:pw@h:1/2") == "redis://u:***@h:1/2"
    assert redact_url("redis://h/0") == "redis://h/0"


# --- the signing secret ------------------------------------------------------------------------


def test_the_key_file_is_created_once_with_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "state" / "cache.key"
    first = load_or_create_key(path)
    assert len(first) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_key(path) == first
    assert SecretSource(None, path).load() == first
    assert not list(path.parent.glob(".*.tmp"))


def test_a_readable_key_file_is_tightened_and_a_damaged_one_refused(tmp_path: Path) -> None:
    path = tmp_path / "cache.key"
    load_or_create_key(path)
    os.chmod(path, 0o644)
    load_or_create_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    path.write_text("not hex")
    with pytest.raises(CacheBackendError, match="damaged"):
        load_or_create_key(path)


async def test_a_damaged_key_file_does_not_fail_calls(tmp_path: Path) -> None:
    (tmp_path / "cache.key").write_text("zz")
    store = ResponseStore(
        SqliteBackend(tmp_path / "cache.db"),
        CachePolicy(ttl_seconds=10, max_bytes=10_000),
        SecretSource(None, tmp_path / "cache.key"),
    )
    provider = GatedProvider()
    assert not await ask(store, provider) and provider.calls == 1


def test_secret_sources_and_their_order(tmp_path: Path) -> None:
    long = "s" * 32
    from_env = SecretSource.resolve(config_secret="c" * 32, key_file=None, env={SECRET_ENV: long})
    assert from_env.configured == long.encode()
    from_config = SecretSource.resolve(config_secret="c" * 32, key_file=None, env={})
    assert from_config.configured == b"c" * 32
    generated = SecretSource.resolve(config_secret=None, key_file=tmp_path / "k", env={})
    assert generated.configured is None and len(generated.load()) == 32
    ephemeral = SecretSource(None, None)
    assert ephemeral.load() != ephemeral.load()  # memory caches get a fresh key per process
    assert "s" * 32 not in repr(from_env) and long not in repr(Signer(long.encode()))
    with pytest.raises(CacheConfigurationError, match=r"cache\.secret"):
        SecretSource.resolve(config_secret="short", key_file=None, env={})
    with pytest.raises(CacheConfigurationError, match=SECRET_ENV):
        check_secret("short", where=SECRET_ENV)
    with pytest.raises(ValueError):
        Signer(b"short")


def test_signatures_bind_payload_and_key() -> None:
    s = Signer(KEY_A)
    sig = s.sign("a" * 64, b"payload")
    assert s.verify("a" * 64, b"payload", sig)
    assert not s.verify("b" * 64, b"payload", sig)
    assert not s.verify("a" * 64, b"payloaD", sig)
    assert not s.verify("a" * 64, b"payload", sig[:-1])
    assert not Signer(KEY_B).verify("a" * 64, b"payload", sig)
    assert decode(b"\xff\xfe") is None and decode(b"{}") is None
