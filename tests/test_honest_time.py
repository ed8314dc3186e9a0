"""Honest time: queue wait is recorded apart from service time ("duration"), and the speedup is the
sum of service times over the wall time, only for runs that succeeded (CLI, JSON, workflows)."""

from __future__ import annotations

import asyncio
import json
import time
import types
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from _core_helpers import RecordingProvider, default_response, minimal_project
from claude_force import callctx
from claude_force import runner as runner_module
from claude_force.async_orchestrator import AsyncAgentOrchestrator
from claude_force.cli._report import RunSummary
from claude_force.cli.app import app
from claude_force.errors import InvalidRequestError
from claude_force.messages import MessageRequest, MessageResponse
from claude_force.providers.simulated import SimulatedProvider
from claude_force.speedup import speedup_of
from claude_force.workflows import WorkflowDAG

cli = CliRunner()


class VirtualTime:
    """``perf_counter`` for the runner: only the provider advances it (1 s per call)."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def vtime(monkeypatch: pytest.MonkeyPatch) -> VirtualTime:
    clock = VirtualTime()
    fake = types.SimpleNamespace(perf_counter=clock, monotonic=time.monotonic)
    monkeypatch.setattr(runner_module, "time", fake)
    return clock


async def test_queue_wait_is_excluded_from_duration(tmp_path: Path, vtime: VirtualTime) -> None:
    async def respond(request: MessageRequest) -> MessageResponse:
        vtime.now += 1.0  # one second of service, on the virtual clock
        await asyncio.sleep(0)
        return default_response(request)

    provider = RecordingProvider(respond)
    orch = AsyncAgentOrchestrator(
        minimal_project(tmp_path),
        provider=provider,
        max_concurrent=1,
        enable_tracking=False,
        enable_memory=False,
        enable_cache=False,
    )
    executions = await orch.execute_many([("alpha", f"task {i}") for i in range(4)])
    await orch.close()
    assert provider.max_in_flight == 1
    assert [ex.duration_ms for ex in executions] == [1000.0] * 4  # service time only
    assert sorted(ex.queue_wait_ms for ex in executions) == [0.0, 1000.0, 2000.0, 3000.0]
    assert all(ex.metadata()["execution_time_ms"] == 1000.0 for ex in executions)
    # one at a time: the sum of service times is the wall time, so the speedup is 1, not 2.5
    summary = RunSummary.of(executions, wall_s=vtime.now, mode="async", max_concurrent=1)
    assert summary.busy_s == 4.0 and summary.queue_wait_s == 6.0
    assert summary.speedup == pytest.approx(1.0)
    assert summary.to_dict()["sum_of_queue_wait_s"] == 6.0


def test_speedup_rule() -> None:
    assert speedup_of(4.0, 2.0, ok=True) == 2.0
    assert speedup_of(4.0, 2.0, ok=False) is None
    assert speedup_of(4.0, 0.0, ok=True) is None


@pytest.fixture
def in_sample(in_project: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("CLAUDE_FORCE_LATENCY", "fast")  # ~50 ms per simulated call
    yield in_project


def test_cli_speedup_with_max_concurrent_1_is_about_1(in_sample: Path) -> None:
    tasks = [f"task {i}" for i in range(6)]
    result = cli.invoke(
        app,
        ["execute", "python-expert", *tasks, "--async", "--max-concurrent", "1", "--json"],
    )
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)["summary"]
    # service times cannot overlap one at a time: their sum never exceeds the wall time
    assert 0.5 < summary["speedup"] <= 1.0 + 1e-6
    assert summary["sum_of_queue_wait_s"] > 0  # the later tasks waited, and it is shown apart


def test_cli_failed_run_reports_no_speedup(
    in_sample: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = SimulatedProvider.send

    async def send(self: SimulatedProvider, request: MessageRequest) -> MessageResponse:
        if request.messages[-1].content.endswith("bad"):
            raise InvalidRequestError("bad request", status=400)
        return await original(self, request)

    monkeypatch.setattr(SimulatedProvider, "send", send)
    result = cli.invoke(app, ["execute", "python-expert", "a", "b", "bad", "--async", "--json"])
    assert result.exit_code == 1
    assert json.loads(result.stdout)["summary"]["speedup"] is None
    text = cli.invoke(app, ["execute", "python-expert", "a", "bad", "--async"])
    assert "speedup" not in text.stdout


def test_a_failed_workflow_reports_no_speedup(
    in_sample: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = SimulatedProvider.send

    async def send(self: SimulatedProvider, request: MessageRequest) -> MessageResponse:
        if callctx.current().agent == "document-writer":
            raise InvalidRequestError("bad request", status=400)
        return await original(self, request)

    monkeypatch.setattr(SimulatedProvider, "send", send)
    result = cli.invoke(app, ["run-workflow", "code-quality-check", "-t", "T", "--json", "--fresh"])
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["status"] == "failed" and data["speedup"] is None
    assert data["metadata"]["speedup"] is None
    assert data["sequential_s"] > 0  # the work done is still reported
    text = cli.invoke(app, ["run-workflow", "code-quality-check", "-t", "T", "--fresh"])
    assert "faster than one at a time" not in text.stdout + text.stderr


def test_a_workflow_one_step_at_a_time_has_a_speedup_of_about_1(tmp_path: Path) -> None:
    async def run() -> tuple[float, float | None, float, str]:
        orch = AsyncAgentOrchestrator(
            minimal_project(tmp_path),
            provider=SimulatedProvider(latency="fast", seed=1),
            enable_tracking=False,
            enable_memory=False,
            enable_cache=False,
        )
        dag = WorkflowDAG("fan")
        for sid in ("a", "b", "c"):
            dag.add_step(sid, "alpha")
        result = await orch.execute_workflow(dag, "T", max_concurrent=1)
        await orch.close()
        return result.sequential_s, result.speedup, result.wall_s, result.status

    sequential_s, speedup, wall_s, status = asyncio.run(run())
    assert status == "succeeded"
    assert speedup is not None and 0.5 < speedup <= 1.0 + 1e-6
    assert sequential_s <= wall_s + 1e-6
