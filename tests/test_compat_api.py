"""The claude-force 2.2 Python API (COMPAT.md), used the way a migrating user's code and tests do.

No API key is set (conftest), so the orchestrators run on the simulated model; the
``instant`` latency preset keeps that fast.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import json
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from _core_helpers import RecordingProvider, minimal_project, write_project
from claude_force import AgentOrchestrator, AgentResult
from claude_force.async_orchestrator import AsyncAgentOrchestrator, AsyncAgentResult
from claude_force.base import (
    BaseOrchestrator,
    CacheProtocol,
    TrackerProtocol,
    WorkflowResult,
)
from claude_force.catalog import UnknownModelWarning
from claude_force.messages import MessageRequest, MessageResponse, Usage


@pytest.fixture(autouse=True)
def _instant_simulation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAUDE_FORCE_LATENCY", "instant")


def sdk_like_response(
    text: str = "Test response", model: str = "claude-3-5-sonnet-20241022"
) -> Any:
    """What 2.2 test suites return from a patched ``_call_api_with_retry`` (an SDK ``Message``)."""
    response = mock.Mock()
    response.content = [mock.Mock(text=text)]
    response.usage = mock.Mock(input_tokens=100, output_tokens=50)
    response.model = model
    return response


# --- claude_force.base -----------------------------------------------------------------------------


def test_imports_kept_from_2_2() -> None:
    from claude_force.orchestrator import AgentOrchestrator as FromModule
    from claude_force.orchestrator import AgentResult as ResultFromModule

    assert FromModule is AgentOrchestrator
    assert ResultFromModule is AgentResult
    assert issubclass(AgentOrchestrator, BaseOrchestrator)


def test_agent_result_dataclass() -> None:
    r = AgentResult(success=True, output="hi")
    assert (r.errors, r.metadata, r.agent_name) == ([], {}, "")
    assert [f.name for f in dataclasses.fields(AgentResult)] == [
        "success",
        "output",
        "errors",
        "metadata",
        "agent_name",
    ]
    r.errors.append("x")
    assert AgentResult(success=True, output="").errors == []  # no shared mutable default
    full = AgentResult(False, "", ["boom"], {"model": "m"}, "a")
    assert full.to_dict() == {
        "success": False,
        "output": "",
        "errors": ["boom"],
        "metadata": {"model": "m"},
        "agent_name": "a",
    }
    json.dumps(full.to_dict())


def test_workflow_result_dataclass() -> None:
    steps = [AgentResult(True, "one", agent_name="a"), AgentResult(False, "", ["e"], {}, "b")]
    wf = WorkflowResult(success=False, agent_results=steps, metadata={"n": 2}, workflow_name="w")
    d = wf.to_dict()
    assert d["success"] is False and d["workflow_name"] == "w" and d["metadata"] == {"n": 2}
    assert [s["agent_name"] for s in d["agent_results"]] == ["a", "b"]
    assert WorkflowResult(success=True).agent_results == []


def test_base_orchestrator_is_abstract_and_protocols_check_shape() -> None:
    with pytest.raises(TypeError):
        BaseOrchestrator()  # type: ignore[abstract]

    class Cache:
        def get(self, agent_name: str, task: str, model: str) -> dict[str, Any] | None:
            return None

        def set(self, *a: Any, **k: Any) -> None:
            return None

    class Tracker:
        def record_execution(self, *a: Any, **k: Any) -> None:
            return None

        def get_summary(self, hours: int | None = None) -> dict[str, Any]:
            return {}

    assert isinstance(Cache(), CacheProtocol)
    assert isinstance(Tracker(), TrackerProtocol)
    assert not isinstance(object(), CacheProtocol)


# --- AgentOrchestrator -----------------------------------------------------------------------------


def test_missing_config_is_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        AgentOrchestrator(config_path=str(tmp_path / ".claude" / "claude.json"))


def test_bad_json_is_value_error(tmp_path: Path) -> None:
    path = write_project(tmp_path, '{"agents": {,}}')
    with pytest.raises(ValueError, match="invalid JSON"):
        AgentOrchestrator(config_path=str(path))


def test_validate_api_key(sample_config: Path) -> None:
    with pytest.raises(ValueError, match="ANTHROPIC_API_KEY"):
        AgentOrchestrator(config_path=str(sample_config), validate_api_key=True)
    orch = AgentOrchestrator(
        config_path=str(sample_config), anthropic_api_key="sk-test", validate_api_key=True
    )
    assert orch.api_key == "sk-test"


def test_default_config_path_is_relative_to_the_working_directory(in_project: Path) -> None:
    with AgentOrchestrator() as orch:
        assert orch.config_path == in_project
        assert "python-expert" in orch.config["agents"]


def test_run_agent_returns_agent_result_with_2_2_metadata(sample_config: Path) -> None:
    with AgentOrchestrator(config_path=str(sample_config)) as orch:
        result = orch.run_agent("code-reviewer", task="Review this function")
    assert isinstance(result, AgentResult)
    assert result.success and result.errors == []
    assert result.agent_name == "code-reviewer"
    assert "Review this function" in result.output
    md = result.metadata
    for key in ("model", "input_tokens", "output_tokens", "tokens_used", "execution_time_ms"):
        assert key in md
    assert md["model"] == "claude-sonnet-5-5"
    assert md["tokens_used"] == md["input_tokens"] + md["output_tokens"] > 0
    assert md["estimated_cost"] == md["cost_usd"] > 0  # the 2.2 key, now in correct dollars
    assert md["simulated"] is True and md["cached"] is False


def test_run_agent_accepts_the_2_2_keywords(sample_config: Path) -> None:
    with AgentOrchestrator(config_path=str(sample_config)) as orch:
        result = orch.run_agent(
            agent_name="python-expert",
            task="t",
            model="claude-haiku-4-5",
            max_tokens=20,
            temperature=0.3,
            workflow_name="manual",
            workflow_position=2,
        )
    assert result.success
    assert result.metadata["model"] == "claude-haiku-4-5"
    assert result.metadata["output_tokens"] <= 20
    assert result.metadata["workflow_position"] == 2


def test_run_agent_failures_are_returned_not_raised(sample_config: Path) -> None:
    with AgentOrchestrator(config_path=str(sample_config)) as orch:
        result = orch.run_agent("nonexistent-agent", "task")
    assert result.success is False and result.output == ""
    assert result.errors and "not found" in result.errors[0].lower()


def test_run_workflow_chains_outputs(tmp_path: Path) -> None:
    provider = RecordingProvider()
    with AgentOrchestrator(config_path=str(minimal_project(tmp_path)), provider=provider) as orch:
        results = orch.run_workflow("chain", "Build it")
    assert isinstance(results, list) and all(isinstance(r, AgentResult) for r in results)
    assert [r.agent_name for r in results] == ["alpha", "beta"]
    assert all(r.success for r in results)
    first, second = (req.messages[-1].content for req in provider.requests)
    assert first == "Build it"
    assert second.startswith("Build it") and results[0].output in second
    assert results[1].metadata["workflow_name"] == "chain"


def test_run_workflow_without_passing_outputs(tmp_path: Path) -> None:
    provider = RecordingProvider()
    with AgentOrchestrator(config_path=str(minimal_project(tmp_path)), provider=provider) as orch:
        orch.run_workflow("chain", "Build it", pass_output_to_next=False)
    assert [req.messages[-1].content for req in provider.requests] == ["Build it", "Build it"]


def test_run_workflow_stops_at_the_first_failure(tmp_path: Path) -> None:
    def fail_alpha(request: MessageRequest) -> MessageResponse:
        raise RuntimeError("API rate limit exceeded")

    provider = RecordingProvider(fail_alpha)
    with AgentOrchestrator(config_path=str(minimal_project(tmp_path)), provider=provider) as orch:
        results = orch.run_workflow("chain", "Build it")
    assert len(results) == 1 and not results[0].success
    assert "rate limit" in results[0].errors[0].lower()


def test_unknown_workflow_is_value_error_with_suggestion(sample_config: Path) -> None:
    with (
        AgentOrchestrator(config_path=str(sample_config)) as orch,
        pytest.raises(ValueError, match="did you mean 'bug-fix'"),
    ):
        orch.run_workflow("bugfix", "t")


def test_list_agents_sorted_by_priority(sample_config: Path) -> None:
    with AgentOrchestrator(config_path=str(sample_config)) as orch:
        agents = orch.list_agents()
    assert len(agents) >= 10
    assert set(agents[0]) == {"name", "file", "domains", "priority"}
    keys = [(a["priority"], a["name"]) for a in agents]
    assert keys == sorted(keys)
    assert agents[0]["priority"] == 1 and agents[-1]["priority"] == 3
    reviewer = next(a for a in agents if a["name"] == "code-reviewer")
    assert reviewer["file"] == "agents/code-reviewer.md" and "code-review" in reviewer["domains"]


def test_list_workflows(sample_config: Path) -> None:
    raw = json.loads(sample_config.read_text())["workflows"]
    with AgentOrchestrator(config_path=str(sample_config)) as orch:
        workflows = orch.list_workflows()
    assert workflows["code-quality-check"] == [
        "python-expert",
        "code-reviewer",
        "security-specialist",
        "document-writer",
    ]
    assert set(workflows) == set(raw)


def test_get_agent_info(sample_config: Path) -> None:
    with AgentOrchestrator(config_path=str(sample_config)) as orch:
        info = orch.get_agent_info("security-specialist")
        assert {"name", "file", "contract", "domains", "priority", "description"} <= set(info)
        assert info["contract"] == "contracts/security-specialist.contract"
        assert info["description"]
        with pytest.raises(ValueError, match="did you mean 'security-specialist'"):
            orch.get_agent_info("security-specalist")


def test_get_agent_info_description_falls_back_to_the_agent_file(tmp_path: Path) -> None:
    with AgentOrchestrator(config_path=str(minimal_project(tmp_path))) as orch:
        assert orch.get_agent_info("alpha")["description"] == "Alpha does the first step."


def test_client_is_created_lazily_from_anthropic(sample_config: Path) -> None:
    orch = AgentOrchestrator(config_path=str(sample_config), anthropic_api_key="sk-test")
    assert orch._client is None
    client = orch.client
    assert type(client).__module__.startswith("anthropic")
    assert client.max_retries == 0
    assert orch.client is client
    sentinel = mock.Mock()
    orch.client = sentinel
    assert orch.client is sentinel
    orch.close()


# --- AsyncAgentOrchestrator ------------------------------------------------------------------------


def test_async_constructor_accepts_the_2_2_arguments(sample_config: Path) -> None:
    orch = AsyncAgentOrchestrator(
        config_path=str(sample_config),
        api_key=None,
        max_concurrent=4,
        timeout_seconds=30,
        max_retries=3,
        enable_tracking=False,
        enable_memory=False,
        enable_cache=False,
        cache_ttl_hours=12,
        cache_max_size_mb=50,
    )
    assert orch.max_concurrent == 4 and orch.timeout_seconds == 30
    assert orch.enable_cache is False and orch.enable_tracking is False
    orch.timeout_seconds = 10  # 2.2 tests reassign it
    assert orch.timeout_seconds == 10


async def test_async_execute_agent_and_multiple(sample_config: Path) -> None:
    async with AsyncAgentOrchestrator(config_path=sample_config) as orch:
        result = await orch.execute_agent("python-expert", "What are decorators?")
        assert isinstance(result, AsyncAgentResult)
        assert result.success and result.agent_name == "python-expert"
        assert result.metadata["cached"] is False
        assert set(result.to_dict()) == {"agent_name", "success", "output", "metadata", "errors"}
        results = await orch.execute_multiple(
            [("python-expert", "Explain lists"), ("nope", "x"), ("code-reviewer", "Review")]
        )
    assert [r.success for r in results] == [True, False, True]
    assert all(isinstance(r, AsyncAgentResult) for r in results)


async def test_execute_multiple_passes_keywords_to_every_task(sample_config: Path) -> None:
    provider = RecordingProvider()
    async with AsyncAgentOrchestrator(config_path=sample_config, provider=provider) as orch:
        results = await orch.execute_multiple(
            [("python-expert", "a"), ("code-reviewer", "b")], model="haiku", max_tokens=99
        )
        with pytest.raises(TypeError):
            await orch.execute_multiple([("python-expert", "a")], colour="blue")
    assert all(r.success for r in results)
    assert [(r.model, r.max_tokens) for r in provider.requests] == [("claude-haiku-5-5", 99)] * 2


async def test_async_execute_agent_accepts_the_2_2_keywords(sample_config: Path) -> None:
    async with AsyncAgentOrchestrator(config_path=sample_config) as orch:
        result = await orch.execute_agent(
            "python-expert",
            "t",
            model="haiku",
            max_tokens=100,
            temperature=0.5,
            workflow_name="w",
            workflow_position=1,
            use_memory=False,
        )
    assert result.success and result.metadata["model"] == "claude-haiku-5-5"


async def test_patched_call_api_with_retry(sample_config: Path) -> None:
    """The 2.2 pattern: patch the API call to return an SDK-like message."""
    orch = AsyncAgentOrchestrator(config_path=Path(sample_config))
    with (
        mock.patch.object(
            orch, "_call_api_with_retry", return_value=sdk_like_response()
        ) as patched,
        # the mock says a retired model answered: its cost is unknown, and we say so
        pytest.warns(UnknownModelWarning, match="claude-3-5-sonnet-20241022"),
    ):
        result = await orch.execute_agent("python-expert", "What are decorators?")
    assert result.success is True
    assert result.output == "Test response"
    assert result.metadata["input_tokens"] == 100
    assert result.metadata["output_tokens"] == 50
    assert result.metadata["tokens_used"] == 150
    args = patched.call_args
    model, max_tokens, temperature, messages = args.args
    assert (model, max_tokens, temperature) == ("claude-sonnet-5-5", 4096, None)
    assert messages == [{"role": "user", "content": "What are decorators?"}]
    await orch.close()


async def test_patched_call_api_error_is_returned(sample_config: Path) -> None:
    orch = AsyncAgentOrchestrator(config_path=Path(sample_config), enable_cache=False)

    async def api_error(*args: Any, **kwargs: Any) -> Any:
        raise Exception("API Error: Rate limit exceeded")

    with (
        mock.patch.object(orch, "_call_api_with_retry", side_effect=api_error),
        mock.patch.object(orch, "load_agent_definition", return_value="Agent definition"),
    ):
        result = await orch.execute_agent("python-expert", "unique-api-error-task")
    assert result.success is False
    assert "Rate limit exceeded" in result.errors[0]


async def test_patched_slow_call_times_out(sample_config: Path) -> None:
    orch = AsyncAgentOrchestrator(config_path=Path(sample_config), timeout_seconds=0.01)

    async def slow(*args: Any, **kwargs: Any) -> Any:
        await asyncio.Event().wait()

    with mock.patch.object(orch, "_call_api_with_retry", side_effect=slow):
        result = await orch.execute_agent("python-expert", "unique-timeout-test-task")
    assert result.success is False
    error = result.errors[0].lower()
    assert "time" in error and "out" in error  # what 2.2 suites assert


async def test_patched_load_agent_definition_is_what_the_model_sees(sample_config: Path) -> None:
    provider = RecordingProvider()
    orch = AsyncAgentOrchestrator(config_path=sample_config, provider=provider)
    with mock.patch.object(orch, "load_agent_definition", return_value="Agent definition"):
        result = await orch.execute_agent("python-expert", "test task")
        # 2.2 suites patch the definition for names their claude.json does not define
        other = await orch.execute_agent("agent123", "another test task")
    assert result.success and other.success
    assert [r.system[0].text for r in provider.requests] == ["Agent definition"] * 2
    assert other.metadata["model"] == "claude-sonnet-5-5"


async def test_unpatched_unknown_agent_still_fails(sample_config: Path) -> None:
    provider = RecordingProvider()
    orch = AsyncAgentOrchestrator(config_path=sample_config, provider=provider)
    result = await orch.execute_agent("agent123", "test task")
    assert not result.success and "not found" in result.errors[0]
    assert provider.requests == []


async def test_load_agent_definition_returns_definition_and_contract(sample_config: Path) -> None:
    orch = AsyncAgentOrchestrator(config_path=sample_config)
    text = await orch.load_agent_definition("python-expert")
    assert text.startswith("# Python Expert")
    assert "# Agent contract" in text


async def test_patched_track_performance_gets_the_2_2_keywords(sample_config: Path) -> None:
    orch = AsyncAgentOrchestrator(
        config_path=sample_config, enable_tracking=True, enable_cache=False
    )
    response = sdk_like_response(model="claude-sonnet-4-5")
    with (
        mock.patch.object(orch, "_call_api_with_retry", return_value=response),
        mock.patch.object(orch, "load_agent_definition", return_value="Agent definition"),
        mock.patch.object(orch, "_track_performance_async") as track,
    ):
        await orch.execute_agent("python-expert", "unique-tracking-task")
    track.assert_called_once()
    kw = track.call_args.kwargs
    assert kw["agent_name"] == "python-expert"
    assert kw["task"] == "unique-tracking-task"
    assert kw["success"] is True
    assert kw["model"] == "claude-sonnet-4-5"
    assert kw["input_tokens"] == 100 and kw["output_tokens"] == 50
    assert kw["execution_time_ms"] >= 0 and kw["error_type"] is None


async def test_patched_track_performance_sees_failures(sample_config: Path) -> None:
    orch = AsyncAgentOrchestrator(config_path=sample_config, enable_tracking=True)
    with mock.patch.object(orch, "_track_performance_async") as track:
        await orch.execute_agent("missing-agent-x", "t")
    kw = track.call_args.kwargs
    assert kw["agent_name"] == "missing-agent-x"
    assert kw["success"] is False and kw["error_type"] == "UnknownAgentError"
    assert kw["input_tokens"] == 0 and kw["output_tokens"] == 0


async def test_tracking_off_never_calls_the_hook(sample_config: Path) -> None:
    orch = AsyncAgentOrchestrator(config_path=sample_config, enable_tracking=False)
    with mock.patch.object(orch, "_track_performance_async") as track:
        result = await orch.execute_agent("python-expert", "t")
    assert result.success and not track.called


def test_async_client_is_a_class_level_property(sample_config: Path) -> None:
    assert isinstance(inspect.getattr_static(AsyncAgentOrchestrator, "async_client"), property)
    simulated = AsyncAgentOrchestrator(config_path=sample_config)
    assert simulated.async_client is None  # no key: the simulated provider has no SDK client
    real = AsyncAgentOrchestrator(config_path=sample_config, api_key="sk-test")
    client = real.async_client
    assert type(client).__name__ == "AsyncAnthropic" and client.max_retries == 0
    assert real.async_client is client
    fake = mock.Mock()
    with mock.patch.object(
        AsyncAgentOrchestrator, "async_client", new_callable=mock.PropertyMock, return_value=fake
    ):
        assert real.async_client is fake
    assert real.async_client is client
    asyncio.run(real.close())


async def test_close_closes_the_provider(sample_config: Path) -> None:
    provider = RecordingProvider()
    async with AsyncAgentOrchestrator(config_path=sample_config, provider=provider) as orch:
        await orch.execute_agent("python-expert", "t")
    assert provider.closed


async def test_sdk_like_response_with_cache_usage(sample_config: Path) -> None:
    response = sdk_like_response(model="claude-sonnet-4-5")
    response.usage = mock.Mock(
        input_tokens=10,
        output_tokens=20,
        cache_creation_input_tokens=30,
        cache_read_input_tokens=40,
    )
    response.stop_reason = "max_tokens"
    orch = AsyncAgentOrchestrator(config_path=sample_config)
    with mock.patch.object(orch, "_call_api_with_retry", return_value=response):
        result = await orch.execute_agent("python-expert", "t")
    md = result.metadata
    assert md["model"] == "claude-sonnet-4-5"
    assert (md["cache_creation_input_tokens"], md["cache_read_input_tokens"]) == (30, 40)
    assert md["tokens_used"] == 100 and md["stop_reason"] == "max_tokens"
    # 10 × 3 + 20 × 15 + 30 × 3.75 + 40 × 0.30 = 454.5 per million
    assert md["cost_usd"] == pytest.approx(0.0004545)


async def test_message_response_from_the_hook_is_used_as_is(sample_config: Path) -> None:
    typed = MessageResponse("typed", "claude-haiku-4-5", "end_turn", Usage(1, 2))
    orch = AsyncAgentOrchestrator(config_path=sample_config)
    with mock.patch.object(orch, "_call_api_with_retry", return_value=typed):
        result = await orch.execute_agent("python-expert", "t")
    assert result.output == "typed" and result.metadata["model"] == "claude-haiku-4-5"
