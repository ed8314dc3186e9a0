"""A batch of tasks (``execute_many`` / ``execute_multiple`` / ``run_many``): one bad item never
aborts the others — a malformed item, an unexpected error, a failing tracker — and cancelling
the batch still cancels it."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest

from _core_helpers import RecordingProvider
from claude_force.async_orchestrator import AsyncAgentOrchestrator
from claude_force.config import load_project
from claude_force.events import ExecutionFinished
from claude_force.messages import MessageRequest, MessageResponse
from claude_force.orchestrator import AgentOrchestrator
from claude_force.runner import Execution, RunOptions


def core(config: Path, provider: Any, **kw: Any) -> AsyncAgentOrchestrator:
    kw.setdefault("enable_memory", False)
    return AsyncAgentOrchestrator(project=load_project(config), provider=provider, **kw)


@pytest.mark.parametrize(
    "bad",
    [
        ("python-expert", None),
        ("python-expert", 42),
        (None, "a task"),
        ("python-expert",),
        ("python-expert", "task", "extra"),
        "python-expert: a task",
        None,
    ],
)
async def test_a_malformed_item_is_its_own_failure(sample_config: Path, bad: object) -> None:
    provider = RecordingProvider()
    async with core(sample_config, provider) as orch:
        results = await orch.execute_multiple(
            [("code-reviewer", "first"), bad, ("test-engineer", "last")]  # type: ignore[list-item]
        )
    assert [r.success for r in results] == [True, False, True]
    assert [r.output for r in (results[0], results[2])] == ["answer to: first", "answer to: last"]
    failed = results[1]
    assert failed.metadata["error_type"] == "TypeError"
    assert failed.errors[0].startswith("expected an (agent_name, task) pair of strings, got ")
    assert repr(bad)[:40] in failed.errors[0]
    assert failed.metadata["simulated"] is False and failed.metadata["provider"] == "recording"
    assert len(provider.requests) == 2  # the malformed item never reached the provider


async def test_an_unexpected_error_of_one_item_is_its_failure(
    sample_config: Path, caplog: pytest.LogCaptureFixture
) -> None:
    provider = RecordingProvider()
    async with core(sample_config, provider) as orch:
        real_execute = orch.engine.execute

        async def execute(agent: str, task: str, options: RunOptions | None = None) -> Execution:
            if task == "boom":
                raise RuntimeError("a bug in a hook")
            return await real_execute(agent, task, options)

        orch.engine.execute = execute  # type: ignore[method-assign]
        with caplog.at_level(logging.WARNING, logger="claude_force.async_orchestrator"):
            executions = await orch.execute_many(
                [("python-expert", "ok 1"), ("code-reviewer", "boom"), ("test-engineer", "ok 2")],
                RunOptions(model="haiku", workflow_name="wf", workflow_position=2),
            )
    assert [e.success for e in executions] == [True, False, True]
    bad = executions[1]
    assert (bad.agent, bad.task, bad.errors, bad.error_type) == (
        "code-reviewer",
        "boom",
        ("a bug in a hook",),
        "RuntimeError",
    )
    assert (bad.model, bad.workflow_name, bad.workflow_position) == ("haiku", "wf", 2)
    assert "agent code-reviewer failed unexpectedly: a bug in a hook" in caplog.text


async def test_a_failing_tracker_never_loses_a_result(
    sample_config: Path, caplog: pytest.LogCaptureFixture
) -> None:
    class BrokenTracker:
        def __init__(self) -> None:
            self.seen: list[ExecutionFinished] = []

        async def record_event_async(self, event: ExecutionFinished) -> None:
            self.seen.append(event)
            raise OSError("disk full")

    tracker = BrokenTracker()
    async with core(sample_config, RecordingProvider()) as orch:
        orch.tracker = tracker
        with caplog.at_level(logging.WARNING, logger="claude_force.async_orchestrator"):
            results = await orch.execute_multiple([("python-expert", "a"), ("code-reviewer", "b")])
    assert [r.success for r in results] == [True, True]
    assert [r.output for r in results] == ["answer to: a", "answer to: b"]
    assert sorted(e.agent for e in tracker.seen) == ["code-reviewer", "python-expert"]
    assert caplog.text.count("not tracked: disk full") == 2


def test_run_many_of_the_sync_facade_isolates_bad_items(sample_config: Path) -> None:
    with AgentOrchestrator(
        str(sample_config), provider=RecordingProvider(), enable_memory=False
    ) as orch:
        results = orch.run_many([("python-expert", "fine"), ("python-expert", None)])  # type: ignore[list-item]
    assert [r.success for r in results] == [True, False]
    assert results[1].metadata["error_type"] == "TypeError"


async def test_cancelling_a_batch_cancels_it(sample_config: Path) -> None:
    started = asyncio.Event()

    async def hang(request: MessageRequest) -> MessageResponse:
        started.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async with core(sample_config, RecordingProvider(hang), max_retries=1) as orch:
        batch = asyncio.create_task(orch.execute_many([("python-expert", "x"), ("bad",)]))  # type: ignore[list-item]
        async with asyncio.timeout(10):  # only reached if the batch never started
            await started.wait()
        batch.cancel()
        with pytest.raises(asyncio.CancelledError):
            await batch


async def test_a_failed_item_keeps_its_workflow_ids_and_costs_nothing(sample_config: Path) -> None:
    orch = core(sample_config, RecordingProvider())
    opts = RunOptions(workflow_name="wf", workflow_run_id="run-1", step_id="s1")
    [bad, good] = await orch.execute_many([("python-expert", None), ("python-expert", "ok")], opts)  # type: ignore[list-item]
    assert not bad.success and good.success
    assert (bad.workflow_run_id, bad.step_id, bad.workflow_name) == ("run-1", "s1", "wf")
    assert bad.cost_usd == 0
    await orch.close()
