"""Answers as they are written: the stream of one execution through the whole pipeline.

The SDK path runs against the emulator on 127.0.0.1 (its SSE events, through ``messages.stream``);
the rest uses the simulated model or a scripted provider. Everything is structural: the order of
the events, what the pieces add up to, request counts, records stored — never wall-clock time.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from _core_helpers import minimal_project
from claude_force.engine import AgentEngine
from claude_force.errors import ProviderConnectionError, StreamInterruptedError
from claude_force.events import ExecutionFinished, RetryScheduled
from claude_force.messages import MessageRequest, MessageResponse, Usage
from claude_force.metrics.backend import Query
from claude_force.providers.simulated import SIMULATED_BANNER
from claude_force.runner import Execution
from claude_force.streaming import StreamEnd, StreamEvent, TextDelta, current_sink
from claude_force.testing import Emulator, ScriptedProvider


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return minimal_project(
        tmp_path,
        provider={"latency": "instant"},
        memory={"enabled": False},
        resilience={"retry": {"base_delay_seconds": 0.0, "max_delay_seconds": 0.0}},
    )


async def collect(events: Any) -> tuple[list[str], StreamEnd, list[StreamEvent]]:
    every: list[StreamEvent] = [event async for event in events]
    pieces = [e.text for e in every if isinstance(e, TextDelta)]
    end = every[-1]
    assert isinstance(end, StreamEnd)
    assert all(isinstance(e, TextDelta) for e in every[:-1])  # the end comes last, once
    return pieces, end, every


def finished_count(engine: AgentEngine) -> list[ExecutionFinished]:
    seen: list[ExecutionFinished] = []
    engine.bus.subscribe(lambda e: seen.append(e) if isinstance(e, ExecutionFinished) else None)
    return seen


async def stored(engine: AgentEngine) -> list[Any]:
    assert engine.metrics is not None
    await engine.metrics.aflush()
    return list(engine.metrics.store.records(Query()))


async def test_the_simulated_model_streams_word_by_word_and_says_so(config: Path) -> None:
    async with AgentEngine.open(config, simulate=True) as engine:
        finished = finished_count(engine)
        pieces, end, _ = await collect(engine.stream("alpha", "Review the parser"))
        records = await stored(engine)
    ex = end.execution
    assert ex.success and end.streamed and not ex.cached and ex.simulated
    assert len(pieces) > 20 and "".join(pieces) == ex.output
    assert pieces[0].strip() == SIMULATED_BANNER.split()[0]  # the label is the first thing shown
    assert ex.output.startswith(SIMULATED_BANNER)
    assert len(finished) == 1 and len(records) == 1  # one metrics record, at the end
    assert records[0].execution_id == ex.execution_id
    assert records[0].output_tokens == ex.usage.output_tokens > 0


async def test_a_cached_answer_comes_whole_at_once(config: Path) -> None:
    async with AgentEngine.open(config, simulate=True) as engine:
        first, end1, _ = await collect(engine.stream("alpha", "same task"))
        again, end2, _ = await collect(engine.stream("alpha", "same task"))
    assert end1.streamed and not end1.execution.cached
    assert len(again) == 1 and not end2.streamed and end2.execution.cached
    assert again[0] == "".join(first) == end2.execution.output


async def test_the_sdk_streams_over_the_emulator(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with Emulator() as emu:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", emu.base_url)
        async with AgentEngine.open(config, api_key="sk-test") as engine:
            pieces, end, _ = await collect(engine.stream("alpha", "Explain the design " * 20))
            records = await stored(engine)
    ex = end.execution
    assert [r.stream for r in emu.requests] == [True]  # messages.stream, not create
    assert ex.success and ex.provider == "anthropic" and end.streamed
    assert len(pieces) > 1 and "".join(pieces) == ex.output
    assert ex.usage.output_tokens > 0 and ex.usage.input_tokens > 0 and ex.cost_usd
    assert ex.request_id == emu.requests[0].request_id
    assert len(records) == 1 and records[0].output_tokens == ex.usage.output_tokens


async def test_a_failure_before_the_first_token_is_retried(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with Emulator(faults="script:529,ok") as emu:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", emu.base_url)
        async with AgentEngine.open(config, api_key="sk-test") as engine:
            retries: list[RetryScheduled] = []
            engine.bus.subscribe(
                lambda e: retries.append(e) if isinstance(e, RetryScheduled) else None
            )
            pieces, end, _ = await collect(engine.stream("alpha", "retry me"))
    assert emu.requests_total == 2 and len(retries) == 1
    assert end.execution.success
    assert "".join(pieces) == end.execution.output  # shown once: no text of a failed attempt
    assert end.execution.output.count(SIMULATED_BANNER) == 1  # the emulator labels its answers


async def test_a_stream_cut_after_text_is_final_and_not_cached(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    task = "a long answer please " * 30
    async with Emulator(faults="script:cut") as emu:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", emu.base_url)
        async with AgentEngine.open(config, api_key="sk-test") as engine:
            pieces, end, _ = await collect(engine.stream("alpha", task))
            records = await stored(engine)
            assert emu.requests_total == 1  # not retried, although a cut connection is transient
            again = await engine.execute("alpha", task)
    ex = end.execution
    assert not ex.success and ex.error_type == "StreamInterruptedError"
    assert pieces and f"after {sum(map(len, pieces))} characters" in ex.errors[0]
    assert len(records) == 1 and records[0].success is False
    assert again.success and not again.cached  # the broken answer was never stored
    assert emu.requests_total == 2


def sink_then(outcome: BaseException | asyncio.Event, texts: list[str]) -> Any:
    """A provider answer that shows ``texts`` through the sink, then raises ``outcome`` (or waits
    for it, when it is an event: an answer that never finishes)."""

    async def respond(request: MessageRequest) -> MessageResponse:
        sink = current_sink()
        assert sink is not None
        for text in texts:
            sink(text)
        if isinstance(outcome, asyncio.Event):
            await outcome.wait()
            return MessageResponse("".join(texts), request.model, "end_turn", Usage(1, 1))
        raise outcome

    return respond


async def test_no_layer_retries_text_shown_by_any_provider(config: Path) -> None:
    """A retryable failure after text was shown is final, whatever provider raised it."""
    provider = ScriptedProvider([sink_then(ProviderConnectionError("reset"), ["Half an "])])
    async with AgentEngine.open(config, provider=provider) as engine:
        pieces, end, _ = await collect(engine.stream("alpha", "x"))
    assert pieces == ["Half an "] and len(provider.requests) == 1
    assert end.execution.error_type == StreamInterruptedError.__name__
    assert "after 8 characters" in end.execution.errors[0] and "reset" in end.execution.errors[0]


async def test_closing_the_stream_cancels_the_call_and_records_nothing(config: Path) -> None:
    never = asyncio.Event()
    cancelled: list[bool] = []

    async def respond(request: MessageRequest) -> MessageResponse:
        try:
            return await sink_then(never, ["first words "])(request)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    provider = ScriptedProvider([respond])
    async with AgentEngine.open(config, provider=provider) as engine:
        finished = finished_count(engine)
        events = engine.stream("alpha", "cancel me")
        first = await anext(events)
        assert first == TextDelta("first words ")
        await events.aclose()  # the reader went away
        records = await stored(engine)
        assert cancelled == [True] and finished == []  # a cancelled run records nothing
        # nothing stored in the response cache: the same task is asked again
        never.set()
        again = await engine.execute("alpha", "cancel me")
    assert len(records) == 0
    assert not again.cached and len(provider.requests) == 2


async def test_json_like_consumers_get_the_same_execution_as_execute(config: Path) -> None:
    """The end event's execution is the one ``execute`` returns for the same run (shape)."""
    async with AgentEngine.open(config, simulate=True, cache=False) as engine:
        _, end, _ = await collect(engine.stream("beta", "shape"))
        whole = await engine.execute("beta", "shape")
    assert isinstance(end.execution, Execution)
    assert end.execution.output == whole.output and end.execution.usage == whole.usage
    json.dumps(end.execution.metadata())  # serialisable as the API's end event


# --- the CLI ---------------------------------------------------------------------------------------


def run_cli(*args: str) -> Any:
    from typer.testing import CliRunner

    from claude_force.cli.app import app

    return CliRunner().invoke(app, list(args))


def test_cli_streams_through_the_sdk_and_prints_the_answer_once(
    in_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from claude_force.testing import EmulatorThread

    with EmulatorThread(faults="script:529,ok") as emu:  # one retry, before the first token
        monkeypatch.setenv("ANTHROPIC_BASE_URL", emu.base_url)
        result = run_cli("--api-key", "k", "execute", "python-expert", "stream it", "--stream")
        again = run_cli("--api-key", "k", "execute", "python-expert", "stream it", "-q", "--stream")
    assert result.exit_code == 0, result.stderr
    # the 529, then the stream; the cached run sends nothing
    assert emu.requests_total == 2 and emu.requests[-1].stream is True
    assert "python-expert · streaming" in result.stdout
    assert result.stdout.count(SIMULATED_BANNER) == 1  # the emulator's answer, shown once
    assert "1 ok" in result.stdout and "(streamed)" in result.stdout
    assert again.exit_code == 0 and again.stdout.startswith(SIMULATED_BANNER)  # whole, at once
    assert again.stdout.count(SIMULATED_BANNER) == 1 and "streaming" not in again.stdout


def test_cli_reports_a_broken_stream_and_exits_1(
    in_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from claude_force.testing import EmulatorThread

    with EmulatorThread(faults="script:cut") as emu:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", emu.base_url)
        result = run_cli("--api-key", "k", "execute", "python-expert", "x " * 200, "--stream")
    assert result.exit_code == 1 and emu.requests_total == 1
    assert result.stdout.startswith("─") or "streaming" in result.stdout
    assert "FAILED: the answer broke off after" in result.stdout
    assert "error: task 1 (python-expert) failed: the answer broke off" in result.stderr


def test_cli_stream_is_off_for_json_and_batches(in_project: Path) -> None:
    piped = run_cli("execute", "python-expert", "whole", "--simulate")  # stdout is not a TTY
    assert piped.exit_code == 0 and "streaming" not in piped.stdout
    as_json = run_cli("execute", "python-expert", "whole", "--simulate", "--json")
    assert json.loads(as_json.stdout)["results"][0]["success"] is True
    for extra in (["--json"], ["second task"]):
        refused = run_cli("execute", "python-expert", "one", *extra, "--simulate", "--stream")
        assert refused.exit_code == 2 and "--stream needs a single task" in refused.stderr
        assert "Traceback" not in refused.stderr + refused.stdout


async def test_the_async_orchestrator_streams_and_a_break_cancels(config: Path) -> None:
    import contextlib

    from claude_force.async_orchestrator import AsyncAgentOrchestrator
    from claude_force.providers.simulated import LatencyModel, SimulatedProvider

    held = {"block": False, "calls": 0}  # block: the second word of an answer never comes

    async def sleep(seconds: float) -> None:
        held["calls"] += 1
        if held["block"] and held["calls"] > 1:
            await asyncio.Event().wait()

    provider = SimulatedProvider(latency=LatencyModel(per_token_s=1.0), sleep=sleep)
    async with AsyncAgentOrchestrator(config, provider=provider, enable_memory=False) as orch:
        pieces = [e async for e in orch.stream("alpha", "stream me")]
        end = pieces[-1]
        assert isinstance(end, StreamEnd) and end.execution.success
        text = "".join(e.text for e in pieces if isinstance(e, TextDelta))
        assert text == end.execution.output
        held.update(block=True, calls=0)
        async with contextlib.aclosing(orch.stream("beta", "stop early")) as events:
            async for event in events:
                assert isinstance(event, TextDelta)
                break  # leaving the block closes the stream: the run is cancelled
        held.update(block=False)
        seen = [e async for e in orch.stream("beta", "stop early")]
    assert isinstance(seen[-1], StreamEnd) and not seen[-1].execution.cached  # never stored


async def test_memory_keeps_the_whole_answer_once_at_the_end(tmp_path: Path) -> None:
    config = minimal_project(tmp_path, provider={"latency": "instant"})
    words = ["A streamed ", "answer ", "in three pieces."]

    async def respond(request: MessageRequest) -> MessageResponse:
        sink = current_sink()
        assert sink is not None
        for word in words:
            sink(word)
        return MessageResponse("".join(words), request.model, "end_turn", Usage(3, 3))

    provider = ScriptedProvider([respond], simulated=False)  # memory keeps real answers only
    async with AgentEngine.open(config, provider=provider) as engine:
        assert engine.memory is not None
        pieces, end, _ = await collect(engine.stream("alpha", "remember this"))
        await engine.memory.flush()
        stats = await engine.memory.stats()
    assert pieces == words and end.execution.success
    assert stats.sessions == 1 and stats.successful == 1
