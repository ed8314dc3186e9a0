"""A miss the response store can lead at once is handed on (issue #10: memory in flight).

``ResponseStore.fetch`` of a miss looked up ahead (or ``refresh``) with a ``ProviderCall`` leads
its flight without a coroutine of its own: the flight's ending (store the answer, share it with
the followers, fail them, or hand over to one of them) is the call's ``After``. These tests pin
the structure and that single-flight and storage behave as in the store's own coroutine.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from _cache_helpers import GatedProvider, request, until
from _frames import qualnames
from claude_force.cache.keys import request_key
from claude_force.cache.policy import CachePolicy
from claude_force.cache.secret import SecretSource
from claude_force.cache.sqlite_backend import SqliteBackend
from claude_force.cache.store import Found, ProviderCall, ResponseStore
from claude_force.errors import ServerError
from claude_force.messages import MessageRequest
from claude_force.providers.base import call_at_once


@pytest.fixture
async def store(tmp_path: Path) -> Any:
    s = ResponseStore(
        SqliteBackend(tmp_path / "cache.db"),
        CachePolicy(ttl_seconds=3600, max_bytes=1_000_000),
        SecretSource(b"0123456789abcdef0123456789abcdef"),
    )
    await s.open()
    yield s
    await s.aclose()


async def missed(store: ResponseStore, req: MessageRequest) -> tuple[str, Found[Any]]:
    key = request_key(req, namespace="sim", provider="gated")
    found = await store.lookup_along(lambda: (None, key))
    assert found.hit is None and found.looked_up
    return key, found


def fetch(store: ResponseStore, key: str, call: Any, **kw: Any) -> Any:
    """A fetch made as the runner makes its call: its reply awaited at once (``call_at_once``)."""
    return call_at_once(lambda _: unpromised(store, key, call, **kw), request("any"))


def unpromised(store: ResponseStore, key: str, call: Any, **kw: Any) -> Any:
    return store.fetch(
        key, namespace="sim", agent="alpha", model="claude-sonnet-5-5", call=call, **kw
    )


async def test_a_miss_found_ahead_is_handed_on_and_its_followers_share_the_answer(
    store: ResponseStore,
) -> None:
    req = request("t")
    key, found = await missed(store, req)
    provider = GatedProvider()
    provider.gate = asyncio.Event()
    leader = asyncio.ensure_future(fetch(store, key, ProviderCall(provider, req), found=found))
    follower = asyncio.ensure_future(fetch(store, key, ProviderCall(provider, req)))
    await until(lambda: provider.in_flight == 1 and store._flights.waiters(key) == 2)
    # the leader waits in the provider's coroutine (told by one small one): no store frame
    assert not any(name.startswith("ResponseStore") for name in qualnames(leader.get_coro()))
    provider.gate.set()
    first, second = await asyncio.gather(leader, follower)
    assert provider.calls == 1 and not first.cached and second.cached
    assert second.text == first.text
    await store.flush()
    again = await fetch(store, key, ProviderCall(provider, req))  # the answer was stored
    assert again.cached and provider.calls == 1


async def test_an_error_of_a_handed_on_call_fails_its_followers(store: ResponseStore) -> None:
    req = request("t")
    key, found = await missed(store, req)
    provider = GatedProvider(fail=ServerError("down"))
    provider.gate = asyncio.Event()
    leader = asyncio.ensure_future(fetch(store, key, ProviderCall(provider, req), found=found))
    follower = asyncio.ensure_future(fetch(store, key, ProviderCall(provider, req)))
    await until(lambda: store._flights.waiters(key) == 2)
    provider.gate.set()
    results = await asyncio.gather(leader, follower, return_exceptions=True)
    assert [type(r) for r in results] == [ServerError, ServerError]
    assert provider.calls == 1 and key not in store._flights


async def test_a_cancelled_handed_on_leader_hands_its_flight_to_a_follower(
    store: ResponseStore,
) -> None:
    req = request("t")
    key, found = await missed(store, req)
    provider = GatedProvider()
    provider.gate = asyncio.Event()
    leader = asyncio.ensure_future(fetch(store, key, ProviderCall(provider, req), found=found))
    follower = asyncio.ensure_future(fetch(store, key, ProviderCall(provider, req)))
    await until(lambda: store._flights.waiters(key) == 2)
    leader.cancel()
    await until(lambda: provider.in_flight == 1 and len(provider.requests) == 2)
    provider.gate.set()
    answer = await follower
    assert leader.cancelled() and not answer.cached and provider.calls == 2
    assert key not in store._flights


async def test_what_must_await_first_runs_in_the_stores_own_coroutine(
    store: ResponseStore,
) -> None:
    """No lookup ahead, a plain callable, or a miss gone stale: the store's own coroutine."""
    req = request("t")
    key, found = await missed(store, req)
    provider = GatedProvider()
    call = ProviderCall(provider, req)
    unlooked = fetch(store, key, call)
    assert qualnames(unlooked)[0] == "ResponseStore._fetch"  # it must look up first
    unlooked.close()
    plain = fetch(store, key, lambda: provider.send(req), found=found)
    assert qualnames(plain)[0] == "ResponseStore._fetch"
    await plain  # its answer is stored: the miss found ahead of that is stale now
    await store.flush()
    stale = fetch(store, key, call, found=found)
    assert qualnames(stale)[0] == "ResponseStore._fetch"
    assert (await stale).cached and provider.calls == 1
    refreshed = fetch(store, key, call, refresh=True)  # nothing to read: led at once
    assert "ResponseStore._fetch" not in qualnames(refreshed)
    assert not (await refreshed).cached and provider.calls == 2


async def test_a_fetch_never_awaited_leads_no_flight(store: ResponseStore) -> None:
    """A caller that did not promise to await at once (a task cancelled before its first step):
    nothing is led before the reply runs, so a later fetch of the key is not left waiting."""
    req = request("t")
    key, found = await missed(store, req)
    provider = GatedProvider()
    task = asyncio.ensure_future(unpromised(store, key, ProviderCall(provider, req), found=found))
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert key not in store._flights
    answer = await asyncio.wait_for(unpromised(store, key, ProviderCall(provider, req)), 5)
    assert not answer.cached and provider.calls == 1
