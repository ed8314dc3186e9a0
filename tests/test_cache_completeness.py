"""The response cache, checked from the outside.

* Key completeness as a property: for any request, changing any one input that determines the
  answer changes the key, and re-spelling what does not (prompt-cache marks, the user id) keeps it.
* Single-flight through the whole pipeline: 50 identical executions at once → one provider call.
* The provider the orchestrator chose (Claude, an emulator, a seeded simulation, a patched-in
  2.2 client) is part of the key, so one never answers for another.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest.mock import AsyncMock, PropertyMock, patch

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from _cache_helpers import eventually
from _core_helpers import RecordingProvider, default_response, minimal_project
from claude_force.async_orchestrator import AsyncAgentOrchestrator
from claude_force.cache.keys import request_key
from claude_force.cache.layer import CacheProvider, provider_identity
from claude_force.messages import ChatMessage, MessageRequest, MessageResponse, SystemBlock
from claude_force.providers.anthropic import AnthropicProvider
from claude_force.providers.simulated import SIMULATED_BANNER
from claude_force.testing import Emulator

MODELS = ["claude-sonnet-5-5", "claude-haiku-5-5", "claude-opus-5-5", "claude-opus-5"]
texts = st.text(max_size=30)
unit = st.floats(min_value=0, max_value=1, allow_nan=False)


@st.composite
def requests(draw: st.DrawFn) -> MessageRequest:
    return MessageRequest(
        model=draw(st.sampled_from(MODELS)),
        messages=tuple(
            ChatMessage(draw(st.sampled_from(["user", "assistant"])), draw(texts))
            for _ in range(draw(st.integers(1, 3)))
        ),
        max_tokens=draw(st.integers(1, 8192)),
        system=tuple(
            SystemBlock(draw(texts), cache=draw(st.booleans()))
            for _ in range(draw(st.integers(0, 2)))
        ),
        temperature=draw(st.none() | unit),
        top_p=draw(st.none() | unit),
        top_k=draw(st.none() | st.integers(1, 500)),
        stop_sequences=tuple(draw(st.lists(st.text(min_size=1, max_size=5), max_size=2))),
        metadata_user_id=draw(st.none() | texts),
    )


Mutation = Callable[[MessageRequest, st.DataObject], MessageRequest]


def _other_float(current: float | None, data: st.DataObject) -> float | None:
    if current is None:
        return data.draw(unit)
    return data.draw(st.none() | unit.filter(lambda v: v != current))


def _other_top_k(current: int | None, data: st.DataObject) -> int | None:
    choices = st.integers(1, 500).filter(lambda v: v != current)
    return data.draw(choices if current is None else st.none() | choices)


def _edit_last_message(r: MessageRequest, data: st.DataObject) -> MessageRequest:
    last = r.messages[-1]
    changed = ChatMessage(last.role, last.content + data.draw(st.text(min_size=1, max_size=5)))
    return dataclasses.replace(r, messages=(*r.messages[:-1], changed))


def _flip_role(r: MessageRequest, data: st.DataObject) -> MessageRequest:
    first = r.messages[0]
    role = "assistant" if first.role == "user" else "user"
    return dataclasses.replace(r, messages=(ChatMessage(role, first.content), *r.messages[1:]))


def _edit_system(r: MessageRequest, data: st.DataObject) -> MessageRequest:
    """An edited agent definition or contract: the text of a system block changes."""
    extra = data.draw(st.text(min_size=1, max_size=5))
    if not r.system:
        return dataclasses.replace(r, system=(SystemBlock(extra),))
    first = r.system[0]
    return dataclasses.replace(
        r, system=(dataclasses.replace(first, text=first.text + extra), *r.system[1:])
    )


MUTATIONS: dict[str, Mutation] = {
    "model": lambda r, d: dataclasses.replace(
        r, model=d.draw(st.sampled_from([m for m in MODELS if m != r.model]))
    ),
    "task text": _edit_last_message,
    "message role": _flip_role,
    "injected context (one more message)": lambda r, d: dataclasses.replace(
        r, messages=(ChatMessage("user", d.draw(texts)), *r.messages)
    ),
    "max_tokens": lambda r, d: dataclasses.replace(
        r, max_tokens=d.draw(st.integers(1, 8192).filter(lambda v: v != r.max_tokens))
    ),
    "system prompt": _edit_system,
    "one more system block": lambda r, d: dataclasses.replace(
        r, system=(*r.system, SystemBlock(d.draw(texts)))
    ),
    "temperature": lambda r, d: dataclasses.replace(r, temperature=_other_float(r.temperature, d)),
    "top_p": lambda r, d: dataclasses.replace(r, top_p=_other_float(r.top_p, d)),
    "top_k": lambda r, d: dataclasses.replace(r, top_k=_other_top_k(r.top_k, d)),
    "stop_sequences": lambda r, d: dataclasses.replace(
        r, stop_sequences=(*r.stop_sequences, d.draw(st.text(min_size=1, max_size=5)))
    ),
}


def key(r: MessageRequest, namespace: str = "live", provider: str = "anthropic") -> str:
    return request_key(r, namespace=namespace, provider=provider)  # type: ignore[arg-type]


@given(requests(), st.sampled_from(sorted(MUTATIONS)), st.data())
@settings(max_examples=400, deadline=None)
def test_changing_any_one_input_changes_the_key(
    request: MessageRequest, which: str, data: st.DataObject
) -> None:
    changed = MUTATIONS[which](request, data)
    assert changed != request
    assert key(changed) != key(request), which


@given(requests(), st.data())
@settings(max_examples=200, deadline=None)
def test_respelling_what_does_not_decide_the_answer_keeps_the_key(
    request: MessageRequest, data: st.DataObject
) -> None:
    respelled = dataclasses.replace(
        request,
        system=tuple(
            dataclasses.replace(
                b,
                cache=data.draw(st.booleans()),
                cache_ttl=data.draw(st.sampled_from(["5m", "1h"])),
            )
            for b in request.system
        ),
        metadata_user_id=data.draw(st.none() | texts),
    )
    assert key(respelled) == key(request)
    # … but the same request to another provider, or simulated, is another entry
    assert key(request, namespace="sim") != key(request)
    assert key(request, provider="anthropic;http://127.0.0.1:8765") != key(request)


async def test_fifty_identical_executions_make_one_provider_call(tmp_path: Path) -> None:
    gate = asyncio.Event()

    async def respond(request: MessageRequest) -> MessageResponse:
        await gate.wait()
        return default_response(request)

    provider = RecordingProvider(respond)
    async with AsyncAgentOrchestrator(
        minimal_project(tmp_path),
        provider=provider,
        max_concurrent=50,
        enable_memory=False,
        enable_tracking=False,
    ) as core:
        cache = core.pipeline
        assert isinstance(cache, CacheProvider)
        runs = [asyncio.create_task(core.execute("alpha", "the same question")) for _ in range(50)]
        # SQLite lookups run on the cache's thread: wait with sleeps, which let it run
        await eventually(lambda: bool(provider.requests))
        key_ = cache.key_for(provider.requests[0])
        await eventually(lambda: cache.store.waiters(key_) == 50)
        assert len(provider.requests) == 1  # 50 callers wait on one call
        gate.set()
        executions = await asyncio.gather(*runs)
        stats = await cache.store.stats()
    assert len(provider.requests) == 1
    assert all(ex.success for ex in executions)
    assert len({ex.output for ex in executions}) == 1
    leader = [ex for ex in executions if not ex.cached]
    assert len(leader) == 1 and leader[0].cost_usd and leader[0].cost_usd > 0
    followers = [ex for ex in executions if ex.cached]
    assert {ex.cost_usd for ex in followers} == {Decimal(0)}
    assert {ex.saved_cost_usd for ex in followers} == {leader[0].cost_usd}
    assert (stats.counters.coalesced, stats.counters.hits, stats.counters.stores) == (49, 49, 1)
    assert stats.entries == 1


# --- whose answer it is: the provider the orchestrator chose, as the cache key sees it ------------


def _sdk_like(text: str) -> Any:
    return SimpleNamespace(
        id="msg_mock",
        model="claude-sonnet-5-5",
        stop_reason="end_turn",
        content=[SimpleNamespace(type="text", text=text)],
        usage=SimpleNamespace(input_tokens=11, output_tokens=7),
    )


def test_the_chosen_provider_is_part_of_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Claude, an emulator at another base URL, and simulations with different seeds: four
    different keys for one request, also through the orchestrator's own provider choice."""
    config = minimal_project(tmp_path)
    request = MessageRequest("claude-sonnet-5-5", (ChatMessage("user", "same task"),))

    def key_of(**kw: Any) -> str:
        core = AsyncAgentOrchestrator(config, enable_memory=False, enable_tracking=False, **kw)
        assert isinstance(core.pipeline, CacheProvider)
        return core.pipeline.key_for(request)

    claude = key_of(api_key="sk-test")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:8765")
    emulator = key_of(api_key="sk-test")
    assert provider_identity(AnthropicProvider("k")) == "anthropic;http://127.0.0.1:8765"
    monkeypatch.delenv("ANTHROPIC_BASE_URL")
    simulated = key_of(simulate=True)
    monkeypatch.setenv("CLAUDE_FORCE_SIMULATE", "1")
    data = json.loads(config.read_text())
    data["provider"] = {"seed": 7}
    config.write_text(json.dumps(data))
    simulated_7 = key_of()
    assert len({claude, emulator, simulated, simulated_7}) == 4


async def test_a_patched_in_client_never_answers_for_the_real_provider(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 2.2 test suite patches ``async_client`` with a mock: its answers are cached as the
    client's, and once the patch is gone the real provider (here: the emulator) is asked."""
    config = minimal_project(tmp_path)
    async with Emulator() as emu:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", emu.base_url)
        async with AsyncAgentOrchestrator(
            config, api_key="sk-test", enable_memory=False, enable_tracking=False
        ) as core:
            with patch.object(
                AsyncAgentOrchestrator, "async_client", new_callable=PropertyMock
            ) as prop:
                prop.return_value.messages.create = AsyncMock(return_value=_sdk_like("MOCKED"))
                first = await core.execute("alpha", "review this")
                again = await core.execute("alpha", "review this")
                assert core.pipeline.identity == "client"  # type: ignore[attr-defined]
            assert (first.output, first.cached, again.output, again.cached) == (
                "MOCKED",
                False,
                "MOCKED",
                True,
            )
            assert prop.return_value.messages.create.await_count == 1
            real = await core.execute("alpha", "review this")
    assert real.success and not real.cached
    assert real.output.startswith(SIMULATED_BANNER)  # the emulator's answer, not the mock's
    assert emu.requests_total == 1
