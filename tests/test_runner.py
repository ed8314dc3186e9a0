"""The async core: concurrency and its bound, isolation of failures, the request, timeouts, events.

Time is virtual: the simulated provider sleeps on a :class:`WaveClock`, so nothing here waits on
the wall clock, and concurrency is proven by what was in flight together, not by elapsed time.
"""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal
from pathlib import Path

import pytest
from blockbuster import blockbuster_ctx

from _core_helpers import RecordingProvider, WaveClock, default_response, minimal_project
from claude_force import callctx
from claude_force.async_orchestrator import AsyncAgentOrchestrator
from claude_force.catalog import UnknownModelWarning
from claude_force.config import load_project
from claude_force.errors import ConfigurationError, ProviderError, RateLimitError
from claude_force.events import EventBus, ExecutionFinished, ExecutionStarted
from claude_force.messages import (
    ChatMessage,
    MessageRequest,
    MessageResponse,
    SystemBlock,
    Usage,
)
from claude_force.providers import LatencyModel, SimulatedProvider
from claude_force.providers.anthropic import AnthropicProvider
from claude_force.runner import RunOptions, build_request, system_text
from claude_force.testing import Emulator, EmulatorThread

SAFETY_S = 10  # only reached when a wave never fills, i.e. when the code under test is wrong


def orchestrator(
    config: Path, provider: object, *, max_concurrent: int | None = None, **kw: object
) -> AsyncAgentOrchestrator:
    """An orchestrator on ``provider`` with one attempt per call: these tests are about the
    runner, so the retry layer of the call pipeline (tested on its own) stays out of the way."""
    kw.setdefault("max_retries", 1)
    return AsyncAgentOrchestrator(
        project=load_project(config),
        provider=provider,  # type: ignore[arg-type]
        max_concurrent=max_concurrent,
        **kw,  # type: ignore[arg-type]
    )


# --- concurrency -----------------------------------------------------------------------------------


async def test_three_one_second_tasks_run_concurrently(sample_config: Path) -> None:
    clock = WaveClock(total=3, bound=3)
    provider = SimulatedProvider(latency=LatencyModel(first_token_s=1.0), sleep=clock.sleep)
    orch = orchestrator(sample_config, provider)
    tasks = [("python-expert", "task 1"), ("code-reviewer", "task 2"), ("test-engineer", "task 3")]
    async with asyncio.timeout(SAFETY_S):
        results = await orch.execute_multiple(tasks)
    assert [r.success for r in results] == [True, True, True]
    assert clock.delays == [1.0, 1.0, 1.0]
    assert clock.max_in_flight == 3  # all three were waiting on the model at the same time
    assert clock.now == 1.0  # three seconds of simulated latency took one virtual second
    assert all(r.metadata["simulated"] for r in results)


async def test_the_same_three_tasks_one_at_a_time_take_three_seconds(sample_config: Path) -> None:
    clock = WaveClock(total=3, bound=1)
    provider = SimulatedProvider(latency=LatencyModel(first_token_s=1.0), sleep=clock.sleep)
    orch = orchestrator(sample_config, provider, max_concurrent=1)
    async with asyncio.timeout(SAFETY_S):
        results = await orch.execute_multiple([("python-expert", f"task {i}") for i in range(3)])
    assert all(r.success for r in results)
    assert clock.max_in_flight == 1
    assert clock.now == 3.0


async def test_bound_is_never_exceeded(sample_config: Path) -> None:
    clock = WaveClock(total=20, bound=3)
    provider = SimulatedProvider(latency=LatencyModel(first_token_s=1.0), sleep=clock.sleep)
    orch = orchestrator(sample_config, provider, max_concurrent=3)
    tasks = [("python-expert", f"task {i}") for i in range(20)]
    async with asyncio.timeout(SAFETY_S):
        executions = await orch.execute_many(tasks)
    assert clock.max_in_flight == 3  # the bound was used, and never exceeded
    assert len(clock.delays) == 20
    assert [ex.task for ex in executions] == [t for _, t in tasks]  # order preserved
    assert all(ex.success for ex in executions)
    assert clock.now >= 7.0  # 20 tasks in waves of at most 3: at least ⌈20/3⌉ virtual seconds


async def test_bound_comes_from_the_project(tmp_path: Path) -> None:
    config = minimal_project(tmp_path, performance={"max_concurrent_agents": 2})
    clock = WaveClock(total=6, bound=2)
    provider = SimulatedProvider(latency=LatencyModel(first_token_s=1.0), sleep=clock.sleep)
    orch = orchestrator(config, provider)
    assert orch.max_concurrent == 2
    async with asyncio.timeout(SAFETY_S):
        await orch.execute_multiple([("alpha", f"t{i}") for i in range(6)])
    assert clock.max_in_flight == 2


def test_invalid_bound_is_a_configuration_error(sample_config: Path) -> None:
    with pytest.raises(ConfigurationError, match="at least 1"):
        orchestrator(sample_config, SimulatedProvider(), max_concurrent=-1)


def test_orchestrator_reused_across_event_loops(sample_config: Path) -> None:
    """An asyncio primitive binds to one loop; the bound must work under a new asyncio.run."""
    provider = SimulatedProvider(latency=LatencyModel(first_token_s=0.001))
    orch = orchestrator(sample_config, provider, max_concurrent=2)
    tasks = [("python-expert", f"task {i}") for i in range(5)]
    for _ in range(2):
        results = asyncio.run(orch.execute_multiple(tasks))
        assert [r.errors for r in results] == [[]] * 5


def test_real_provider_reused_across_event_loops(sample_config: Path) -> None:
    """The SDK's connection pool is bound to a loop: a new asyncio.run needs a new client."""
    with EmulatorThread() as emu:
        provider = AnthropicProvider("sk-test", base_url=emu.base_url, timeout_seconds=10)
        orch = orchestrator(sample_config, provider, enable_cache=False)
        for round_ in range(2):
            tasks = [("python-expert", f"round {round_} task {i}") for i in range(3)]
            results = asyncio.run(orch.execute_multiple(tasks))
            assert [r.errors for r in results] == [[]] * 3
        assert emu.requests_total == 6


# --- one failure never aborts the others -----------------------------------------------------------


async def test_failures_are_isolated(sample_config: Path) -> None:
    def respond(request: MessageRequest) -> MessageResponse:
        task = request.messages[-1].content
        if "rate" in task:
            raise RateLimitError("slow down", status=429, request_id="req_1", retry_after=3)
        if "crash" in task:
            raise RuntimeError("provider bug")
        return default_response(request)

    provider = RecordingProvider(respond)
    orch = orchestrator(sample_config, provider)
    results = await orch.execute_multiple(
        [
            ("python-expert", "fine 1"),
            ("no-such-agent", "fine 2"),
            ("code-reviewer", "rate limited"),
            ("security-specialist", "crash please"),
            ("test-engineer", "fine 3"),
        ]
    )
    assert [r.success for r in results] == [True, False, False, False, True]
    assert [r.metadata["error_type"] for r in results] == [
        None,
        "UnknownAgentError",
        "RateLimitError",
        "RuntimeError",
        None,
    ]
    assert "agent 'no-such-agent' not found" in results[1].errors[0]
    assert "status 429" in results[2].errors[0] and "retry after 3s" in results[2].errors[0]
    assert results[3].errors == ["provider bug"]
    assert results[4].output == "answer to: fine 3"
    assert len(provider.requests) == 4  # the unknown agent never reached the provider


async def test_cancellation_propagates(sample_config: Path) -> None:
    started = asyncio.Event()

    async def hang(request: MessageRequest) -> MessageResponse:
        started.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    orch = orchestrator(sample_config, RecordingProvider(hang))
    task = asyncio.create_task(orch.execute("python-expert", "x"))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


# --- the request -----------------------------------------------------------------------------------


async def test_request_shape(tmp_path: Path) -> None:
    provider = RecordingProvider()
    orch = orchestrator(minimal_project(tmp_path), provider)
    ex = await orch.execute("alpha", "Do the thing.", RunOptions(max_tokens=321))
    assert ex.success
    (req,) = provider.requests
    assert req.model == "claude-sonnet-5-5"
    assert req.max_tokens == 321
    assert len(req.system) == 1 and req.system[0].cache is True
    system = req.system[0].text
    assert system.startswith("# Alpha Agent\n\nAlpha does the first step.")
    assert "# Agent contract\n\nAlpha always answers in one paragraph." in system
    assert system == system_text(
        "# Alpha Agent\n\nAlpha does the first step.\n", "Alpha always answers in one paragraph."
    )
    body = req.to_api()
    assert body["system"] == [
        {"type": "text", "text": system, "cache_control": {"type": "ephemeral"}}
    ]
    assert body["messages"] == [{"role": "user", "content": "Do the thing."}]
    assert "temperature" not in body and "top_p" not in body and "stop_sequences" not in body


async def test_agent_without_contract_sends_its_definition_verbatim(tmp_path: Path) -> None:
    provider = RecordingProvider()
    orch = orchestrator(minimal_project(tmp_path), provider)
    await orch.execute("beta", "Check it.")
    assert provider.requests[0].system[0].text == "# Beta Agent\n\nBeta reviews what alpha wrote.\n"


async def test_temperature_is_sent_only_when_set(tmp_path: Path) -> None:
    provider = RecordingProvider()
    orch = orchestrator(minimal_project(tmp_path), provider)
    await orch.execute("alpha", "t", RunOptions(temperature=0.2))
    assert provider.requests[0].to_api()["temperature"] == 0.2


async def test_temperature_dropped_for_default_sampling_models(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    provider = RecordingProvider()
    orch = orchestrator(minimal_project(tmp_path), provider)
    with caplog.at_level(logging.WARNING, logger="claude_force.runner"):
        ex = await orch.execute("alpha", "t", RunOptions(model="claude-sonnet-5", temperature=0.7))
    assert ex.success
    assert "temperature" not in provider.requests[0].to_api()
    assert provider.requests[0].model == "claude-sonnet-5"
    assert any(
        "claude-sonnet-5 rejects non-default temperature" in r.message for r in caplog.records
    )


def test_optional_request_fields_are_sent_only_when_set() -> None:
    req = MessageRequest(
        model="m",
        messages=(ChatMessage("user", "hi"),),
        max_tokens=5,
        system=(SystemBlock("long-lived", cache=True, cache_ttl="1h"), SystemBlock("plain")),
        temperature=0.0,
        top_p=0.9,
        top_k=40,
        stop_sequences=("END",),
        metadata_user_id="user-1",
    )
    assert req.to_api() == {
        "model": "m",
        "max_tokens": 5,
        "messages": [{"role": "user", "content": "hi"}],
        "system": [
            {
                "type": "text",
                "text": "long-lived",
                "cache_control": {"type": "ephemeral", "ttl": "1h"},
            },
            {"type": "text", "text": "plain"},
        ],
        "temperature": 0.0,
        "top_p": 0.9,
        "top_k": 40,
        "stop_sequences": ["END"],
        "metadata": {"user_id": "user-1"},
    }
    assert req.prompt_text == "long-lived\nplain\nhi"
    bare = MessageRequest(model="m", messages=(ChatMessage("user", "hi"),)).to_api()
    assert set(bare) == {"model", "max_tokens", "messages"}
    usage = Usage(1, 2, 3, 4)
    assert (usage.total_tokens, usage.prompt_tokens) == (10, 8)


def test_context_goes_before_the_task() -> None:
    req = build_request("sys", "the task", "m", context="what happened before")
    assert req.messages[0].content == "what happened before\n\n# Task\n\nthe task"
    assert build_request("sys", "the task", "m").messages[0].content == "the task"


async def test_call_context_travels_with_the_request(tmp_path: Path) -> None:
    seen: list[callctx.CallContext] = []

    def respond(request: MessageRequest) -> MessageResponse:
        seen.append(callctx.current())
        return default_response(request)

    orch = orchestrator(minimal_project(tmp_path), RecordingProvider(respond), timeout_seconds=30)
    ex = await orch.execute(
        "alpha", "t", RunOptions(workflow_name="wf", use_cache=False, refresh=True, step_id="s1")
    )
    (ctx,) = seen
    assert ctx.agent == "alpha" and ctx.execution_id == ex.execution_id
    assert ctx.workflow_name == "wf" and ctx.step_id == "s1"
    assert ctx.use_cache is False and ctx.refresh is True
    assert ctx.deadline is not None
    assert callctx.current() == callctx.CallContext()  # reset after the call


# --- timeouts --------------------------------------------------------------------------------------


async def test_timeout_gives_a_failed_result(tmp_path: Path) -> None:
    async def never(request: MessageRequest) -> MessageResponse:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    orch = orchestrator(minimal_project(tmp_path), RecordingProvider(never), timeout_seconds=0.01)
    ex = await orch.execute("alpha", "t")
    assert not ex.success
    assert ex.error_type == "ProviderTimeoutError"
    assert ex.errors == ("timed out after 0.01s without a response",)


def test_timeout_default_comes_from_performance_settings(tmp_path: Path) -> None:
    config = minimal_project(tmp_path, performance={"timeout_seconds": 42})
    assert orchestrator(config, SimulatedProvider()).runner.timeout_s == 42
    assert orchestrator(config, SimulatedProvider(), timeout_seconds=5).runner.timeout_s == 5
    default = minimal_project(tmp_path / "d")
    assert orchestrator(default, SimulatedProvider()).timeout_seconds == 600


# --- results, costs and events ---------------------------------------------------------------------


async def test_events_cost_and_usage(tmp_path: Path) -> None:
    bus = EventBus()
    events: list[object] = []
    unsubscribe = bus.subscribe(events.append)
    orch = orchestrator(minimal_project(tmp_path), RecordingProvider(), bus=bus)
    ex = await orch.execute("alpha", "t", RunOptions(workflow_name="wf", workflow_position=0))
    started, finished = events
    assert isinstance(started, ExecutionStarted) and isinstance(finished, ExecutionFinished)
    assert started.execution_id == finished.execution_id == ex.execution_id
    assert started.agent == "alpha" and started.model == "claude-sonnet-5-5"
    assert started.workflow_name == "wf" and started.workflow_position == 0
    assert finished.success and finished.usage == Usage(input_tokens=1000, output_tokens=500)
    # claude-sonnet-5-5: 1,000 × $2/M + 500 × $10/M = $0.002 + $0.005
    assert finished.cost_usd == Decimal("0.007") == ex.cost_usd
    assert finished.provider == "recording" and not finished.cached and not finished.simulated
    assert finished.duration_ms >= 0 and finished.queue_wait_ms >= 0
    meta = ex.metadata()
    assert meta["cost_usd"] == pytest.approx(0.007)
    assert meta["tokens_used"] == 1500 and meta["request_id"] == "req_test"
    assert meta["workflow_name"] == "wf" and meta["workflow_position"] == 0
    unsubscribe()
    await orch.execute("alpha", "again")
    assert len(events) == 2


async def test_failed_run_emits_finished_with_the_error(sample_config: Path) -> None:
    bus = EventBus()
    finished: list[ExecutionFinished] = []
    bus.subscribe(lambda e: finished.append(e) if isinstance(e, ExecutionFinished) else None)

    def refuse(request: MessageRequest) -> MessageResponse:
        raise ProviderError("overloaded", status=529)

    orch = orchestrator(sample_config, RecordingProvider(refuse), bus=bus)
    ex = await orch.execute("python-expert", "t")
    (event,) = finished
    assert not ex.success and not event.success
    assert event.error_type == "ProviderError" and event.error is not None
    assert "status 529" in event.error
    assert event.cost_usd is None and ex.output == ""


async def test_a_broken_subscriber_never_fails_a_run(
    sample_config: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bus = EventBus()

    def broken(event: object) -> None:
        raise ValueError("subscriber bug")

    bus.subscribe(broken)
    orch = orchestrator(sample_config, RecordingProvider(), bus=bus)
    with caplog.at_level(logging.ERROR, logger="claude_force.events"):
        ex = await orch.execute("python-expert", "t")
    assert ex.success
    assert any("subscriber" in r.message for r in caplog.records)


async def test_cached_response_costs_nothing(sample_config: Path) -> None:
    def cached(request: MessageRequest) -> MessageResponse:
        r = default_response(request)
        return MessageResponse(
            r.text, r.model, r.stop_reason, r.usage, provider="cache", cached=True
        )

    ex = await orchestrator(sample_config, RecordingProvider(cached)).execute("python-expert", "t")
    assert ex.cached and ex.cost_usd == Decimal(0)
    assert ex.metadata()["cached"] is True


async def test_cost_uses_the_model_that_answered(sample_config: Path) -> None:
    def other_model(request: MessageRequest) -> MessageResponse:
        return MessageResponse("ok", "claude-haiku-4-5", "end_turn", Usage(1000, 1000))

    ex = await orchestrator(sample_config, RecordingProvider(other_model)).execute(
        "python-expert", "t"
    )
    assert ex.model == "claude-haiku-4-5"
    assert ex.cost_usd == Decimal("0.006")  # 1,000 × $1/M + 1,000 × $5/M


async def test_unpriced_model_has_unknown_cost(sample_config: Path) -> None:
    def unpriced(request: MessageRequest) -> MessageResponse:
        return MessageResponse("ok", "claude-future-9", "end_turn", Usage(10, 10))

    with pytest.warns(UnknownModelWarning, match="claude-future-9"):
        ex = await orchestrator(sample_config, RecordingProvider(unpriced)).execute(
            "python-expert", "t"
        )
    assert ex.success and ex.cost_usd is None
    assert ex.metadata()["cost_usd"] is None


async def test_simulated_results_are_marked(sample_config: Path) -> None:
    ex = await orchestrator(sample_config, SimulatedProvider()).execute("python-expert", "t")
    assert ex.simulated and ex.provider == "simulated"
    assert ex.metadata()["simulated"] is True
    assert ex.output.startswith("[SIMULATED RESPONSE")
    # the simulated model's usage is priced like the real one would be
    assert ex.cost_usd is not None and ex.cost_usd > 0


async def test_retired_model_override_fails_the_run_with_the_successor(sample_config: Path) -> None:
    provider = RecordingProvider()
    ex = await orchestrator(sample_config, provider).execute(
        "python-expert", "t", RunOptions(model="claude-3-5-sonnet-20241022")
    )
    assert not ex.success and ex.error_type == "ModelError"
    assert "claude-sonnet-5-5" in ex.errors[0]
    assert provider.requests == []


# --- no blocking calls on the event loop -----------------------------------------------------------


async def test_simulated_path_does_not_block_the_loop(sample_config: Path) -> None:
    orch = orchestrator(sample_config, SimulatedProvider())
    with blockbuster_ctx(["claude_force"], excluded_modules=["claude_force.testing"]):
        results = await orch.execute_multiple(
            [("python-expert", "a"), ("code-reviewer", "b"), ("missing", "c")]
        )
        await orch.close()
    assert [r.success for r in results] == [True, True, False]
    assert "Blocking call" not in results[2].errors[0]


async def test_real_sdk_path_does_not_block_the_loop(sample_config: Path) -> None:
    """The first call imports the SDK and builds its client: that file I/O must stay off-loop."""
    async with Emulator(latency="instant") as emu:
        provider = AnthropicProvider("sk-test", base_url=emu.base_url, timeout_seconds=10)
        orch = orchestrator(sample_config, provider)
        with blockbuster_ctx(["claude_force"], excluded_modules=["claude_force.testing"]):
            results = await orch.execute_multiple(
                [("python-expert", "a"), ("code-reviewer", "b"), ("test-engineer", "c")]
            )
            await orch.close()
    assert [r.errors for r in results] == [[], [], []]
    assert emu.requests_total == 3
