"""The cache engine: lookups, storing policy, single-flight, savings, failures that never fail a call."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from _cache_helpers import GatedProvider, request, until
from claude_force.cache.errors import CacheBackendError, CacheKeyError
from claude_force.cache.keys import request_key
from claude_force.cache.memory_backend import MemoryBackend
from claude_force.cache.policy import CachePolicy
from claude_force.cache.records import Counters
from claude_force.cache.secret import SecretSource
from claude_force.cache.sqlite_backend import SqliteBackend
from claude_force.cache.store import ResponseStore
from claude_force.catalog import builtin_catalog
from claude_force.clock import VirtualClock
from claude_force.errors import RateLimitError
from claude_force.messages import MessageResponse, Usage

SECRET = SecretSource(b"0123456789abcdef0123456789abcdef")


def make_store(
    backend: object | None = None,
    *,
    clock: VirtualClock | None = None,
    ttl: float = 3600,
    max_bytes: int = 1_000_000,
    timer: VirtualClock | None = None,
) -> ResponseStore:
    return ResponseStore(
        backend or MemoryBackend(),  # type: ignore[arg-type]
        CachePolicy(ttl_seconds=ttl, max_bytes=max_bytes),
        SECRET,
        prices=builtin_catalog().prices,
        clock=clock or VirtualClock(1_000_000.0),
        timer=timer or VirtualClock(0.0),
    )


def fetch(store: ResponseStore, provider: GatedProvider, task: str = "t", **kw: object):  # type: ignore[no-untyped-def]
    req = request(task)
    key = request_key(req, namespace="sim", provider="gated")
    return store.fetch(
        key,
        namespace="sim",
        agent="alpha",
        model=req.model,
        call=lambda: provider.send(req),
        preview=task,
        **kw,  # type: ignore[arg-type]
    )


async def test_second_fetch_is_a_hit_with_cost_and_savings() -> None:
    timer = VirtualClock(0.0)
    store = make_store(timer=timer)
    provider = GatedProvider()

    async def slow_send(req):  # type: ignore[no-untyped-def]
        timer.advance(2.5)  # the provider "takes" 2.5 s
        return await GatedProvider.send(provider, req)

    provider.send = slow_send  # type: ignore[method-assign]
    first = await fetch(store, provider)
    second = await fetch(store, provider)
    assert provider.calls == 1
    assert not first.cached and second.cached
    assert second.text == first.text and second.usage == first.usage
    stats = await store.stats()
    c = stats.counters
    assert (c.hits, c.misses, c.stores) == (1, 1, 1)
    assert (c.input_tokens_saved, c.output_tokens_saved) == (1000, 200)
    # 1000 in + 200 out on claude-sonnet-5-5 at $2 / $10 per million tokens
    assert stats.cost_saved_usd == Decimal("0.004")
    assert stats.seconds_saved == pytest.approx(2.5)
    assert stats.hit_rate == 0.5
    assert stats.to_dict()["cost_saved_usd"] == "0.004"


class CountingSqlite(SqliteBackend):
    """Signals when ``target`` lookups have returned (so a test can wait without a clock)."""

    def __init__(self, path: Path, target: int) -> None:
        super().__init__(path)
        self.target = target
        self.returned = 0
        self.all_returned = asyncio.Event()

    async def lookup(self, *args: Any, **kwargs: Any) -> Any:
        verdict = await super().lookup(*args, **kwargs)
        self.returned += 1
        if self.returned == self.target:
            self.all_returned.set()
        return verdict


@pytest.mark.parametrize("backend_kind", ["sqlite", "memory"])
async def test_fifty_concurrent_identical_requests_make_one_provider_call(
    tmp_path: Path, backend_kind: str
) -> None:
    backend = CountingSqlite(tmp_path / "c.db", 50) if backend_kind == "sqlite" else MemoryBackend()
    store = make_store(backend)
    provider = GatedProvider()
    provider.gate = asyncio.Event()
    tasks = [asyncio.create_task(fetch(store, provider)) for _ in range(50)]
    key = request_key(request("t"), namespace="sim", provider="gated")
    if isinstance(backend, CountingSqlite):
        await backend.all_returned.wait()  # every caller has looked up (and missed) …
    else:
        await until(lambda: store.waiters(key) == 50)
    assert store.waiters(key) == 50  # … and now waits on the one call
    assert provider.calls == 1
    provider.gate.set()
    answers = await asyncio.gather(*tasks)
    assert provider.calls == 1
    assert len({a.text for a in answers}) == 1
    assert sum(not a.cached for a in answers) == 1  # the leader; 49 shared its answer
    c = (await store.stats()).counters
    assert (c.hits, c.misses, c.coalesced, c.stores) == (49, 1, 49, 1)
    assert c.input_tokens_saved == 49 * 1000
    await store.aclose()


async def test_single_flight_shares_errors_and_stores_nothing() -> None:
    store = make_store()
    provider = GatedProvider(fail=RateLimitError("slow down", status=429))
    provider.gate = asyncio.Event()
    tasks = [asyncio.create_task(fetch(store, provider)) for _ in range(5)]
    key = request_key(request("t"), namespace="sim", provider="gated")
    await until(lambda: store.waiters(key) == 5)
    provider.gate.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(r, RateLimitError) for r in results)
    assert provider.calls == 1
    assert (await store.stats()).entries == 0
    provider.fail = None
    assert not (await fetch(store, provider)).cached  # the error was not cached
    assert provider.calls == 2


async def test_a_cancelled_waiter_does_not_fail_the_others() -> None:
    store = make_store()
    provider = GatedProvider()
    provider.gate = asyncio.Event()
    key = request_key(request("t"), namespace="sim", provider="gated")
    leader = asyncio.create_task(fetch(store, provider))
    follower = asyncio.create_task(fetch(store, provider))
    await until(lambda: store.waiters(key) == 2)
    leader.cancel()  # its call is cancelled with it (it ran in the leader's task) …
    with pytest.raises(asyncio.CancelledError):
        await leader
    await until(lambda: provider.calls == 2)  # … so the follower makes the call itself
    assert store.waiters(key) == 1
    provider.gate.set()
    answer = await follower
    assert not answer.cached and answer.text.startswith("answer #2")
    c = (await store.stats()).counters
    assert (c.misses, c.hits, c.coalesced, c.stores) == (2, 0, 0, 1)  # two misses, one answer
    # a cancelled follower leaves; the leader's call goes on and is stored once
    provider.gate = asyncio.Event()
    k2 = request_key(request("other"), namespace="sim", provider="gated")
    lead2 = asyncio.create_task(fetch(store, provider, task="other"))
    gone = asyncio.create_task(fetch(store, provider, task="other"))
    await until(lambda: store.waiters(k2) == 2)
    gone.cancel()
    with pytest.raises(asyncio.CancelledError):
        await gone
    assert store.waiters(k2) == 1
    provider.gate.set()
    assert not (await lead2).cached and provider.calls == 3
    # and when the only caller leaves, the call itself is cancelled
    provider.gate = asyncio.Event()
    lonely = asyncio.create_task(fetch(store, provider, task="third"))
    k3 = request_key(request("third"), namespace="sim", provider="gated")
    await until(lambda: store.waiters(k3) == 1)
    lonely.cancel()
    with pytest.raises(asyncio.CancelledError):
        await lonely
    assert store.waiters(k3) == 0 and len(store._flights) == 0


async def test_a_repeat_looked_up_ahead_right_after_its_miss_is_a_hit(tmp_path: Path) -> None:
    store = make_store(SqliteBackend(tmp_path / "c.db"))
    provider = GatedProvider()
    key = request_key(request("t"), namespace="sim", provider="gated")
    assert not (await fetch(store, provider)).cached  # a miss: its answer's write not yet queued
    searched: list[str] = []
    found = await store.lookup_along(lambda: ("prompt", key), lambda: searched.append("memory"))
    assert found.hit is not None and found.value == "prompt"  # the write went first …
    assert searched == []  # … so nothing a miss needs was started
    await store.aclose()


@pytest.mark.parametrize("stop_reason", ["max_tokens", "tool_use", "refusal", "pause_turn"])
async def test_incomplete_answers_are_never_stored(stop_reason: str) -> None:
    store = make_store()
    provider = GatedProvider(stop_reason=stop_reason)
    await fetch(store, provider)
    await fetch(store, provider)
    assert provider.calls == 2
    assert (await store.stats()).counters.stores == 0


async def test_refresh_skips_the_cached_answer_but_stores_the_new_one() -> None:
    store = make_store()
    provider = GatedProvider()
    first = await fetch(store, provider)
    fresh = await fetch(store, provider, refresh=True)
    assert provider.calls == 2 and not fresh.cached and fresh.text != first.text
    again = await fetch(store, provider)
    assert again.cached and again.text == fresh.text


async def test_ttl_expiry_through_the_store_with_a_virtual_clock() -> None:
    clock = VirtualClock(1_000_000.0)
    store = make_store(clock=clock, ttl=60)
    provider = GatedProvider()
    await fetch(store, provider)
    await store.flush()  # written in the background: the stored entry's TTL is what is tested
    clock.advance(59.999)
    assert (await fetch(store, provider)).cached
    clock.advance(0.001)
    assert not (await fetch(store, provider)).cached
    assert provider.calls == 2
    assert (await store.stats()).counters.expirations == 1


async def test_an_answer_from_another_model_is_not_stored_under_this_key() -> None:
    store = make_store()
    req = request("t")
    key = request_key(req, namespace="sim", provider="gated")
    other = MessageResponse("x", "claude-haiku-5-5", "end_turn", Usage(1, 1))
    assert not await store.put(
        key, namespace="sim", agent="a", model=req.model, response=other, duration_s=0
    )
    dated = MessageResponse("x", req.model + "-20260101", "end_turn", Usage(1, 1))
    assert await store.put(
        key, namespace="sim", agent="a", model=req.model, response=dated, duration_s=0
    )


async def test_an_entry_larger_than_the_bound_is_not_stored() -> None:
    store = make_store(max_bytes=500)
    big = MessageResponse("x" * 1000, "claude-sonnet-5-5", "end_turn", Usage(1, 1))
    assert not await store.put(
        "f" * 64, namespace="sim", agent="a", model="claude-sonnet-5-5", response=big, duration_s=0
    )


class BrokenBackend(MemoryBackend):
    name = "broken"

    def __init__(self) -> None:
        super().__init__()
        self.fail = True
        self.calls = 0

    async def lookup(self, *a: object, **k: object):  # type: ignore[no-untyped-def, override]
        self.calls += 1
        if self.fail:
            raise CacheBackendError("redis is down")
        return await super().lookup(*a, **k)  # type: ignore[arg-type]

    async def put(self, *a: object, **k: object):  # type: ignore[no-untyped-def, override]
        if self.fail:
            raise CacheBackendError("redis is down")
        return await super().put(*a, **k)  # type: ignore[arg-type]


async def test_a_failing_backend_never_fails_the_call_and_is_rested() -> None:
    timer = VirtualClock(0.0)
    backend = BrokenBackend()
    store = make_store(backend, timer=timer)
    provider = GatedProvider()
    assert (await fetch(store, provider)).text.startswith("answer #1")
    await store.flush()  # its write is skipped too (the backend rests): nothing to repeat
    assert (await fetch(store, provider)).text.startswith("answer #2")
    assert backend.calls == 1  # backed off after the failure: no second lookup
    assert (await store.stats()).errors == 1
    timer.advance(5.0)
    backend.fail = False
    await fetch(store, provider)
    assert backend.calls == 2
    assert (await fetch(store, provider)).cached


async def test_unexpected_exceptions_from_storage_are_contained(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Weird(MemoryBackend):
        async def lookup(self, *a: object, **k: object):  # type: ignore[no-untyped-def, override]
            raise ZeroDivisionError("bug")

    store = make_store(Weird())
    provider = GatedProvider()
    assert (await fetch(store, provider)).text
    assert "response cache failed" in caplog.text


async def test_management_operations() -> None:
    clock = VirtualClock(1_000_000.0)
    store = make_store(clock=clock, ttl=100)
    provider = GatedProvider()
    await fetch(store, provider, task="one")
    await fetch(store, provider, task="two")
    [newest, oldest] = await store.entries()
    assert newest.agent == "alpha"
    full = await store.resolve(oldest.key[:10].upper())
    assert full == oldest.key
    with pytest.raises(CacheKeyError):
        await store.resolve("12345")
    with pytest.raises(CacheKeyError):
        await store.resolve("abcdef0123")  # matches nothing
    found = await store.inspect(oldest.key)
    assert found is not None and found.valid and found.live and found.entry is not None
    assert found.entry.preview == "one"
    assert await store.inspect("0" * 64) is None
    assert await store.delete(oldest.key) and not await store.delete(oldest.key)
    clock.advance(100)
    assert await store.prune() == 1
    assert await store.clear() == 0
    await store.aclose()
    await store.aclose()  # idempotent


async def test_ambiguous_prefix_is_a_usage_error() -> None:
    store = make_store()
    backend = store.backend
    await store.open()
    for k in ("abcdef" + "0" * 58, "abcdef" + "1" * 58):
        await backend.put(__import__("_cache_helpers").record(k), 10_000, 1_000_000.0, Counters())
    with pytest.raises(CacheKeyError, match="matches 2"):
        await store.resolve("abcdef")
    assert CacheKeyError("x").exit_code == 2


def test_policy_modes_and_validation() -> None:
    from claude_force.callctx import CallContext

    p = CachePolicy.from_settings(1, 1, ["noisy"])
    assert p.ttl_seconds == 3600 and p.max_bytes == 1024 * 1024
    assert p.mode(CallContext(agent="a")) == "normal"
    assert p.mode(CallContext(agent="a", refresh=True)) == "refresh"
    assert p.mode(CallContext(agent="a", use_cache=False)) == "bypass"
    assert p.mode(CallContext(agent="a", cache_allowed=False)) == "bypass"
    assert p.mode(CallContext(agent="noisy")) == "bypass"
    assert p.mode(CallContext(agent=None)) == "normal"
    assert p.is_live(10.0, 9.999) and not p.is_live(10.0, 10.0)
    assert p.fits(p.max_bytes) and not p.fits(p.max_bytes + 1)
    cached = MessageResponse("x", "m", "end_turn", Usage(), cached=True)
    assert p.refusal_reason(cached) == "already a cached answer"
    with pytest.raises(ValueError):
        CachePolicy(ttl_seconds=0, max_bytes=1)
    with pytest.raises(ValueError):
        CachePolicy(ttl_seconds=1, max_bytes=0)


async def test_entry_previews_never_hold_credentials() -> None:
    """`cache inspect`/`list` show a preview of the task: a key in the task must not land there."""
    secret = "sk-ant-api03-" + "A" * 40
    store = make_store()
    await store.open()
    await fetch(store, GatedProvider(), task=f"deploy with ANTHROPIC_API_KEY={secret} please")
    [entry] = await store.entries()
    found = await store.inspect(entry.key)
    assert found is not None and found.entry is not None
    assert secret not in found.entry.preview and "REDACTED" in found.entry.preview
    await store.aclose()


@pytest.mark.parametrize("max_bytes", [1_000_000, 500])
async def test_sqlite_builds_and_signs_an_entry_on_its_worker_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, max_bytes: int
) -> None:
    import threading

    from claude_force.cache.codec import Signer

    signed_on: list[str] = []
    real_sign = Signer.sign

    def sign(self: Signer, key: str, payload: bytes) -> bytes:
        signed_on.append(threading.current_thread().name)
        return real_sign(self, key, payload)

    monkeypatch.setattr(Signer, "sign", sign)
    store = make_store(SqliteBackend(tmp_path / "cache.db"), max_bytes=max_bytes)
    answer = MessageResponse("x" * 1000, "claude-sonnet-5-5", "end_turn", Usage(1, 1))
    stored = await store.put(
        "f" * 64,
        namespace="sim",
        agent="a",
        model="claude-sonnet-5-5",
        response=answer,
        duration_s=0,
    )
    assert stored is (max_bytes > 500)  # too large for 500 bytes: built, refused, not stored
    assert signed_on == ["claude-force-cache"]  # the event loop's thread never signs
    assert (await store.get("f" * 64) is not None) is stored
    await store.aclose()


async def test_sqlite_writes_answers_queued_together_in_one_transaction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = SqliteBackend(tmp_path / "cache.db")
    batches: list[int] = []
    real = SqliteBackend._put_batch

    def counted(self: SqliteBackend, conn: Any, items: list[Any]) -> Any:
        batches.append(len(items))
        return real(self, conn, items)

    monkeypatch.setattr(SqliteBackend, "_put_batch", counted)
    store = make_store(backend)
    answer = MessageResponse("an answer", "claude-sonnet-5-5", "end_turn", Usage(1, 1))
    keys = [f"{n:x}" * 64 for n in range(1, 6)]
    stored = await asyncio.gather(
        *(
            store.put(
                k,
                namespace="sim",
                agent="a",
                model="claude-sonnet-5-5",
                response=answer,
                duration_s=0,
            )
            for k in keys
        )
    )
    assert stored == [True] * 5
    assert sum(batches) == 5 and len(batches) <= 2  # one job (two if the thread was quick)
    assert all([await store.get(k) is not None for k in keys])
    assert (await store.stats()).entries == 5
    await store.aclose()
