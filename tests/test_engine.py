"""The engine: assembled when opened (every configuration error before any call), one request
path with nothing inserted by default, the seams a 2.2 face inserts into, the concurrency bound."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from _core_helpers import minimal_project
from claude_force.async_orchestrator import AsyncAgentOrchestrator
from claude_force.cli.app import app
from claude_force.engine import AgentEngine, ConcurrencyBound
from claude_force.errors import ConfigurationError
from claude_force.providers.base import ProviderWrapper
from claude_force.testing import ScriptedProvider

# One bad setting per section whose error used to surface only at the first call.
BAD_SECTIONS: dict[str, dict[str, Any]] = {
    "cache backend": {"cache": {"backend": "redis"}},  # no redis_url
    "cache secret": {"cache": {"secret": "short"}},  # under 16 bytes
    "performance": {"performance": {"max_concurrent_agents": 0}},
    "resilience": {"resilience": {"fallback": {"models": ["claude-3-opus-20240229"]}}},
}


@pytest.mark.parametrize("section", sorted(BAD_SECTIONS))
def test_a_configuration_error_in_any_section_is_exit_2_before_any_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, section: str
) -> None:
    monkeypatch.delenv("CLAUDE_FORCE_CACHE_SECRET", raising=False)
    config = minimal_project(tmp_path, **BAD_SECTIONS[section])
    sent: list[object] = []
    monkeypatch.setattr(
        "claude_force.providers.simulated.SimulatedProvider.send",
        lambda self, request: sent.append(request),
    )
    result = CliRunner().invoke(
        app, ["--config", str(config), "--simulate", "execute", "alpha", "t"]
    )
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: ") and len(result.stderr.splitlines()) == 1
    assert sent == []  # nothing reached the model


@pytest.mark.parametrize("section", ["cache backend", "cache secret"])
def test_the_python_faces_raise_it_when_constructed_not_at_the_first_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, section: str
) -> None:
    monkeypatch.delenv("CLAUDE_FORCE_CACHE_SECRET", raising=False)
    config = minimal_project(tmp_path, **BAD_SECTIONS[section])
    with pytest.raises(ConfigurationError):
        AsyncAgentOrchestrator(config, provider=ScriptedProvider())
    with pytest.raises(ConfigurationError):
        AgentEngine.open(config, provider=ScriptedProvider())


async def test_the_engine_owns_its_parts_and_sends_down_the_pipeline(tmp_path: Path) -> None:
    provider = ScriptedProvider()
    async with AgentEngine.open(minimal_project(tmp_path), provider=provider) as engine:
        assert engine.memory is not None and engine.metrics is not None
        # the pipeline ends in the engine's provider slot, which holds the given provider
        layer: object = engine.pipeline
        while isinstance(layer, ProviderWrapper) and layer is not engine.provider:
            layer = layer.inner
        assert layer is engine.provider and engine.provider.inner is provider
        assert engine.runner.call == engine.pipeline.send  # nothing inserted
        ex = await engine.execute("alpha", "hello")
    assert ex.success and len(provider.requests) == 1 and provider.closed


async def test_inserted_seams_are_used_and_removed(tmp_path: Path) -> None:
    chosen, other, transport = ScriptedProvider(), ScriptedProvider(), ScriptedProvider()
    async with AgentEngine.open(
        minimal_project(tmp_path), provider=chosen, cache=False, memory=False, tracking=False
    ) as engine:

        async def loader(agent: str) -> str:
            return f"prompt of {agent}"

        engine.insert_loader(loader)
        engine.insert_provider(other)
        await engine.execute("alpha", "one")
        assert other.requests[0].system[0].text == "prompt of alpha"
        engine.insert_transport(transport)
        await engine.execute("alpha", "two")
        assert len(transport.requests) == 1 and len(other.requests) == 1
        for reset in (engine.insert_loader, engine.insert_provider, engine.insert_transport):
            reset(None)
        await engine.execute("alpha", "three")
        assert len(chosen.requests) == 1 and chosen.requests[0].system[0].text.startswith("# Alpha")


async def test_the_bound_is_per_loop_and_can_be_raised() -> None:
    bound = ConcurrencyBound(1)
    inside = 0
    peak = 0

    async def hold() -> None:
        nonlocal inside, peak
        async with bound:
            inside += 1
            peak = max(peak, inside)
            await asyncio.sleep(0)
            inside -= 1

    await asyncio.gather(*(hold() for _ in range(4)))
    assert peak == 1
    bound.raise_to(3)
    peak = 0
    await asyncio.gather(*(hold() for _ in range(6)))
    assert peak == 3
    bound.reset(2)
    peak = 0
    await asyncio.gather(*(hold() for _ in range(6)))
    assert peak == 2


async def test_a_call_in_flight_across_a_reset_gives_its_slot_back_where_it_took_it() -> None:
    """Lowering the bound while a call holds a slot: that call finishes on its slot, and its
    release does not add a slot to the new limit (two would then run where one may)."""
    bound = ConcurrencyBound(2)
    release_old = asyncio.Event()
    inside = peak = 0

    async def hold(until: asyncio.Event | None = None) -> None:
        nonlocal inside, peak
        async with bound:
            inside += 1
            peak = max(peak, inside)
            if until is not None:
                await until.wait()
            await asyncio.sleep(0.001)
            inside -= 1

    old = asyncio.ensure_future(hold(release_old))
    await asyncio.sleep(0)  # it holds a slot of the limit 2
    bound.reset(1)
    new = [asyncio.ensure_future(hold()) for _ in range(3)]
    await asyncio.sleep(0)
    release_old.set()  # the old call leaves while the new ones queue for the one slot
    await asyncio.gather(old, *new)
    assert bound._value == 1  # exactly the new limit free again
    peak = 0
    await asyncio.gather(*(hold() for _ in range(4)))
    assert peak == 1


def test_a_bound_survives_a_new_event_loop() -> None:
    bound = ConcurrencyBound(2)

    async def once() -> None:
        async with bound:
            await asyncio.sleep(0)

    asyncio.run(once())
    asyncio.run(once())  # a semaphore of the first loop would fail here


def test_the_engine_rejects_a_zero_bound(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="max_concurrent"):
        AgentEngine.open(minimal_project(tmp_path), max_concurrent=0, provider=ScriptedProvider())


def test_nothing_below_the_faces_imports_them() -> None:
    """The engine never calls back up: no module of the engine, pipeline, provider, state or
    observability layers imports the 2.2 faces (claude_force.compat or their old paths)."""
    import re

    root = Path(__file__).resolve().parent.parent / "src" / "claude_force"
    faces = r"(compat|orchestrator|async_orchestrator|hybrid_orchestrator|response_cache|performance_tracker|agent_memory|base)"
    pattern = re.compile(rf"^\s*(from|import)\s+(claude_force\.|\.+){faces}\b", re.M)
    below = ["engine", "workflows", "routing", "providers", "resilience", "cache", "memory",
             "metrics", "monitoring", "config", "cluster", "testing"]  # fmt: skip
    files = [root / "runner.py", root / "pipeline.py", root / "events.py", root / "clock.py"]
    for package in below:
        files += sorted((root / package).rglob("*.py"))
    offenders = [
        f"{f.relative_to(root)}: {m.group(0).strip()}"
        for f in files
        for m in pattern.finditer(f.read_text(encoding="utf-8"))
        if not (m.group(3) == "base" and "providers" in str(f))  # providers.base is not a face
    ]
    assert offenders == []
