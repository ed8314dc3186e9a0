"""What a call holds while it waits for the model (issue #10: memory at 1,000 in flight).

Every call in flight holds each coroutine of its await chain, with its frame, and each
``@contextlib.contextmanager`` it entered (a generator, its frame and its arguments) until the
model answers. The call path's own layers add only the frames that have work to do after the
answer: one for the runner, one per resilience layer that accounts for the outcome, none for a
layer with nothing to do for the call (the cache's key is made before the first await, the
provider slot without a streamed answer, tracing without a tracer provider).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from _core_helpers import minimal_project
from _frames import awaited, located
from claude_force import callctx
from claude_force.async_orchestrator import AsyncAgentOrchestrator
from claude_force.config import load_project
from claude_force.messages import ChatMessage, MessageRequest
from claude_force.providers.anthropic import AnthropicProvider
from claude_force.telemetry import tracing
from claude_force.testing import Emulator, ScriptedProvider

# the modules of the call path between the engine and the provider
CALL_PATH = (
    "claude_force.runner",
    "claude_force.callctx",
    "claude_force.cache.layer",
    "claude_force.providers.",
    "claude_force.telemetry.",
    "claude_force.resilience.",
)


def _frames_of(path: str, chains: list[list[str]]) -> list[str]:
    return [name for chain in chains for name in chain if name.startswith(path + ":")]


@pytest.fixture
def no_tracer(monkeypatch: pytest.MonkeyPatch) -> None:
    """OpenTelemetry installed, nobody set a tracer provider (the default)."""
    from opentelemetry import trace

    tracing.use_tracer_provider(None)
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: trace.ProxyTracerProvider())


@pytest.fixture
def generator_cms(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """The modules whose ``@contextlib.contextmanager`` functions are entered, by count."""
    made: Counter[str] = Counter()
    real = contextlib._GeneratorContextManager.__init__

    def spy(self: Any, func: Any, args: Any, kwds: Any) -> None:
        made[func.__module__] += 1
        real(self, func, args, kwds)

    monkeypatch.setattr(contextlib._GeneratorContextManager, "__init__", spy)
    return made


async def test_a_waiting_call_holds_one_runner_frame_and_no_pass_through_layers(
    tmp_path: Path, no_tracer: None, generator_cms: Counter[str]
) -> None:
    provider = ScriptedProvider(name="recording", simulated=False)
    provider.gate = asyncio.Event()  # the model "thinks" until the test has looked
    orch = AsyncAgentOrchestrator(
        project=load_project(minimal_project(tmp_path)), provider=provider
    )
    try:
        run = asyncio.ensure_future(orch.execute("beta", "task one"))
        while provider.in_flight == 0:
            assert not run.done(), run.result()
            await asyncio.sleep(0)
        chains = [[located(c) for c in awaited(t.get_coro())] for t in asyncio.all_tasks()]
        loop = asyncio.get_running_loop()
        timers = [repr(h) for h in loop._scheduled if not h.cancelled()]  # type: ignore[attr-defined]
        deadlines = len(callctx.deadlines_of(loop))
        layers: list[str] = []
        layer: Any = orch.engine.pipeline
        while layer is not None:
            layers.append(type(layer).__name__)
            layer = getattr(layer, "inner", None)
        provider.gate.set()
        result = await run
    finally:
        await orch.close()
    assert result.success, result.errors
    assert {"CacheProvider", "TracingProvider", "ProviderSlot"} <= set(layers)
    # a miss looked up ahead leads its flight at once: the flight's ending is told by the retry
    # frame, the store waits in no frame of its own
    assert _frames_of("cache/store.py", chains) == []
    sent = [name for chain in chains for name in chain if name.endswith("ScriptedProvider.send")]
    assert sent == ["testing/scripted.py:ScriptedProvider.send"]  # the call was held there
    assert _frames_of("runner.py", chains) == ["runner.py:AgentRunner.run"]
    # the run's timeout: an entry of the loop's deadlines, no asyncio.Timeout and timer of its own
    assert deadlines == 1 and not [t for t in timers if "Timeout._on_timeout" in t]
    assert _frames_of("resilience/retry.py", chains) == [
        "resilience/retry.py:RetryingProvider.send_after"
    ]
    assert {"RateLimitedProvider", "CircuitBreakerProvider", "RetryingProvider"} <= set(layers)
    # the rate limiter's settlement and the breaker's outcome are told by the retry frame
    assert _frames_of("resilience/ratelimit.py", chains) == []
    assert _frames_of("resilience/breaker.py", chains) == []
    # nothing to do while the model answers: no frame of theirs waits with the call
    assert _frames_of("cache/layer.py", chains) == []
    assert _frames_of("providers/base.py", chains) == []
    assert _frames_of("telemetry/tracing.py", chains) == []
    assert [m for m in generator_cms if m.startswith(CALL_PATH)] == []


async def test_the_sdk_call_enters_no_generator_context_manager(
    generator_cms: Counter[str],
) -> None:
    """``sdk_errors`` wraps every call to the SDK: a small class, not a generator."""
    request = MessageRequest(model="claude-sonnet-5-5", messages=(ChatMessage("user", "hi"),))
    async with Emulator() as emu:
        provider = AnthropicProvider("sk-test", base_url=emu.base_url, timeout_seconds=10)
        try:
            await provider.send(request)  # the first call builds the client (its own imports)
            generator_cms.clear()
            response = await provider.send(request)
        finally:
            await provider.aclose()
    assert response.text
    assert [m for m in generator_cms if m.startswith(CALL_PATH)] == []


@pytest.mark.parametrize("route", ["direct", "with_raw_response"])
async def test_the_raw_response_comes_without_the_sdks_wrapper_coroutine(
    route: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``create`` with the raw-response header, as ``with_raw_response`` sends it: the same raw
    response (its rate-limit headers too), one coroutine and its dicts fewer per call. An SDK
    without the header's constant takes ``with_raw_response``."""
    from claude_force.providers import anthropic as module

    if route == "with_raw_response":
        monkeypatch.setattr(module, "_RAW_RESPONSE", (None,))
    request = MessageRequest(model="claude-sonnet-5-5", messages=(ChatMessage("user", "hi"),))
    async with Emulator(latency="fast") as emu:
        provider = AnthropicProvider("sk-test", base_url=emu.base_url, timeout_seconds=10)
        try:
            await provider.send(request)  # the first call builds the client
            call = asyncio.ensure_future(provider.send(request))
            for _ in range(5000):  # until the emulator has the request (it then waits)
                if len(emu.requests) == 2:
                    break
                await asyncio.sleep(0.001)
            chain = [located(c, package="") for c in awaited(call.get_coro())]
            response = await call
        finally:
            await provider.aclose()
    assert chain[0] == "anthropic.py:AnthropicProvider.send"
    assert any(n.startswith("_base_client.py:") for n in chain)  # it was waiting for the answer
    wrapped = [n for n in chain if n.startswith("_response.py:")]
    assert wrapped == ([] if route == "direct" else [wrapped[0]])  # the wrapper's coroutine
    assert emu.requests[-1].headers["x-stainless-raw-response"] == "raw"
    assert response.request_id == emu.requests[-1].request_id
    assert any(name.startswith("anthropic-ratelimit-") for name, _ in response.headers)


def test_the_request_keyed_without_memory_shares_the_sent_ones_system_blocks() -> None:
    """The call context holds both requests while the call waits: one system prompt's blocks."""
    from claude_force.runner import AgentRunner, RunOptions, build_request

    opts = RunOptions(memory_context="# Memory\n\nearlier", context="the context")
    runner: Any = AgentRunner.__new__(AgentRunner)
    runner.prompt_cache_ttl = "5m"
    sent, keyed = runner._requests("system prompt", "the task", "m", None, opts)
    assert keyed is not None and keyed[0] is sent
    bare = keyed[1]
    assert bare.system is sent.system
    assert bare == build_request("system prompt", "the task", "m", context="the context")
    assert "earlier" in sent.messages[0].content and "earlier" not in bare.messages[0].content
