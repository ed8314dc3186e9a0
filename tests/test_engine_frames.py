"""What the engine's own layer holds while a run waits for the model (issue #10: memory at
1,000 in flight).

An item of ``execute_many`` is its run's coroutine itself (no frame of ``_execute_item``,
``execute`` or ``_run`` waits with it), and the run's frame keeps nothing that only the lookup
ahead needed (the memory search's future, the function that starts it, the prompt's reader);
the prefetched prompt is taken by the runner when it reads it.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import types
import weakref
from contextvars import Token
from pathlib import Path
from typing import Any

import pytest

from _core_helpers import minimal_project
from _frames import awaited, located
from claude_force.async_orchestrator import AsyncAgentOrchestrator
from claude_force.config import load_project
from claude_force.engine import ConcurrencyBound, service
from claude_force.errors import ConfigurationError
from claude_force.runner import Execution, RunOptions
from claude_force.testing import ScriptedProvider


def _waiting_chains() -> list[list[Any]]:
    """The await chains of the tasks held in the provider."""
    chains = [list(awaited(task.get_coro())) for task in asyncio.all_tasks()]
    return [c for c in chains if any(located(x).endswith("ScriptedProvider.send") for x in c)]


def _engine(chain: list[Any]) -> list[str]:
    return [located(c) for c in chain if located(c).startswith("engine/")]


def _orchestrator(root: Path, **extra: Any) -> tuple[AsyncAgentOrchestrator, ScriptedProvider]:
    provider = ScriptedProvider(name="recording", simulated=False)
    provider.gate = asyncio.Event()  # the model "thinks" until the test has looked
    orch = AsyncAgentOrchestrator(
        project=load_project(minimal_project(root, **extra)), provider=provider
    )
    return orch, provider


async def _held(provider: ScriptedProvider, run: asyncio.Future[Any], n: int) -> None:
    while provider.in_flight < n:
        assert not run.done(), run.result()
        await asyncio.sleep(0)


def _lookahead_only(frame_locals: dict[str, Any]) -> list[str]:
    """Locals of a waiting run's frame that only the lookup ahead needed."""
    return [
        name
        for name, value in frame_locals.items()
        if isinstance(
            value,
            (asyncio.Future, functools.partial, types.FunctionType, Token),
        )
        or name in {"search", "start", "read", "build", "token", "system"}
    ]


async def test_an_item_of_execute_many_waits_in_its_run_alone(tmp_path: Path) -> None:
    orch, provider = _orchestrator(tmp_path)
    try:
        # the first wave looks up ahead and searches memory (search_soon); the second, whose
        # prompts are known, takes the sure-miss way
        for wave in ("one", "two"):
            provider.gate = asyncio.Event()
            run = asyncio.ensure_future(
                orch.execute_many([("alpha", f"task {wave} a"), ("beta", f"task {wave} b")])
            )
            await _held(provider, run, 2)
            chains = _waiting_chains()
            assert len(chains) == 2
            for chain in chains:
                assert _engine(chain) == ["engine/service.py:AgentEngine._run_looking_ahead"]
                assert located(chain[0]) == "engine/service.py:AgentEngine._run_looking_ahead"
                assert located(chain[1]) == "runner.py:AgentRunner.run"
                held = chain[0].cr_frame.f_locals
                assert _lookahead_only(held) == [], held
            provider.gate.set()
            results = await run
            assert [r.success for r in results] == [True, True], [r.errors for r in results]
    finally:
        await orch.close()


async def test_execute_waits_in_execute_and_its_run(tmp_path: Path) -> None:
    orch, provider = _orchestrator(tmp_path)
    try:
        run = asyncio.ensure_future(orch.execute("beta", "task one"))
        await _held(provider, run, 1)
        (chain,) = _waiting_chains()
        assert _engine(chain) == [
            "engine/service.py:AgentEngine.execute",
            "engine/service.py:AgentEngine._run_looking_ahead",
        ]
        provider.gate.set()
        assert (await run).success
    finally:
        await orch.close()


async def test_without_the_cache_an_item_waits_in_its_plain_run(tmp_path: Path) -> None:
    orch, provider = _orchestrator(tmp_path, cache={"enabled": False})
    try:
        run = asyncio.ensure_future(orch.execute_many([("beta", "t1"), ("alpha", "t2")]))
        await _held(provider, run, 2)
        chains = _waiting_chains()
        assert [_engine(c) for c in chains] == [["engine/service.py:AgentEngine._run_plain"]] * 2
        provider.gate.set()
        assert [r.success for r in await run] == [True, True]
    finally:
        await orch.close()


async def test_the_prefetched_prompt_is_taken_by_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing is left in the caller's context after a run, whether the runner read the prompt
    or failed before it did; a prompt that could not be read is the run's failure."""
    orch, provider = _orchestrator(tmp_path)
    provider.gate = None
    try:
        assert (await orch.execute("beta", "one")).success
        assert service._PREFETCHED.get() is None

        def no_model(agent: str, override: str | None) -> str:
            raise ConfigurationError("no model today", key="models")

        with monkeypatch.context() as m:  # the runner fails before it reads the prompt
            m.setattr(orch.engine.runner, "_resolve_model", no_model)
            bad = await orch.execute("beta", "two")
        assert not bad.success and bad.errors == ("models: no model today",)
        assert service._PREFETCHED.get() is None
        (tmp_path / ".claude" / "agents" / "beta.md").unlink()
        gone = await orch.execute("beta", "three")
        assert not gone.success and gone.errors
        assert service._PREFETCHED.get() is None
    finally:
        await orch.close()


@pytest.mark.parametrize("cache", [True, False])
async def test_an_item_run_that_raises_is_its_failure_and_cancellation_propagates(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    cache: bool,
) -> None:
    orch, provider = _orchestrator(tmp_path, cache={"enabled": cache})
    provider.gate = None
    real_run = orch.engine.runner.run

    async def run(agent: str, task: str, opts: RunOptions) -> Execution:
        if task == "boom":
            raise RuntimeError("a bug in a layer")
        if task == "cancel":
            raise asyncio.CancelledError
        return await real_run(agent, task, opts)

    monkeypatch.setattr(orch.engine.runner, "run", run)
    try:
        with caplog.at_level(logging.WARNING, logger="claude_force.engine.service"):
            results = await orch.engine.execute_many(
                [("alpha", "ok 1"), ("beta", "boom"), ("alpha", "ok 2")],
                RunOptions(workflow_name="wf", workflow_position=2),
            )
        assert [r.success for r in results] == [True, False, True]
        bad = results[1]
        assert (bad.agent, bad.task, bad.errors, bad.error_type) == (
            "beta",
            "boom",
            ("a bug in a layer",),
            "RuntimeError",
        )
        assert (bad.workflow_name, bad.workflow_position) == ("wf", 2)
        assert "agent beta failed unexpectedly: a bug in a layer" in caplog.text
        with pytest.raises(asyncio.CancelledError):
            await orch.engine.execute_many([("alpha", "ok 3"), ("beta", "cancel")])
    finally:
        await orch.close()


async def test_a_slot_holder_is_known_by_its_context_not_a_weak_reference() -> None:
    """The bound knows which task holds a slot without a weak reference to it (one per call in
    flight); a holder enters again without a slot, a task it starts takes one of its own."""
    bound = ConcurrencyBound(1)
    task = asyncio.current_task()
    assert task is not None
    refs = weakref.getweakrefcount(task)
    child_entered = asyncio.Event()

    async def child() -> None:
        async with bound:  # waits for the holder's slot
            child_entered.set()

    async with bound:
        assert weakref.getweakrefcount(task) == refs
        async with bound, bound:  # the holder again, twice: no second slot (the limit is 1)
            assert bound._value == 0
        started = asyncio.ensure_future(child())
        await asyncio.sleep(0.01)
        assert not child_entered.is_set()  # the child waits for a slot of its own
        assert bound._value == 0
    await started
    assert child_entered.is_set() and bound._value == 1
    async with bound:  # left completely: entering takes the slot again
        assert bound._value == 0
    assert bound._value == 1
