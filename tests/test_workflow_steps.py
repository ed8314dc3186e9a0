"""Workflow steps: their models checked at load, a step's timeout as its call's deadline, and the
CLI's two concurrency bounds agreeing."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from claude_force import callctx
from claude_force.async_orchestrator import AsyncAgentOrchestrator
from claude_force.cli.app import app
from claude_force.config import load_project
from claude_force.errors import ModelError, RateLimitError
from claude_force.messages import MessageRequest, MessageResponse
from claude_force.providers.simulated import SimulatedProvider
from claude_force.workflows import WorkflowDAG, load_workflow

REVIEWERS = ["python-expert", "code-reviewer", "security-specialist"]


def edit(config: Path, **sections: Any) -> None:
    raw = json.loads(config.read_text())
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(raw.get(key), dict):
            raw[key].update(value)
        else:
            raw[key] = value
    config.write_text(json.dumps(raw, indent=2))


# --- step models are checked when the project loads ---------------------------------------------


def test_a_retired_step_model_is_a_configuration_error_at_load(sample_config: Path) -> None:
    steps = [
        {"agent": "python-expert", "model": "haiku"},
        {"agent": "code-reviewer", "model": "claude-3-opus-20240229"},
    ]
    edit(sample_config, workflows={"w": {"steps": steps}})
    with pytest.raises(ModelError) as info:
        load_project(sample_config).workflow("w")  # the project loads; the workflow is refused
    exc = info.value
    assert exc.key == "workflows.w.steps.1.model" and exc.file == sample_config
    lines = sample_config.read_text().splitlines()
    assert exc.line is not None and "claude-3-opus-20240229" in lines[exc.line - 1]
    assert "retired" in str(exc) and "claude-opus-5-5" in str(exc)


def test_step_model_aliases_load_and_resolve(sample_config: Path) -> None:
    edit(sample_config, workflows={"w": {"steps": [{"agent": "python-expert", "model": "haiku"}]}})
    project = load_project(sample_config)
    dag = load_workflow(project, "w")
    assert project.model_for("python-expert", dag.step("python-expert").model) == (
        "claude-haiku-5-5"
    )


# --- a step's timeout is its call's deadline ------------------------------------------------------


class Limited:
    """429 with a long retry-after for one agent; the simulated answer for the others. Records
    each call's remaining time to its deadline."""

    name = "limited"
    simulated = True

    def __init__(self, limited: str) -> None:
        self.limited = limited
        self.inner = SimulatedProvider(latency="instant")
        self.calls: list[str] = []
        self.left_s: dict[str, float | None] = {}

    async def send(self, request: MessageRequest) -> MessageResponse:
        ctx = callctx.current()
        agent = ctx.agent or "?"
        self.calls.append(agent)
        deadline = ctx.deadline
        self.left_s[agent] = None if deadline is None else deadline - time.monotonic()
        if agent == self.limited:
            raise RateLimitError("rate limited", status=429, retry_after=10.0)
        return await self.inner.send(request)

    async def aclose(self) -> None:
        return None


async def test_a_step_timeout_bounds_its_calls_retries(sample_config: Path) -> None:
    dag = WorkflowDAG("w", on_failure="continue")
    dag.add_step("fast", "python-expert", timeout_seconds=0.5)
    dag.add_step("free", "code-reviewer")
    provider = Limited("python-expert")
    async with AsyncAgentOrchestrator(
        sample_config,
        provider=provider,
        enable_cache=False,
        enable_memory=False,
        enable_tracking=False,
    ) as core:
        result = await core.execute_workflow(dag, "t")
    fast = result.steps["fast"]
    # the retry layer knew the step's deadline: a 10 s retry-after cannot fit in 0.5 s, so the
    # step fails at once with the provider's error instead of sleeping into its timeout
    assert fast.status == "failed" and fast.error_type == "RateLimitError"
    assert provider.calls.count("python-expert") == 1
    left = provider.left_s["python-expert"]
    assert left is not None and 0 < left <= 0.5
    free_left = provider.left_s["code-reviewer"]  # no step timeout: the execution timeout
    assert free_left is not None and free_left > 500
    assert result.steps["free"].ok and result.status == "partial"


# --- the CLI sizes the runner's bound to the workflow's ------------------------------------------


def test_cli_runs_as_many_steps_at_once_as_the_workflow_allows(
    in_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLAUDE_FORCE_LATENCY", "instant")
    edit(in_project, performance={"max_concurrent_agents": 1})
    raw = json.loads(in_project.read_text())
    raw["workflows"]["code-quality-check"]["max_concurrent"] = 3
    in_project.write_text(json.dumps(raw, indent=2))
    inflight: set[str] = set()
    arrived: set[str] = set()
    most = 0
    original = SimulatedProvider.send

    async def send(self: SimulatedProvider, request: MessageRequest) -> MessageResponse:
        nonlocal most
        agent = callctx.current().agent or "?"
        inflight.add(agent)
        arrived.add(agent)
        most = max(most, len(inflight))
        try:
            if agent in REVIEWERS:  # wait for the other reviewers to be in flight
                # generous: under a bound of 3 they all arrive; if the bound capped them, the wait
                # runs out and `most` stays below 3 (a wall-clock 0.5 s failed on a busy CI box).
                # Arrived, not in flight now: the first to see all three answers and leaves.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(15):
                        while not set(REVIEWERS) <= arrived:  # noqa: ASYNC110 (a fake)
                            await asyncio.sleep(0)
            return await original(self, request)
        finally:
            inflight.discard(agent)

    monkeypatch.setattr(SimulatedProvider, "send", send)
    result = CliRunner().invoke(app, ["run-workflow", "code-quality-check", "-t", "T", "--json"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["max_concurrent"] == 3
    assert most == 3  # not capped at performance.max_concurrent_agents
