"""Load before the clock: the SDK client is built before any execution starts, never on the event
loop of a running batch, and its construction is part of no execution's duration."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from _core_helpers import minimal_project
from claude_force.async_orchestrator import AsyncAgentOrchestrator
from claude_force.cli import app as app_module
from claude_force.events import ExecutionStarted
from claude_force.orchestrator import AgentOrchestrator
from claude_force.providers import anthropic as anthropic_provider
from claude_force.providers import preload
from claude_force.testing import EmulatorThread
from claude_force.workflows import WorkflowDAG

BUILD_DELAY_S = 0.3  # a slow SDK load, so that counting it anywhere would show


@pytest.fixture
def emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    with EmulatorThread() as emu:
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test-not-real")
        monkeypatch.setenv("ANTHROPIC_BASE_URL", emu.base_url)
        yield emu.base_url


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Every SDK client construction: on which thread, with or without a running event loop."""
    seen: list[dict[str, Any]] = []
    real = anthropic_provider.sdk_client

    def spy(*args: Any, **kwargs: Any) -> Any:
        try:
            asyncio.get_running_loop()
            on_loop = True
        except RuntimeError:
            on_loop = False
        seen.append({"on_loop": on_loop, "thread": threading.current_thread().name})
        import time

        time.sleep(BUILD_DELAY_S)  # stands in for the ~2 s import of a cold SDK
        return real(*args, **kwargs)

    monkeypatch.setattr(anthropic_provider, "sdk_client", spy)
    return seen


def core(config: Path, **kw: Any) -> AsyncAgentOrchestrator:
    return AsyncAgentOrchestrator(
        config, enable_tracking=False, enable_memory=False, enable_cache=False, **kw
    )


async def test_the_client_is_never_created_on_a_running_batchs_loop(
    tmp_path: Path, emulator: str, builds: list[dict[str, Any]]
) -> None:
    orch = core(minimal_project(tmp_path))
    order: list[str] = []
    loop_thread = threading.current_thread().name

    def on_event(event: object) -> None:
        if isinstance(event, ExecutionStarted):
            order.append(f"started:{len(builds)}")

    orch.bus.subscribe(on_event)
    results = await orch.execute_many([("alpha", f"task {i}") for i in range(5)])
    await orch.close()
    assert all(ex.success for ex in results), [ex.errors for ex in results]
    assert results[0].provider == "anthropic"
    assert len(builds) == 1  # one client for the whole batch
    assert not builds[0]["on_loop"] and builds[0]["thread"] != loop_thread
    # built before the first execution started (its clock): every execution saw it there, so
    # its construction is in no execution's duration
    assert order == ["started:1"] * 5


async def test_entering_the_orchestrator_loads_the_client(
    tmp_path: Path, emulator: str, builds: list[dict[str, Any]]
) -> None:
    async with core(minimal_project(tmp_path)) as orch:
        assert len(builds) == 1 and not builds[0]["on_loop"]
        ex = await orch.execute("alpha", "hello")
        assert ex.success and len(builds) == 1


async def test_a_workflow_clock_starts_after_the_client_is_ready(
    tmp_path: Path, emulator: str, builds: list[dict[str, Any]]
) -> None:
    orch = core(minimal_project(tmp_path))
    seen: list[tuple[str, str, int]] = []  # (step, status, clients built by then)
    dag = WorkflowDAG("fan")
    for sid in ("a", "b"):
        dag.add_step(sid, "alpha")
    dag.add_step("s", "beta", ["a", "b"])
    result = await orch.execute_workflow(
        dag, "T", observer=lambda e: seen.append((e.step_id, e.status, len(builds)))
    )
    await orch.close()
    assert result.status == "succeeded" and len(builds) == 1
    assert not builds[0]["on_loop"]
    # the client existed before the run's clock started: before the first step ran
    assert seen and all(n == 1 for _, _, n in seen)
    assert [s for s, status, _ in seen if status == "running"][:2] == ["a", "b"]


def test_the_sync_facade_loads_the_client_when_entered(
    tmp_path: Path, emulator: str, builds: list[dict[str, Any]]
) -> None:
    with AgentOrchestrator(
        str(minimal_project(tmp_path)), enable_tracking=False, enable_memory=False
    ) as orch:
        assert len(builds) == 1 and not builds[0]["on_loop"]
        assert orch.run_agent("alpha", "hello").success
    assert len(builds) == 1


def test_the_cli_starts_the_sdk_import_for_commands_that_call_claude(
    in_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[str] = []
    monkeypatch.setattr(preload, "start_sdk_import", lambda then=None: started.append("sdk"))
    runner = CliRunner()
    assert runner.invoke(app_module.app, ["list", "agents"]).exit_code == 0
    assert started == []  # read-only: no SDK
    monkeypatch.setenv("CLAUDE_FORCE_LATENCY", "instant")
    assert runner.invoke(app_module.app, ["execute", "python-expert", "t"]).exit_code == 0
    assert started == []  # no key: simulated, no SDK
    result = runner.invoke(
        app_module.app, ["--simulate", "--api-key", "k", "execute", "python-expert", "t"]
    )
    assert result.exit_code == 0 and started == []  # forced simulation: no SDK
    assert app_module._preload_sdk(app_module.CliState(api_key="k"))
    assert started == ["sdk"]


def test_start_sdk_import_runs_once() -> None:
    first = preload.start_sdk_import()
    assert preload.start_sdk_import() is first and preload.sdk_import_started()
    first.join(timeout=60)
    import sys

    assert "anthropic" in sys.modules


def test_the_server_loads_the_client_at_start_up(
    tmp_path: Path, emulator: str, builds: list[dict[str, Any]]
) -> None:
    from fastapi.testclient import TestClient

    from claude_force.server import create_app

    app = create_app(minimal_project(tmp_path), warm_up=False)
    assert builds == []
    with TestClient(app, base_url="http://127.0.0.1") as client:
        assert len(builds) == 1 and not builds[0]["on_loop"]  # before any request is served
        ready = client.get("/readyz")
        assert ready.status_code == 200, ready.text
    assert len(builds) == 1


async def test_entering_opens_the_stores_and_warms_the_sdk_up(
    tmp_path: Path, emulator: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before the clock: the response cache and agent memory are open and the SDK has parsed an
    answer (its first-request costs), so none of it lands inside the first run."""
    parsed: list[str] = []
    from anthropic import _models

    real = _models.construct_type

    def spy(*, type_: Any, value: Any, **kw: Any) -> Any:
        if isinstance(value, dict) and value.get("id") == "msg_warm_up":  # the warm-up's answer
            parsed.append(threading.current_thread().name)
        return real(type_=type_, value=value, **kw)

    monkeypatch.setattr(_models, "construct_type", spy)
    monkeypatch.setattr(preload, "_warmed", False)
    async with AsyncAgentOrchestrator(minimal_project(tmp_path)) as orch:
        engine = orch.engine
        assert len(parsed) == 1 and parsed[0] != threading.current_thread().name  # off the loop
        store = engine.pipeline.store  # the cache layer is the outermost
        assert store.is_open
        assert engine.memory is not None and (tmp_path / ".claude" / "state").exists()
        assert engine.memory.store._seen is not None  # opened
        ex = await orch.execute("alpha", "hello")
        assert ex.success
    preload.warm_sdk()  # once per process: no second warm-up
    assert len(parsed) == 1


def test_a_failing_warm_up_is_not_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from anthropic import _models

    def boom(**kw: Any) -> Any:
        raise RuntimeError("SDK internals changed")

    monkeypatch.setattr(_models, "construct_type", boom)
    monkeypatch.setattr(preload, "_warmed", False)
    preload.warm_sdk()  # logged at debug level, never raised
    assert preload._warmed
