"""``AsyncAgentOrchestrator`` as claude-force 2.2 suites tested it (pytest style, mock.patch)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from unittest import mock

import pytest

from claude_force.async_orchestrator import AsyncAgentOrchestrator, AsyncAgentResult

pytestmark = pytest.mark.usefixtures("project22")


def sdk_like_response(text: str = "Test response") -> mock.Mock:
    response = mock.Mock()
    response.content = [mock.Mock(text=text)]
    response.usage = mock.Mock(input_tokens=100, output_tokens=50)
    response.model = "claude-sonnet-5-5"
    return response


# --- input validation: raised before anything is read or sent ---------------------------------


@pytest.mark.parametrize("name", ["../../etc/passwd", "agent; rm -rf /", "agent' OR '1'='1"])
async def test_invalid_agent_name(name: str) -> None:
    orchestrator = AsyncAgentOrchestrator()
    with (
        mock.patch.object(orchestrator, "load_agent_definition") as load,
        mock.patch.object(orchestrator, "_call_api_with_retry") as call,
        pytest.raises(ValueError, match=r"^Invalid agent name"),
    ):
        await orchestrator.execute_agent(name, "task")
    load.assert_not_called()
    call.assert_not_called()


async def test_task_too_large() -> None:
    orchestrator = AsyncAgentOrchestrator()
    with (
        mock.patch.object(orchestrator, "_call_api_with_retry") as call,
        pytest.raises(ValueError, match=r"^Task too large"),
    ):
        await orchestrator.execute_agent("python-expert", "x" * 200_000)
    call.assert_not_called()
    # the limit is 2.2's: 100,000 characters are still accepted
    with mock.patch.object(orchestrator, "_call_api_with_retry", return_value=sdk_like_response()):
        result = await orchestrator.execute_agent("python-expert", "x" * 100_000)
    assert result.success is True


async def test_valid_agent_names() -> None:
    orchestrator = AsyncAgentOrchestrator()
    valid_names = ["python-expert", "code_reviewer", "agent123", "my-agent_v2"]
    with mock.patch.object(orchestrator, "_call_api_with_retry", return_value=sdk_like_response()):
        for name in valid_names:
            with mock.patch.object(
                orchestrator, "load_agent_definition", return_value="Agent definition"
            ):
                result = await orchestrator.execute_agent(name, "test task")
                assert result.success is True


# --- execute_multiple goes through execute_agent, within max_concurrent --------------------------


async def test_concurrency_limit() -> None:
    orchestrator = AsyncAgentOrchestrator(max_concurrent=2)
    concurrent_count = 0
    max_seen = 0
    seen: list[str] = []
    lock = asyncio.Lock()

    async def tracked_execute(agent: str, task: str, **kwargs: object) -> AsyncAgentResult:
        nonlocal concurrent_count, max_seen
        async with lock:
            concurrent_count += 1
            max_seen = max(max_seen, concurrent_count)
            seen.append(task)
        await asyncio.sleep(0.01)
        async with lock:
            concurrent_count -= 1
        return AsyncAgentResult(agent_name=agent, success=True, output="result", metadata={})

    with mock.patch.object(orchestrator, "execute_agent", tracked_execute):
        tasks = [("agent", f"task{i}") for i in range(10)]
        results = await orchestrator.execute_multiple(tasks)

    assert len(results) == 10 and all(r.success for r in results)
    assert sorted(seen) == sorted(f"task{i}" for i in range(10))  # the patch saw every task
    assert max_seen == 2  # the bound was used, and never exceeded


async def test_execute_multiple_with_the_real_execute_agent_stays_within_the_bound() -> None:
    orchestrator = AsyncAgentOrchestrator(max_concurrent=2, enable_cache=False)
    running = 0
    peak = 0

    async def slow_call(*args: object, **kwargs: object) -> mock.Mock:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.01)
        running -= 1
        return sdk_like_response()

    with mock.patch.object(orchestrator, "_call_api_with_retry", side_effect=slow_call):
        results = await orchestrator.execute_multiple(
            [("python-expert", f"Explain {i}") for i in range(6)]
        )
    assert [r.success for r in results] == [True] * 6
    assert peak == 2


async def test_one_bad_item_does_not_abort_the_others() -> None:
    orchestrator = AsyncAgentOrchestrator(max_concurrent=3)
    with mock.patch.object(orchestrator, "_call_api_with_retry", return_value=sdk_like_response()):
        results = await orchestrator.execute_multiple(
            [("python-expert", "Explain lists"), ("../../etc/passwd", "t"), ("code-reviewer", "x")]
        )
    assert [r.success for r in results] == [True, False, True]
    assert results[1].errors[0].startswith("Invalid agent name")
    assert results[1].metadata["error_type"] == "InvalidAgentNameError"


async def test_semaphore_initialization() -> None:
    orchestrator = AsyncAgentOrchestrator(max_concurrent=5)
    assert orchestrator._semaphore is None
    semaphore = await orchestrator._get_semaphore()
    assert semaphore is not None
    assert semaphore._value == 5  # type: ignore[attr-defined]


async def test_a_patched_semaphore_is_the_bound_execute_multiple_uses() -> None:
    orchestrator = AsyncAgentOrchestrator(max_concurrent=5)
    one_slot = asyncio.Semaphore(1)
    running = 0
    peak = 0

    async def tracked(agent: str, task: str, **kwargs: object) -> AsyncAgentResult:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.005)
        running -= 1
        return AsyncAgentResult(agent, True, "ok", {})

    with (
        mock.patch.object(orchestrator, "_get_semaphore", return_value=one_slot),
        mock.patch.object(orchestrator, "execute_agent", tracked),
    ):
        await orchestrator.execute_multiple([("a", str(i)) for i in range(4)])
    assert peak == 1


# --- the client hooks -------------------------------------------------------------------------


async def test_client_cleanup() -> None:
    orchestrator = AsyncAgentOrchestrator(api_key="test-key")
    _ = orchestrator.async_client
    assert orchestrator._async_client is not None
    await orchestrator.close()
    assert orchestrator._async_client is None


async def test_assigned_private_client_receives_the_calls() -> None:
    orchestrator = AsyncAgentOrchestrator(enable_cache=False)
    client = mock.Mock()
    client.messages.create = mock.AsyncMock(return_value=sdk_like_response("from the mock"))
    orchestrator._async_client = client
    assert orchestrator.async_client is client
    result = await orchestrator.execute_agent("python-expert", "unique-assigned-client-task")
    assert result.success and result.output == "from the mock"
    assert client.messages.create.await_count == 1
    sent = client.messages.create.await_args.kwargs
    assert sent["messages"][-1]["content"] == "unique-assigned-client-task"
    await orchestrator.close()


async def test_timeout_protection() -> None:
    orchestrator = AsyncAgentOrchestrator(timeout_seconds=1, enable_cache=False, api_key="k")

    async def slow_response(*args: object, **kwargs: object) -> mock.Mock:
        await asyncio.sleep(10)
        return mock.Mock()

    mock_client = mock.Mock()
    mock_client.messages.create = slow_response
    with (
        mock.patch.object(
            type(orchestrator),
            "async_client",
            new_callable=mock.PropertyMock,
            return_value=mock_client,
        ),
        mock.patch.object(orchestrator, "load_agent_definition", return_value="Agent definition"),
    ):
        result = await orchestrator.execute_agent("python-expert", "unique-timeout-test-task")
    assert result.success is False
    assert any("time" in e.lower() and "out" in e.lower() for e in result.errors)


async def test_performance_tracking_hook_gets_the_2_2_keywords() -> None:
    orchestrator = AsyncAgentOrchestrator(enable_tracking=True, enable_cache=False)
    with (
        mock.patch.object(orchestrator, "_call_api_with_retry", return_value=sdk_like_response()),
        mock.patch.object(orchestrator, "load_agent_definition", return_value="Agent definition"),
        mock.patch.object(orchestrator, "_track_performance_async") as track,
    ):
        await orchestrator.execute_agent("python-expert", "unique-tracking-task")
    call_args = track.call_args[1]
    assert call_args["agent_name"] == "python-expert"
    assert call_args["success"] is True
    assert "execution_time_ms" in call_args


async def test_agent_not_found() -> None:
    orchestrator = AsyncAgentOrchestrator()
    result = await orchestrator.execute_agent("nonexistent-agent", "task")
    assert result.success is False
    assert any("not found" in e.lower() for e in result.errors)


def test_config_path_accepts_a_path(project22: Path) -> None:
    orchestrator = AsyncAgentOrchestrator(config_path=Path(".claude/claude.json"))
    assert orchestrator.config_path == project22
