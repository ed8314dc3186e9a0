"""``POST /api/v1/execute/stream`` over a real socket: uvicorn on 127.0.0.1, an ephemeral port."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx2
import pytest

from _core_helpers import minimal_project
from claude_force.async_orchestrator import AsyncAgentOrchestrator
from claude_force.events import ExecutionFinished
from claude_force.messages import MessageRequest, MessageResponse
from claude_force.metrics.backend import Query
from claude_force.providers.simulated import SIMULATED_BANNER
from claude_force.server import ServerSettings, create_app
from claude_force.streaming import current_sink
from claude_force.testing import Emulator, ScriptedProvider
from test_server_sse import sse, start

TOKEN = "stream-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return minimal_project(tmp_path, provider={"latency": "instant"}, memory={"enabled": False})


async def read_all(client: httpx2.AsyncClient, body: dict[str, Any]) -> list[tuple[str, Any]]:
    async with client.stream("POST", "/api/v1/execute/stream", json=body, headers=AUTH) as r:
        assert r.status_code == 200, await r.aread()
        assert r.headers["content-type"].startswith("text/event-stream")
        return [pair async for pair in sse(r)]


async def test_the_stream_carries_the_sdk_answer_then_one_end_event(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with Emulator() as emu:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", emu.base_url)
        orch = AsyncAgentOrchestrator(config, api_key="sk-test", enable_memory=False)
        app = create_app(orch, token=TOKEN, settings=ServerSettings(stats_interval_seconds=3600))
        server, task, url = await start(app)
        async with asyncio.timeout(60), httpx2.AsyncClient(base_url=url, timeout=30) as client:
            body = {"agent": "alpha", "task": "Explain it " * 40}
            first = await read_all(client, body)
            again = await read_all(client, body)  # a cache hit: one delta
            denied = await client.post("/api/v1/execute/stream", json=body)
            unknown = await client.post(
                "/api/v1/execute/stream", json={"agent": "nobody", "task": "x"}, headers=AUTH
            )
        await server.stop()
        await task
        assert orch.engine.metrics is not None
        await orch.engine.metrics.aflush()
        records = list(orch.engine.metrics.store.records(Query()))
        await orch.close()
    kinds = [k for k, _ in first]
    assert kinds[-1] == "end" and set(kinds[:-1]) == {"delta"} and len(kinds) > 2
    end = first[-1][1]
    text = "".join(d["text"] for k, d in first if k == "delta")
    assert text == end["output"] and text.count(SIMULATED_BANNER) == 1
    assert end["success"] and end["status"] == 200 and end["usage"]["output_tokens"] > 0
    assert end["cost_usd"] > 0 and end["execution_id"] and not end["cached"]
    sent = [r.stream for r in emu.requests if r.path == "/v1/messages"]  # not the readiness probe
    assert sent == [True]  # the SDK's stream; the cache hit sent nothing
    assert [k for k, _ in again] == ["delta", "end"] and again[-1][1]["cached"]
    assert again[0][1]["text"] == text
    assert denied.status_code == 401 and unknown.status_code == 404  # before any stream
    assert len(records) == 2 and {r.execution_id for r in records} >= {end["execution_id"]}


async def test_a_broken_stream_ends_with_a_failed_end_event(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with Emulator() as emu:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", emu.base_url)
        orch = AsyncAgentOrchestrator(config, api_key="sk-test", enable_memory=False)
        app = create_app(orch, token=TOKEN, settings=ServerSettings(stats_interval_seconds=3600))
        server, task, url = await start(app)
        async with asyncio.timeout(60), httpx2.AsyncClient(base_url=url, timeout=30) as client:
            assert (await client.get("/readyz")).status_code == 200  # its probe is answered
            emu.enqueue("cut")  # the next request: the answer's stream breaks halfway
            events = await read_all(client, {"agent": "alpha", "task": "long " * 200})
        await server.stop()
        await task
        await orch.close()
    end = events[-1][1]
    assert events[0][0] == "delta" and events[-1][0] == "end"
    assert not end["success"] and end["error_type"] == "StreamInterruptedError"
    assert end["status"] == 502
    assert len([r for r in emu.requests if r.path == "/v1/messages"]) == 1  # not retried


async def test_a_client_that_disconnects_cancels_the_call(config: Path) -> None:
    never = asyncio.Event()
    cancelled = asyncio.Event()

    async def respond(request: MessageRequest) -> MessageResponse:
        sink = current_sink()
        assert sink is not None
        sink("the first words ")
        try:
            await never.wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise
        raise AssertionError("never answered")

    provider = ScriptedProvider([respond])
    orch = AsyncAgentOrchestrator(config, provider=provider, enable_memory=False)
    finished: list[ExecutionFinished] = []
    orch.engine.bus.subscribe(
        lambda e: finished.append(e) if isinstance(e, ExecutionFinished) else None
    )
    app = create_app(orch, token=TOKEN, settings=ServerSettings(stats_interval_seconds=3600))
    server, task, url = await start(app)
    async with asyncio.timeout(60):
        async with httpx2.AsyncClient(base_url=url, timeout=30) as client:
            body = {"agent": "alpha", "task": "hang up"}
            async with client.stream(
                "POST", "/api/v1/execute/stream", json=body, headers=AUTH
            ) as r:
                kind, data = await anext(sse(r))
                assert (kind, data) == ("delta", {"text": "the first words "})
            # the response is closed: the connection goes away with the client
        await cancelled.wait()  # the provider's call was cancelled (safety net: the timeout)
        assert app.state.claude_force.orchestrator is orch.engine
    await server.stop()
    await task
    await orch.close()
    assert finished == [] and len(provider.requests) == 1
    assert json.dumps(provider.requests[0].to_api())  # the one request that was sent
