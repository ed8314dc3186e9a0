"""Single-flight across processes on the Redis cache: two stores that share nothing but Redis
(two processes' caches) make one model call for one key; the other waits for its answer."""

from __future__ import annotations

import asyncio

import pytest

from _cache_helpers import GatedProvider, drop_redis_prefix, redis_prefix, request
from _cluster_helpers import redis_or_skip
from claude_force.cache.keys import request_key
from claude_force.cache.policy import CachePolicy
from claude_force.cache.redis_backend import RedisBackend
from claude_force.cache.secret import SecretSource
from claude_force.cache.store import ResponseStore

pytestmark = pytest.mark.services

SECRET = SecretSource(b"0123456789abcdef0123456789abcdef")


def _store(url: str, prefix: str) -> ResponseStore:
    return ResponseStore(
        RedisBackend(url, prefix=prefix), CachePolicy(ttl_seconds=3600, max_bytes=10**6), SECRET
    )


async def test_two_processes_one_call() -> None:
    url = redis_or_skip()
    prefix = redis_prefix()
    a, b = _store(url, prefix), _store(url, prefix)
    pa, pb = GatedProvider(), GatedProvider()
    pa.gate = asyncio.Event()
    req = request("the same task")
    key = request_key(req, namespace="sim", provider="gated")

    def fetch(store: ResponseStore, provider: GatedProvider) -> asyncio.Task[object]:
        return asyncio.ensure_future(
            store.fetch(
                key,
                namespace="sim",
                agent="alpha",
                model=req.model,
                call=lambda: provider.send(req),
            )
        )

    try:
        first = fetch(a, pa)
        for _ in range(1000):  # a holds the claim and is calling the model (bounded wait)
            if pa.calls == 1:
                break
            await asyncio.sleep(0.01)
        assert pa.calls == 1
        second = fetch(b, pb)
        await asyncio.sleep(0.3)  # b waits for a's answer rather than calling
        assert pb.calls == 0
        pa.gate.set()
        ra, rb = await asyncio.wait_for(asyncio.gather(first, second), 10)
        assert pa.calls == 1 and pb.calls == 0
        assert rb.text == ra.text and rb.cached and not ra.cached  # type: ignore[attr-defined]
        # the claim is gone: a refresh elsewhere calls again
        assert not await a.backend.claimed(key)  # type: ignore[attr-defined]
    finally:
        await a.aclose()
        await b.aclose()
        await drop_redis_prefix(url, prefix)


async def test_a_claim_that_ends_without_an_answer_lets_the_waiter_call() -> None:
    url = redis_or_skip()
    prefix = redis_prefix()
    a, b = _store(url, prefix), _store(url, prefix)
    pb = GatedProvider()
    req = request("a task whose leader died")
    key = request_key(req, namespace="sim", provider="gated")
    try:
        await a.open()
        assert await a.backend.claim(key, 0.3)  # type: ignore[attr-defined]  # a "crashed" leader
        got = await b.fetch(
            key, namespace="sim", agent="alpha", model=req.model, call=lambda: pb.send(req)
        )
        assert pb.calls == 1 and not got.cached
    finally:
        await a.aclose()
        await b.aclose()
        await drop_redis_prefix(url, prefix)
