"""``claude_force.testing.ScriptedProvider``: the scripted model users' own tests run against."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from _core_helpers import minimal_project
from claude_force.async_orchestrator import AsyncAgentOrchestrator
from claude_force.errors import RateLimitError
from claude_force.messages import ChatMessage, MessageRequest, MessageResponse, Usage
from claude_force.testing import ScriptedProvider


def req(model: str = "m", text: str = "hi") -> MessageRequest:
    return MessageRequest(model=model, messages=(ChatMessage("user", text),), max_tokens=10)


def answer(text: str) -> MessageResponse:
    return MessageResponse(text=text, model="m", stop_reason="end_turn", usage=Usage(1, 1))


async def test_outcomes_play_in_order_then_respond_answers() -> None:
    async def later(r: MessageRequest) -> MessageResponse:
        return answer(f"async {r.messages[-1].content}")

    p = ScriptedProvider([answer("one"), RuntimeError("two"), lambda r: answer("three"), later])
    assert (await p.send(req())).text == "one"
    with pytest.raises(RuntimeError, match="two"):
        await p.send(req())
    assert (await p.send(req())).text == "three"
    assert (await p.send(req(text="four"))).text == "async four"
    default = await p.send(req(text="five"))
    assert default.text == "scripted answer to: five" and default.simulated  # labelled
    assert [r.messages[-1].content for r in p.requests] == ["hi", "hi", "hi", "four", "five"]
    await p.aclose()
    assert p.closed


async def test_per_model_scripts_and_the_gate_hold_calls_in_flight() -> None:
    p = ScriptedProvider([answer("general")], per_model={"x": [answer("for x")]}, simulated=False)
    assert (await p.send(req("x"))).text == "for x"
    assert (await p.send(req("y"))).text == "general"
    assert not (await p.send(req("x"))).simulated
    p.gate = asyncio.Event()
    calls = [asyncio.create_task(p.send(req())) for _ in range(3)]
    for _ in range(5):
        await asyncio.sleep(0)
    assert p.in_flight == 3 and not any(c.done() for c in calls)
    p.gate.set()
    await asyncio.gather(*calls)
    assert p.in_flight == 0 and p.max_in_flight == 3


async def test_an_orchestrator_retries_a_scripted_429(tmp_path: Path) -> None:
    config = minimal_project(tmp_path, resilience={"retry": {"base_delay_seconds": 0.0}})
    p = ScriptedProvider([RateLimitError("slow down", status=429, retry_after=0.0)])
    async with AsyncAgentOrchestrator(
        config, provider=p, enable_tracking=False, enable_memory=False, enable_cache=False
    ) as orch:
        ex = await orch.execute("alpha", "look at this")
    assert ex.success and ex.simulated and len(p.requests) == 2
    assert ex.output == "scripted answer to: look at this"
