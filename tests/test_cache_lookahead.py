"""The exact-cache lookup made ahead of the memory search (``AgentEngine._run_looking_ahead``):
which jobs run on a miss and on a hit, when the old path is kept, and a miss that went stale."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from _cache_helpers import GatedProvider, request
from _core_helpers import RecordingProvider, write_project
from claude_force.async_orchestrator import AsyncAgentOrchestrator
from claude_force.cache.keys import request_key
from claude_force.cache.policy import CachePolicy
from claude_force.cache.secret import SecretSource
from claude_force.cache.sqlite_backend import SqliteBackend
from claude_force.cache.store import ResponseStore
from claude_force.memory.context import HEADER
from claude_force.memory.service import MemoryService


def project(root: Path, cache: dict[str, Any] | None = None) -> Path:
    config: dict[str, Any] = {"agents": {"alpha": {"file": "agents/alpha.md"}}}
    if cache is not None:
        config["cache"] = cache
    return write_project(root, config, {"agents/alpha.md": "# Alpha\n\nAlpha answers.\n"})


class Counting:
    """Counts the cache backend's lookups (either kind) and the memory searches."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[str] = []
        for cls, name in (
            (SqliteBackend, "lookup"),
            (SqliteBackend, "_lookup_along"),
            (MemoryService, "_context_or_nothing"),
            (MemoryService, "context_with_ids"),
        ):
            monkeypatch.setattr(cls, name, self._counted(name, getattr(cls, name)))

    def _counted(self, name: str, real: Any) -> Any:
        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            return real(*args, **kwargs)

        return counted

    def take(self) -> list[str]:
        taken, self.calls = self.calls, []
        return taken


async def test_a_miss_looks_up_once_ahead_and_a_hit_searches_no_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    counting = Counting(monkeypatch)
    provider = RecordingProvider()
    orch = AsyncAgentOrchestrator(project(tmp_path), provider=provider, enable_tracking=False)
    first = await orch.execute("alpha", "Plan the kafka migration")
    # one job looked up (along the prompt's read), then memory was searched; no other lookup
    assert counting.take() == ["_lookup_along", "_context_or_nothing"]
    second = await orch.execute("alpha", "Plan the kafka rollback")
    # a sure miss (its key is not in the store's key filter): no lookup job; memory searched
    # once, after the first run's session (waiting for its write, sharing words) is written:
    # on the event loop when memory is idle (no job at all), else on its worker — in the job
    # that reads the prompt too when the first run's search had not settled yet
    calls = counting.take()
    assert calls in ([], ["context_with_ids", "_context_or_nothing"], ["_context_or_nothing"])
    assert HEADER in provider.requests[-1].messages[0].content  # the miss got its context
    again = await orch.execute("alpha", "Plan the kafka rollback")
    assert counting.take() == ["_lookup_along"]  # a hit: memory is never searched
    assert not first.cached and not second.cached and again.cached
    assert again.output == second.output and len(provider.requests) == 2
    stats = await orch.pipeline.store.stats()  # type: ignore[attr-defined]
    assert (stats.counters.hits, stats.counters.misses) == (1, 2)
    await orch.close()


@pytest.mark.parametrize("how", ["strict", "refresh", "no-cache-for-agent"])
async def test_the_lookup_waits_for_memory_where_it_must(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    """Strict keying needs the memory context in the key; --refresh reads nothing; an agent
    the cache leaves out is never looked up: none of them looks ahead."""
    cache = {"key_includes_memory": True} if how == "strict" else {}
    if how == "no-cache-for-agent":
        cache = {"exclude_agents": ["alpha"]}
    counting = Counting(monkeypatch)
    orch = AsyncAgentOrchestrator(
        project(tmp_path, cache), provider=RecordingProvider(), enable_tracking=False
    )
    from claude_force.runner import RunOptions

    opts = RunOptions(refresh=how == "refresh")
    await orch.execute("alpha", "Plan the kafka migration", opts)
    calls = counting.take()
    assert "_lookup_along" not in calls and "_context_or_nothing" in calls
    assert calls.count("lookup") == (1 if how == "strict" else 0)
    await orch.close()


async def test_a_miss_looked_up_ahead_is_not_trusted_once_its_key_was_stored(
    tmp_path: Path,
) -> None:
    """A concurrent run of the same request stored its answer between this run's lookup and
    its call: the run looks again (a hit, no second call) and its first miss is taken back."""
    store = ResponseStore(
        SqliteBackend(tmp_path / "cache.db"),
        CachePolicy(ttl_seconds=3600, max_bytes=1_000_000),
        SecretSource(b"0123456789abcdef0123456789abcdef"),
    )
    await store.open()
    req = request("t")
    key = request_key(req, namespace="sim", provider="gated")
    assert store.looks_along()
    found = await store.lookup_along(lambda: ("prompt", key))
    assert found.value == "prompt" and found.key == key and found.hit is None and found.looked_up
    provider = GatedProvider()

    def fetch(**kw: Any) -> Any:
        return store.fetch(
            key,
            namespace="sim",
            agent="alpha",
            model=req.model,
            call=lambda: provider.send(req),
            **kw,
        )

    await fetch()  # the other run: a miss, a call, its answer stored
    await store.flush()
    answer = await fetch(found=found)
    assert answer.cached and provider.calls == 1
    counters = (await store.stats()).counters
    assert (counters.hits, counters.misses) == (1, 1)
    await store.aclose()
