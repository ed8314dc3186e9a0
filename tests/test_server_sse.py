"""The live event stream over a real socket: uvicorn on 127.0.0.1, an ephemeral port."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from _core_helpers import minimal_project
from _resilience_helpers import Scripted, err
from claude_force.async_orchestrator import AsyncAgentOrchestrator
from claude_force.server import ServerSettings, create_app
from claude_force.server.run import Server, bind_socket, is_loopback, url_of

TOKEN = "sse-token"


async def sse(response: httpx2.Response) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """(event, data) pairs of a text/event-stream response (comments skipped)."""
    event: str | None = None
    data: list[str] = []
    async for line in response.aiter_lines():
        if line == "":
            if data:
                yield event or "message", json.loads("\n".join(data))
            event, data = None, []
        elif line.startswith(":"):
            continue
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].lstrip())


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return minimal_project(tmp_path, provider={"latency": "instant"}, memory={"enabled": False})


async def start(app: Any) -> tuple[Server, asyncio.Task[None], str]:
    sock = bind_socket("127.0.0.1", 0)
    server = Server(app, log_level="warning", access_log=False, configure_logging=False)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    return server, task, url_of(sock)


async def test_the_stream_carries_executions_and_anomalies(config: Path) -> None:
    provider = Scripted([err(400)] * 12)  # twelve failures, then answers
    orch = AsyncAgentOrchestrator(config, provider=provider, enable_memory=False)
    settings = ServerSettings(stats_interval_seconds=3600)  # only the first snapshot
    # no warm-up: executions that finish while one runs are fed to the detector afterwards,
    # silently (a loaded machine made the warm-up outlast the twelve failures)
    app = create_app(orch, token=TOKEN, settings=settings, warm_up=False)
    server, task, url = await start(app)
    seen: list[tuple[str, dict[str, Any]]] = []
    async with (
        asyncio.timeout(30),
        httpx2.AsyncClient(base_url=url, timeout=30) as client,
        client.stream("GET", "/api/v1/events") as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = sse(response)
        kind, first = await anext(events)
        assert kind == "snapshot" and first["totals"]["executions"] == 0

        async def post_all() -> list[int]:
            codes = []
            for i in range(13):
                r = await client.post(
                    "/api/v1/execute",
                    json={"agent": "alpha", "task": f"secret task {i}"},
                    headers={"Authorization": f"Bearer {TOKEN}"},
                )
                codes.append(r.status_code)
            return codes

        poster = asyncio.create_task(post_all())
        async for kind, data in events:
            seen.append((kind, data))
            if kind == "execution_finished" and data["success"]:
                break
        assert await poster == [502] * 12 + [200]
        await server.stop()  # ends the stream: the iteration below finishes
        rest = [kind async for kind, _ in events]
    await task
    await orch.close()
    kinds = [k for k, _ in seen]
    assert kinds.count("execution_started") == 13 and kinds.count("execution_finished") == 13
    assert kinds.index("execution_started") < kinds.index("execution_finished")
    raised = [d for k, d in seen if k == "anomaly_raised"]
    assert {a["kind"] for a in raised} == {"error_rate"} and raised[0]["active"] is True
    finished = [d for k, d in seen if k == "execution_finished"]
    assert finished[0]["error_type"] == "InvalidRequestError" and finished[-1]["success"]
    assert all("task" not in d and len(d["task_hash"]) == 16 for d in finished)
    assert "secret task" not in json.dumps(seen)
    assert all(k != "snapshot" for k in rest)


async def test_snapshots_repeat_and_shutdown_is_prompt(config: Path) -> None:
    orch = AsyncAgentOrchestrator(config, simulate=True, enable_memory=False)
    app = create_app(orch, settings=ServerSettings(stats_interval_seconds=0.05))
    server, task, url = await start(app)
    async with (
        asyncio.timeout(30),
        httpx2.AsyncClient(base_url=url) as client,
        client.stream("GET", "/api/v1/events") as response,
    ):
        events = sse(response)
        kinds = [(await anext(events))[0] for _ in range(3)]
        assert kinds == ["snapshot"] * 3
        assert (await client.get("/healthz")).status_code == 200
        assert app.state.claude_force.broadcaster.clients == 1
        await server.stop()
        assert [k async for k, _ in events] in ([], ["snapshot"])
    await task  # returns: the open stream did not hold the shutdown
    await orch.close()


def test_binding_helpers() -> None:
    from claude_force.errors import ConfigurationError

    sock = bind_socket("127.0.0.1", 0)
    try:
        port = sock.getsockname()[1]
        assert url_of(sock) == f"http://127.0.0.1:{port}/"
        assert sock.proto == socket.IPPROTO_TCP  # so asyncio sets TCP_NODELAY on connections
        with pytest.raises(ConfigurationError, match="already in use") as info:
            bind_socket("127.0.0.1", port)
        assert info.value.key == "--port"
    finally:
        sock.close()
    with pytest.raises(ConfigurationError, match="cannot listen"):
        bind_socket("203.0.113.7", 0)  # TEST-NET-3: not an address of this machine
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("example.com")
