"""The sync facade: ``LoopThread`` and ``AgentOrchestrator`` called from threads and event loops."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from _core_helpers import RecordingProvider, default_response, minimal_project
from claude_force import AgentOrchestrator, AgentResult
from claude_force._sync import LoopThread
from claude_force.messages import MessageRequest, MessageResponse


@pytest.fixture(autouse=True)
def _instant_simulation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAUDE_FORCE_LATENCY", "instant")


# --- LoopThread ------------------------------------------------------------------------------------


def test_loop_thread_runs_coroutines_on_one_daemon_thread() -> None:
    lt = LoopThread(name="cf-test-loop")
    assert not lt.running

    async def where() -> tuple[str, int]:
        await asyncio.sleep(0)
        return threading.current_thread().name, id(asyncio.get_running_loop())

    first = lt.run(where())
    second = lt.run(where())
    assert first == second  # the same persistent loop each time
    assert first[0] == "cf-test-loop"
    assert lt.running
    thread = lt._thread
    assert thread is not None and thread.daemon and thread.is_alive()
    lt.close()
    assert not lt.running
    assert not thread.is_alive()


def test_loop_thread_propagates_exceptions() -> None:
    lt = LoopThread()

    async def boom() -> None:
        raise KeyError("missing")

    with pytest.raises(KeyError, match="missing"):
        lt.run(boom())

    async def ok() -> int:
        return 7

    assert lt.run(ok()) == 7  # still usable after an exception
    lt.close()


def test_loop_thread_restarts_after_close() -> None:
    lt = LoopThread()

    async def current_loop() -> asyncio.AbstractEventLoop:
        return asyncio.get_running_loop()

    before = lt.run(current_loop())  # held, so a new loop cannot reuse its id()
    lt.close()
    lt.close()  # closing twice is harmless
    after = lt.run(current_loop())
    assert lt.running and after is not before and before.is_closed()
    lt.close()


def test_run_from_the_loop_thread_itself_is_refused() -> None:
    lt = LoopThread()

    async def inner() -> int:
        return 1

    async def reentrant() -> str:
        coro = inner()
        try:
            lt.run(coro)
        except RuntimeError as exc:
            return str(exc)
        return "no error"

    message = lt.run(reentrant())
    assert "called from its own loop" in message and "await the coroutine instead" in message
    lt.close()


def test_close_before_use_is_harmless() -> None:
    lt = LoopThread()
    lt.close()
    assert not lt.running


def test_loop_thread_serves_several_caller_threads() -> None:
    lt = LoopThread()

    async def double(x: int) -> int:
        await asyncio.sleep(0)
        return 2 * x

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda x: lt.run(double(x)), range(12)))
    assert results == [2 * x for x in range(12)]
    lt.close()


# --- AgentOrchestrator in and around event loops ---------------------------------------------------


def test_run_agent_from_inside_a_running_event_loop(sample_config: Path) -> None:
    """Jupyter and async frameworks call the sync API while their own loop runs."""
    orch = AgentOrchestrator(config_path=str(sample_config))

    async def caller() -> AgentResult:
        asyncio.get_running_loop()  # we really are inside a loop
        return orch.run_agent("python-expert", "from inside a loop")

    result = asyncio.run(caller())
    assert result.success and "from inside a loop" in result.output
    orch.close()


def test_run_agent_via_run_in_executor(sample_config: Path) -> None:
    orch = AgentOrchestrator(config_path=str(sample_config))

    async def caller() -> list[AgentResult]:
        loop = asyncio.get_running_loop()
        return list(
            await asyncio.gather(
                *(
                    loop.run_in_executor(None, orch.run_agent, "code-reviewer", f"task {i}")
                    for i in range(3)
                )
            )
        )

    results = asyncio.run(caller())
    assert [r.success for r in results] == [True, True, True]
    assert len({r.output for r in results}) == 3
    orch.close()


async def test_async_methods_inside_an_event_loop(tmp_path: Path) -> None:
    provider = RecordingProvider()
    orch = AgentOrchestrator(config_path=str(minimal_project(tmp_path)), provider=provider)
    result = await orch.arun_agent("alpha", "async caller", max_tokens=77)
    assert isinstance(result, AgentResult) and result.success
    assert provider.requests[0].max_tokens == 77
    steps = await orch.arun_workflow("chain", "wf task")
    assert [s.agent_name for s in steps] == ["alpha", "beta"]
    await orch.core.close()
    orch.close()


def test_sync_calls_from_many_threads_share_one_loop(tmp_path: Path) -> None:
    provider = RecordingProvider()
    orch = AgentOrchestrator(config_path=str(minimal_project(tmp_path)), provider=provider)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda i: orch.run_agent("beta", f"t{i}"), range(8)))
    assert all(r.success for r in results)
    assert sorted(r.messages[-1].content for r in provider.requests) == sorted(
        f"t{i}" for i in range(8)
    )
    orch.close()


def test_run_many_is_concurrent_and_ordered(tmp_path: Path) -> None:
    release = asyncio.Event()
    arrived = 0

    async def gate(request: MessageRequest) -> MessageResponse:
        # every call waits until all three are in flight: only a concurrent run gets through
        nonlocal arrived
        arrived += 1
        if arrived == 3:
            release.set()
        await asyncio.wait_for(release.wait(), timeout=10)
        return default_response(request)

    provider = RecordingProvider(gate)
    orch = AgentOrchestrator(config_path=str(minimal_project(tmp_path)), provider=provider)
    results = orch.run_many([("alpha", "one"), ("beta", "two"), ("alpha", "three")])
    assert [r.output for r in results] == ["answer to: one", "answer to: two", "answer to: three"]
    assert provider.max_in_flight == 3
    orch.close()


def test_context_manager_closes_provider_and_thread(tmp_path: Path) -> None:
    provider = RecordingProvider()
    with AgentOrchestrator(config_path=str(minimal_project(tmp_path)), provider=provider) as orch:
        orch.run_agent("alpha", "t")
        thread = orch._loop._thread
        assert thread is not None and thread.is_alive()
    assert provider.closed
    assert not thread.is_alive()


def test_close_without_any_run(sample_config: Path) -> None:
    orch = AgentOrchestrator(config_path=str(sample_config))
    orch.close()
    assert not orch._loop.running
