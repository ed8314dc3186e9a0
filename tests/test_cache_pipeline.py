"""The cache as the first layer of the call pipeline, end to end through the orchestrator."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from _core_helpers import RecordingProvider, minimal_project
from claude_force.async_orchestrator import AsyncAgentOrchestrator
from claude_force.cache.errors import CacheConfigurationError
from claude_force.cache.layer import CacheProvider, build_store, cache_layer, provider_identity
from claude_force.cache.memory_backend import MemoryBackend
from claude_force.config import load_project
from claude_force.events import ExecutionFinished
from claude_force.messages import ChatMessage, MessageRequest
from claude_force.providers.anthropic import AnthropicProvider
from claude_force.providers.simulated import SimulatedProvider
from claude_force.runner import RunOptions


def project_with(tmp_path: Path, **sections: Any) -> Path:
    return minimal_project(tmp_path, **sections)


def edit_config(path: Path, **changes: Any) -> None:
    data = json.loads(path.read_text())
    for dotted, value in changes.items():
        node = data
        *parents, last = dotted.split("__")
        for p in parents:
            node = node.setdefault(p, {})
        node[last] = value
    path.write_text(json.dumps(data))


async def run_twice(
    config: Path, agent: str = "alpha", task: str = "hello", **kw: Any
) -> tuple[Any, Any, RecordingProvider, list[ExecutionFinished]]:
    provider = RecordingProvider()
    events: list[ExecutionFinished] = []
    async with AsyncAgentOrchestrator(config, provider=provider, **kw) as core:
        core.bus.subscribe(lambda e: events.append(e) if isinstance(e, ExecutionFinished) else None)
        first = await core.execute(agent, task)
        second = await core.execute(agent, task)
    return first, second, provider, events


async def test_a_repeat_is_answered_from_the_cache_with_cost_zero_and_saving_recorded(
    tmp_path: Path,
) -> None:
    config = project_with(tmp_path)
    first, second, provider, events = await run_twice(config)
    assert len(provider.requests) == 1
    assert first.success and second.success
    assert not first.cached and second.cached
    assert second.output == first.output
    assert second.cost_usd == Decimal(0) and first.cost_usd and first.cost_usd > 0
    assert second.metadata()["cached"] is True
    assert [e.cached for e in events] == [False, True]
    assert events[1].saved_cost_usd == first.cost_usd and events[0].saved_cost_usd is None
    # a new orchestrator (a new process, in effect) still finds the answer in the state dir
    assert (tmp_path / ".claude" / "state" / "cache.db").is_file()
    again, _, provider2, _ = await run_twice(config)
    assert again.cached and provider2.requests == []


async def test_editing_the_agent_or_its_contract_misses(tmp_path: Path) -> None:
    config = project_with(tmp_path)
    provider = RecordingProvider()
    async with AsyncAgentOrchestrator(config, provider=provider) as core:
        await core.execute("alpha", "hello")
        (config.parent / "agents" / "alpha.md").write_text("# Alpha Agent\n\nNow different.\n")
        assert not (await core.execute("alpha", "hello")).cached
        (config.parent / "contracts" / "alpha.contract").write_text("Answer in two paragraphs.")
        assert not (await core.execute("alpha", "hello")).cached
        assert (await core.execute("alpha", "hello")).cached
        assert not (await core.execute("alpha", "hello", RunOptions(max_tokens=99))).cached
        assert not (await core.execute("alpha", "hello", RunOptions(temperature=0.2))).cached
        assert not (await core.execute("alpha", "hello", RunOptions(context="ctx"))).cached
    assert len(provider.requests) == 6


@pytest.mark.parametrize(
    "change",
    [
        {"agents__alpha__cache": False},
        {"cache__exclude_agents": ["alpha"]},
    ],
)
async def test_agents_can_opt_out(tmp_path: Path, change: dict[str, Any]) -> None:
    config = project_with(tmp_path)
    edit_config(config, **change)
    _first, second, provider, _ = await run_twice(config)
    assert not second.cached and len(provider.requests) == 2
    _, beta_again, provider_b, _ = await run_twice(config, agent="beta")
    assert beta_again.cached and len(provider_b.requests) == 1


@pytest.mark.parametrize(
    ("change", "kwargs"),
    [
        ({"cache__enabled": False}, {}),
        ({"features__cache_enabled": False}, {}),
        ({}, {"enable_cache": False}),
    ],
)
async def test_switching_the_cache_off(
    tmp_path: Path, change: dict[str, Any], kwargs: dict[str, Any]
) -> None:
    config = project_with(tmp_path)
    edit_config(config, **change)
    _first, second, provider, _ = await run_twice(config, **kwargs)
    assert not second.cached and len(provider.requests) == 2
    assert not (tmp_path / ".claude" / "state" / "cache.db").exists()


async def test_no_cache_and_refresh_per_call(tmp_path: Path) -> None:
    config = project_with(tmp_path)
    provider = RecordingProvider()
    async with AsyncAgentOrchestrator(config, provider=provider) as core:
        await core.execute("alpha", "hi")
        assert not (await core.execute("alpha", "hi", RunOptions(use_cache=False))).cached
        assert not (await core.execute("alpha", "hi", RunOptions(refresh=True))).cached
        assert (await core.execute("alpha", "hi")).cached
        stats = await core.pipeline.store.stats()  # type: ignore[attr-defined]
    assert len(provider.requests) == 3
    assert (stats.counters.stores, stats.counters.hits, stats.counters.misses) == (2, 1, 1)


async def test_simulated_and_real_answers_never_mix(tmp_path: Path) -> None:
    config = project_with(tmp_path)
    project = load_project(config)
    store = build_store(project, backend=MemoryBackend())
    sim = CacheProvider(SimulatedProvider(seed=3), store)
    real = CacheProvider(RecordingProvider(), store)
    req = MessageRequest("claude-sonnet-5-5", (ChatMessage("user", "x"),))
    assert sim.namespace == "sim" and real.namespace == "live"
    assert sim.key_for(req) != real.key_for(req)
    assert sim.key_for(req) != CacheProvider(SimulatedProvider(seed=4), store).key_for(req)
    assert provider_identity(sim) == "simulated;seed=3"
    emulator = AnthropicProvider("k", base_url="http://127.0.0.1:9/")
    assert provider_identity(emulator) == "anthropic;http://127.0.0.1:9"
    assert provider_identity(AnthropicProvider("k")) == "anthropic"


async def test_unkeyable_requests_go_straight_to_the_provider(tmp_path: Path) -> None:
    project = load_project(project_with(tmp_path))
    inner = RecordingProvider()
    cache = CacheProvider(inner, build_store(project, backend=MemoryBackend()))
    req = MessageRequest("claude-sonnet-5-5", (ChatMessage("user", "x"),), temperature=float("nan"))
    await cache.send(req)
    await cache.send(req)
    assert len(inner.requests) == 2
    await cache.aclose()
    assert inner.closed


def test_configuration_errors_surface_when_the_pipeline_is_built(tmp_path: Path) -> None:
    config = project_with(tmp_path, cache={"backend": "redis"})
    with pytest.raises(CacheConfigurationError, match="redis_url"):
        cache_layer(load_project(config))
    config2 = project_with(tmp_path / "b", cache={"secret": "too short"})
    with pytest.raises(CacheConfigurationError, match=r"cache\.secret"):
        cache_layer(load_project(config2))
    off = project_with(tmp_path / "c", cache={"enabled": False})
    assert cache_layer(load_project(off)) is None


async def test_memory_and_redis_backends_from_settings(tmp_path: Path, redis_url: str) -> None:
    config = project_with(tmp_path, cache={"backend": "memory", "ttl_hours": 2, "max_size_mb": 1})
    store = build_store(load_project(config))
    stats = await store.stats()
    assert (stats.backend, stats.ttl_seconds, stats.max_bytes) == ("memory", 7200, 1024 * 1024)
    assert not (tmp_path / ".claude" / "state" / "cache.key").exists()  # no key file needed
    config_r = project_with(
        tmp_path / "r",
        cache={"backend": "redis", "redis_url": redis_url, "secret": "r" * 32},
    )
    store_r = build_store(load_project(config_r))
    try:
        stats_r = await store_r.stats()
        assert stats_r.backend == "redis" and "127.0.0.1" in stats_r.location
    finally:
        await store_r.clear()
        await store_r.aclose()


async def test_the_async_path_never_blocks_the_event_loop(tmp_path: Path) -> None:
    from blockbuster import blockbuster_ctx

    config = project_with(tmp_path)
    provider = SimulatedProvider()
    core = AsyncAgentOrchestrator(config, provider=provider, enable_tracking=False)
    await core.execute("beta", "warm up")  # first use: imports and file checks happen here
    with blockbuster_ctx("claude_force.cache"):
        for _ in range(2):
            ex = await core.execute("alpha", "non-blocking?")
            assert ex.success, ex.errors
        assert ex.cached
    await core.close()


async def test_the_2_2_cache_arguments_of_the_async_orchestrator(tmp_path: Path) -> None:
    config = project_with(tmp_path)
    async with AsyncAgentOrchestrator(
        config, provider=RecordingProvider(), cache_ttl_hours=2, cache_max_size_mb=5
    ) as core:
        stats = await core.pipeline.store.stats()  # type: ignore[attr-defined]
        assert (stats.ttl_seconds, stats.max_bytes) == (7200, 5 * 1024 * 1024)
    async with AsyncAgentOrchestrator(config, provider=RecordingProvider()) as core:
        stats = await core.pipeline.store.stats()  # type: ignore[attr-defined]
        assert (stats.ttl_seconds, stats.max_bytes) == (24 * 3600, 100 * 1024 * 1024)


def test_the_public_face_of_the_cache_package() -> None:
    import claude_force.cache as cache
    import claude_force.response_cache as compat

    assert compat.__all__ == ["CacheEntry", "ResponseCache"]
    assert sorted(cache.__all__) == sorted(
        [
            "KEY_VERSION",
            "SECRET_ENV",
            "CacheBackend",
            "CacheBackendError",
            "CacheConfigurationError",
            "CacheKeyError",
            "CachePolicy",
            "CacheProvider",
            "CacheStats",
            "Counters",
            "EntryInfo",
            "EntryPayload",
            "ForeignStorageError",
            "Hit",
            "Inspection",
            "MemoryBackend",
            "Record",
            "RedisBackend",
            "ResponseStore",
            "SecretSource",
            "Signer",
            "SqliteBackend",
            "body_key",
            "build_store",
            "cache_enabled",
            "cache_layer",
            "compat_key",
            "provider_identity",
            "request_key",
        ]
    )
    for name in cache.__all__:
        assert getattr(cache, name) is not None
    from claude_force.cache.backend import CacheBackend

    for backend in (
        cache.MemoryBackend(),
        cache.SqliteBackend(Path("x.db")),
        cache.RedisBackend("redis://h"),
    ):
        assert isinstance(backend, CacheBackend)
