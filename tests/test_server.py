"""The HTTP server through FastAPI's TestClient and httpx's ASGI transport (no sockets)."""

from __future__ import annotations

import asyncio
import json
import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx2
import pytest
from fastapi.testclient import TestClient

from _core_helpers import minimal_project
from _resilience_helpers import Scripted, err
from claude_force import server
from claude_force.async_orchestrator import AsyncAgentOrchestrator
from claude_force.clock import VirtualClock
from claude_force.config import load_project
from claude_force.errors import CircuitOpenError, ProviderError
from claude_force.events import BreakerTransition
from claude_force.providers.simulated import SimulatedProvider
from claude_force.server import ServerSettings, create_app
from claude_force.server.app import resolve_token, trusted_hosts
from claude_force.server.broadcast import Broadcaster, StreamClosed
from claude_force.server.state import (
    PROVIDER_ERRORS,
    MetricsUnavailableError,
    status_of_error,
    status_of_failure,
)

BASE = "http://127.0.0.1"
TOKEN = "t0ken-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return minimal_project(tmp_path, provider={"latency": "instant"}, memory={"enabled": False})


def orchestrator(config: Path, provider: Any = None, **kw: Any) -> AsyncAgentOrchestrator:
    return AsyncAgentOrchestrator(
        config, provider=provider or SimulatedProvider(), enable_memory=False, **kw
    )


@pytest.fixture
def client(config: Path) -> Iterator[TestClient]:
    with TestClient(create_app(config, simulate=True, token=TOKEN), base_url=BASE) as c:
        yield c


def run(client: TestClient, agent: str = "alpha", task: str = "hello", **kw: Any) -> Any:
    return client.post("/api/v1/execute", json={"agent": agent, "task": task, **kw}, headers=AUTH)


# --- operations ----------------------------------------------------------------------------------


def test_liveness(client: TestClient) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok" and body["version"] and body["uptime_s"] >= 0
    assert r.headers["x-content-type-options"] == "nosniff"


def test_readiness_of_the_simulated_provider_and_its_cache(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from claude_force.server import state as state_module

    calls: list[Path] = []
    real = state_module._check_writable
    monkeypatch.setattr(state_module, "_check_writable", lambda p: calls.append(p) or real(p))
    mono = VirtualClock(100.0)
    app = create_app(config, simulate=True, monotonic=mono)
    with TestClient(app, base_url=BASE) as c:
        r = c.get("/readyz")
        assert r.status_code == 200
        body = r.json()
        assert body["ready"] is True and body["status"] == "healthy"
        assert body["provider"]["simulated"] is True
        assert body["state_dir"] == {
            "path": ".claude/state",  # relative: no absolute path to unauthenticated callers
            "writable": True,
            "error": None,
        }
        c.get("/readyz")
        assert len(calls) == 1  # reused within ready_cache_seconds
        mono.advance(10)
        c.get("/readyz")
        assert len(calls) == 2


def test_not_ready_when_the_state_dir_is_not_writable(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    cfg = minimal_project(tmp_path, provider={"latency": "instant"}, paths={"state": str(blocker)})
    orch = orchestrator(cfg, enable_tracking=False)
    with TestClient(create_app(orch), base_url=BASE) as c:
        r = c.get("/readyz")
    assert r.status_code == 503
    body = r.json()
    assert body["ready"] is False and body["state_dir"]["writable"] is False
    assert "Error" in body["state_dir"]["error"]


def test_not_ready_when_the_provider_is_unreachable(config: Path) -> None:
    import socket

    from claude_force.providers.anthropic import AnthropicProvider

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    provider = AnthropicProvider("sk-test", base_url=f"http://127.0.0.1:{port}")
    orch = orchestrator(config, provider, enable_tracking=False)
    with TestClient(create_app(orch), base_url=BASE) as c:
        r = c.get("/readyz")
    assert r.status_code == 503
    body = r.json()
    assert body["status"] == "unreachable" and body["provider"]["reachable"] is False


def test_prometheus_metrics(client: TestClient) -> None:
    assert run(client).status_code == 200
    r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert re.search(
        r'^claude_force_executions_total\{agent="alpha",cached="false",model="[^"]+",'
        r'outcome="success",simulated="true"\} 1\.0$',
        text,
        re.M,
    )
    assert 'claude_force_anomalies_active{kind="error_rate"} 0.0' in text
    assert "claude_force_executions_in_flight 0.0" in text
    assert "claude_force_live_stream_clients 0.0" in text


def test_metrics_without_a_tracker_are_fed_by_events(config: Path) -> None:
    orch = orchestrator(config, enable_tracking=False)
    with TestClient(create_app(orch), base_url=BASE) as c:
        assert run(c).status_code == 200
        orch.bus.emit(BreakerTransition("simulated", "m", "closed", "open", 1.0, 5, 30.0))
        text = c.get("/metrics").text
        r = c.get("/api/v1/summary")
    assert 'outcome="success",simulated="true"} 1.0' in text
    assert 'claude_force_circuit_breaker_state{model="m",provider="simulated"} 2.0' in text
    assert r.status_code == 503
    assert r.json()["error"]["type"] == "MetricsUnavailableError"


# --- running agents and workflows ---------------------------------------------------------------


def test_execute_returns_the_typed_result(client: TestClient) -> None:
    r = run(client, task="write a parser", max_tokens=500)
    assert r.status_code == 200
    body = r.json()
    assert body["success"] is True and body["agent"] == "alpha"
    assert body["simulated"] is True and body["provider"] == "simulated"
    assert "SIMULATED" in body["output"] and body["errors"] == []
    assert body["usage"]["total_tokens"] == (
        body["usage"]["input_tokens"] + body["usage"]["output_tokens"]
    )
    assert body["cost_usd"] > 0 and body["cost_usd_exact"]
    assert datetime.fromisoformat(body["started_at"]).tzinfo is not None
    again = run(client, task="write a parser", max_tokens=500).json()
    assert again["cached"] is True and again["cost_usd"] == 0.0  # the response cache
    assert again["saved_cost_usd"] == body["cost_usd"]


def test_execute_refuses_bad_requests(client: TestClient) -> None:
    unknown = run(client, agent="alpah")
    assert unknown.status_code == 404
    error = unknown.json()["error"]
    assert error["type"] == "UnknownAgentError" and "alpha" in error["hint"]
    retired = run(client, model="claude-2.1")
    assert retired.status_code == 400 and retired.json()["error"]["type"] == "ModelError"
    invalid = client.post("/api/v1/execute", json={"agent": "alpha"}, headers=AUTH)
    assert invalid.status_code == 422
    extra = client.post(
        "/api/v1/execute", json={"agent": "alpha", "task": "x", "nope": 1}, headers=AUTH
    )
    assert extra.status_code == 422
    # a cross-site form post cannot send JSON: a non-JSON body is refused, nothing runs
    form = client.post(
        "/api/v1/execute",
        content=json.dumps({"agent": "alpha", "task": "x"}),
        headers={**AUTH, "content-type": "text/plain"},
    )
    assert form.status_code == 422


def test_the_token_guards_the_endpoints_that_run_agents(client: TestClient) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        r = client.post("/api/v1/execute", json={"agent": "alpha", "task": "x"}, headers=headers)
        assert r.status_code == 401
        assert r.headers["www-authenticate"] == "Bearer"
        assert TOKEN not in r.text
        assert r.json()["error"]["type"] == "AuthError"
    r = client.post("/api/v1/workflows/chain/run", json={"task": "x"})
    assert r.status_code == 401
    assert client.get("/api/v1/summary").status_code == 200  # reading needs no token
    assert client.get("/api/v1/project").json()["token_required"] is True


def test_token_sources(tmp_path: Path) -> None:
    s = ServerSettings.model_validate({"token": "from-file"})
    assert resolve_token(s, None, {}) == "from-file"
    assert resolve_token(s, None, {"CLAUDE_FORCE_SERVER_TOKEN": "from-env"}) == "from-env"
    assert resolve_token(s, "explicit", {"CLAUDE_FORCE_SERVER_TOKEN": "from-env"}) == "explicit"
    assert resolve_token(ServerSettings(), None, {"CLAUDE_FORCE_SERVER_TOKEN": "  "}) is None
    assert "from-file" not in repr(s)
    cfg = minimal_project(tmp_path, provider={"latency": "instant"}, server={"token": "abc"})
    with TestClient(create_app(cfg, simulate=True, env={}), base_url=BASE) as c:
        headers = {"Authorization": "bearer abc"}
        assert c.post("/api/v1/execute", json={"agent": "beta", "task": "x"}).status_code == 401
        r = c.post("/api/v1/execute", json={"agent": "beta", "task": "x"}, headers=headers)
        assert r.status_code == 200


@pytest.mark.parametrize(
    ("failure", "status", "error_type"),
    [
        (err(401), 502, "AuthenticationError"),
        (err(400), 502, "InvalidRequestError"),
        (CircuitOpenError("fake/m", datetime(2026, 11, 1, tzinfo=UTC)), 503, "CircuitOpenError"),
        (RuntimeError("a bug"), 200, "RuntimeError"),
    ],
)
def test_failed_runs_are_answers_with_a_status(
    config: Path, failure: BaseException, status: int, error_type: str
) -> None:
    orch = orchestrator(config, Scripted([failure]), enable_tracking=False)
    with TestClient(create_app(orch), base_url=BASE) as c:
        r = run(c)
    assert r.status_code == status
    body = r.json()
    assert body["success"] is False and body["error_type"] == error_type and body["errors"]


def test_run_a_workflow(client: TestClient) -> None:
    r = client.post("/api/v1/workflows/chain/run", json={"task": "build it"}, headers=AUTH)
    assert r.status_code == 200
    body = r.json()
    assert body["workflow_name"] == "chain" and body["status"] == "succeeded"
    assert [s["agent"] for s in body["steps"]] == ["alpha", "beta"]
    assert body["steps"][1]["execution"]["success"] is True
    assert body["totals"]["executed_steps"] == 2 and body["output"]
    missing = client.post("/api/v1/workflows/nope/run", json={"task": "x"}, headers=AUTH)
    assert missing.status_code == 404
    assert missing.json()["error"]["type"] == "UnknownWorkflowError"


def test_a_workflow_failed_by_the_provider_is_502(config: Path) -> None:
    orch = orchestrator(config, Scripted([err(401)]), enable_tracking=False)
    with TestClient(create_app(orch), base_url=BASE) as c:
        r = c.post("/api/v1/workflows/chain/run", json={"task": "x"})
    assert r.status_code == 502
    body = r.json()
    assert body["status"] == "failed" and body["success"] is False
    assert body["steps"][0]["error_type"] == "AuthenticationError"


# --- analytics and anomalies ---------------------------------------------------------------------


def test_analytics_endpoints(client: TestClient) -> None:
    for agent in ("alpha", "alpha", "beta"):
        assert run(client, agent=agent, task=f"task for {agent}").status_code == 200
    summary = client.get("/api/v1/summary").json()
    assert summary["executions"] == 3 and summary["success_rate"] == 1.0
    assert summary["cache_hits"] == 1  # the second identical alpha task
    assert summary["since"] is None
    agents = client.get("/api/v1/agents", params={"since": "1h"}).json()
    assert {g["agent"]: g["executions"] for g in agents["groups"]} == {"alpha": 2, "beta": 1}
    assert agents["since"] is not None
    models = client.get("/api/v1/models").json()
    assert sum(g["executions"] for g in models["groups"]) == 3
    workflows = client.get("/api/v1/workflows").json()
    assert workflows["groups"][0]["workflow"] == "(none)"
    trends = client.get("/api/v1/trends", params={"interval": "hour"}).json()
    assert trends["interval"] == "hour" and sum(p["executions"] for p in trends["points"]) == 3
    real = client.get("/api/v1/summary", params={"real_only": "true"}).json()
    assert real["executions"] == 0  # every run here was simulated


def test_analytics_parameters_are_checked(client: TestClient) -> None:
    bad = client.get("/api/v1/summary", params={"since": "banana"})
    assert bad.status_code == 400
    error = bad.json()["error"]
    assert error["message"] == "since: cannot read the time 'banana'"
    backwards = client.get("/api/v1/summary", params={"since": "1h", "until": "2h"})
    assert backwards.status_code == 400 and "until" in backwards.json()["error"]["message"]
    assert client.get("/api/v1/trends", params={"interval": "week"}).status_code == 422


def test_anomalies_are_detected_live_and_listed(config: Path) -> None:
    orch = orchestrator(config, Scripted([err(400)] * 12), enable_tracking=False)
    clock = VirtualClock(datetime.now(UTC))  # executions carry the real time of day
    with TestClient(create_app(orch, clock=clock), base_url=BASE) as c:
        for _ in range(12):
            assert run(c).status_code == 502
        body = c.get("/api/v1/anomalies").json()
        assert body["samples_seen"] == 12
        active = body["active"]
        assert {a["kind"] for a in active} == {"error_rate"}
        assert {(a["agent"], a["model"]) for a in active} >= {("*", "*")}
        assert all(a["rule"] == "absolute" and a["observed"] == 1.0 for a in active)
        assert [a["id"] for a in body["history"]] == [a["id"] for a in active][::-1] or len(
            body["history"]
        ) == len(active)
        later = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
        assert c.get("/api/v1/anomalies", params={"since": later}).json()["history"] == []
        text = c.get("/metrics").text
        assert f'claude_force_anomalies_active{{kind="error_rate"}} {len(active)}.0' in text
        snap = c.get("/api/v1/live").json()
        assert len(snap["anomalies"]["active"]) == len(active)
        clock.advance(2 * 3600)  # nothing ran for two hours: the anomalies go stale
        assert c.get("/api/v1/anomalies").json()["active"] == []
        assert 'claude_force_anomalies_active{kind="error_rate"} 0.0' in c.get("/metrics").text


def test_anomaly_baselines_are_warmed_up_from_the_store(config: Path) -> None:
    """Executions recorded before the server starts seed the detector."""

    async def record_failures() -> None:
        orch = orchestrator(config, Scripted([err(400)] * 12))
        for _ in range(12):
            await orch.execute("alpha", "x")
        await orch.close()

    asyncio.run(record_failures())
    orch = orchestrator(config)
    with TestClient(create_app(orch), base_url=BASE) as c:
        body = c.get("/api/v1/anomalies").json()
    asyncio.run(orch.close())
    assert body["samples_seen"] == 12
    assert {a["kind"] for a in body["active"]} == {"error_rate"}


def test_live_snapshot_and_project(client: TestClient) -> None:
    run(client)
    snap = client.get("/api/v1/live").json()
    assert snap["totals"]["executions"] == 1 and snap["in_flight"] == 0
    assert snap["recent"][0]["agent"] == "alpha" and "task" not in snap["recent"][0]
    assert snap["provider"] == {"name": "simulated", "simulated": True}
    assert [(b["provider"], b["state"]) for b in snap["breakers"]] == [("simulated", "closed")]
    assert isinstance(snap["rate_limits"], dict)
    assert snap["anomalies"] == {"active": [], "recent": []}
    project = client.get("/api/v1/project").json()
    assert [a["name"] for a in project["agents"]] == ["beta", "alpha"]  # by priority
    assert project["workflows"] == {"chain": ["alpha", "beta"]}
    assert project["simulated"] is True and project["metrics_enabled"] is True


def test_openapi_documents_the_api(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    for path in (
        "/healthz",
        "/readyz",
        "/metrics",
        "/api/v1/execute",
        "/api/v1/workflows/{name}/run",
        "/api/v1/summary",
        "/api/v1/anomalies",
        "/api/v1/events",
    ):
        assert path in paths, path
    assert "502" in paths["/api/v1/execute"]["post"]["responses"]


# --- the dashboard -------------------------------------------------------------------------------


class _Refs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.refs += [v for k, v in attrs if k in ("src", "href") and v]


def test_dashboard_loads_and_references_only_local_assets(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "connect-src 'self'" in csp
    parser = _Refs()
    parser.feed(page.text)
    assert "static/dashboard.js" in parser.refs and "static/dashboard.css" in parser.refs
    for ref in parser.refs:
        assert not re.match(r"^(https?:)?//", ref), ref
        if ref.startswith("data:"):
            continue
        asset = client.get("/" + ref)
        assert asset.status_code == 200, ref
        code = re.sub(r"/\*!.*?\*/", "", asset.text, flags=re.DOTALL)  # licence banners
        assert not re.search(r"https?://|//cdn|@import", code), ref
    assert "static/vendor/uPlot.iife.min.js" in parser.refs  # the chart library, served here
    js = client.get("/static/dashboard.js")
    assert "javascript" in js.headers["content-type"]
    assert 'new EventSource("api/v1/events")' in js.text
    assert "innerHTML" not in js.text  # server text goes in as textContent only
    for element_id in re.findall(r'\$\("([a-z-]+)"\)', js.text):  # every id the script uses
        assert f'id="{element_id}"' in page.text, element_id


def test_unknown_hosts_are_refused(client: TestClient) -> None:
    assert client.get("/healthz", headers={"host": "evil.example"}).status_code == 400
    assert client.get("/healthz", headers={"host": "localhost:8000"}).status_code == 200
    assert trusted_hosts(ServerSettings(host="0.0.0.0")) == ["*"]
    assert trusted_hosts(ServerSettings(allowed_hosts=["box.lan"]), "10.0.0.5") == [
        "127.0.0.1",
        "localhost",
        "::1",
        "10.0.0.5",
        "box.lan",
    ]


# --- wiring and pieces ---------------------------------------------------------------------------


def test_create_app_from_a_project_or_an_orchestrator(config: Path) -> None:
    project = load_project(config)
    with TestClient(create_app(project, simulate=True, warm_up=False), base_url=BASE) as c:
        assert run(c).json()["simulated"] is True
    orch = orchestrator(config, enable_tracking=False)
    closed: list[bool] = []
    real_close = orch.close

    async def close() -> None:
        closed.append(True)
        await real_close()

    orch.close = close  # type: ignore[method-assign]
    with TestClient(create_app(orch), base_url=BASE) as c:
        assert c.get("/healthz").status_code == 200
    assert closed == []  # the caller owns it
    asyncio.run(real_close())
    assert server.create_app is create_app and "ServerSettings" in dir(server)
    with pytest.raises(AttributeError):
        _ = server.nope  # type: ignore[attr-defined]


def test_error_statuses() -> None:
    from claude_force.errors import ConfigurationError, RunError, UnknownAgentError

    assert status_of_error(UnknownAgentError("x")) == 404
    assert status_of_error(ConfigurationError("x")) == 400
    assert status_of_error(MetricsUnavailableError("x")) == 503
    assert status_of_error(ProviderError("x", status=500)) == 502
    assert status_of_error(RunError("x")) == 500
    assert {"ProviderError", "RateLimitError", "ProviderTimeoutError"} <= PROVIDER_ERRORS
    assert status_of_failure("RateLimitDeadlineError") == 503
    assert status_of_failure(None) == 200


async def test_broadcaster_fans_out_drops_oldest_and_closes() -> None:
    b = Broadcaster(queue_size=2)
    b.publish("early", {})  # not bound yet: counted, delivered to nobody
    b.bind(asyncio.get_running_loop())
    async with b.subscribe() as slow, b.subscribe() as fast:
        assert b.clients == 2
        for i in range(3):
            b.publish("tick", {"i": i})
        got = await fast.get(1.0)
        assert got is not None and got.data == {"i": 1}  # the oldest was dropped
        assert slow.dropped == 1 and b.dropped == 2
        assert await slow.get(1.0) is not None
        assert await slow.get(1.0) is not None
        assert await slow.get(0) is None  # nothing more: times out at once
        thread = threading.Thread(target=b.publish, args=("from-thread", {"x": 1}))
        thread.start()
        thread.join()
        message = await slow.get(1.0)
        assert message is not None and message.kind == "from-thread" and message.seq == 5
        b.close()
        # the end marker takes a place in the full queue like any message (oldest dropped)
        pending = await fast.get(1.0)
        assert pending is not None and pending.kind == "from-thread"
        with pytest.raises(StreamClosed):
            await fast.get(1.0)
    assert b.clients == 0 and b.published == 5
    with pytest.raises(StreamClosed):
        async with b.subscribe():
            pass


async def test_the_async_api_path_does_not_block_the_loop(config: Path) -> None:
    from blockbuster import blockbuster_ctx

    app = create_app(orchestrator(config), token=TOKEN)
    transport = httpx2.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx2.AsyncClient(transport=transport, base_url=BASE) as client,
    ):
        with blockbuster_ctx(["claude_force"], excluded_modules=["claude_force.testing"]):
            r = await client.post(
                "/api/v1/execute", json={"agent": "alpha", "task": "x"}, headers=AUTH
            )
            summary = await client.get("/api/v1/summary")
            ready = await client.get("/readyz")
            live = await client.get("/api/v1/live")
    assert r.status_code == 200, r.text
    assert summary.json()["executions"] == 1
    assert ready.status_code == 200 and live.status_code == 200
