"""Server limits: authentication before the body, a body limit enforced before parsing and while
streaming, no echoed inputs, runs and streams per client capped, strong tokens, back-off, no
absolute paths (issue 16, points 1 and 7)."""

from __future__ import annotations

import asyncio
import hmac
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.types import Message, Receive, Scope, Send

from _core_helpers import minimal_project
from claude_force.server.app import create_app
from claude_force.server.guard import AuthThrottle, RequestGuard
from claude_force.server.settings import ServerSettings, new_token, weak_token

TOKEN = new_token()
AUTH = {"Authorization": f"Bearer {TOKEN}"}
BASE = "http://127.0.0.1"


@pytest.fixture
def config(tmp_path: Path) -> Path:
    server = {"max_body_bytes": 4096, "auth_failures_before_backoff": 3}
    return minimal_project(
        tmp_path, provider={"latency": "instant"}, memory={"enabled": False}, server=server
    )


@pytest.fixture
def client(config: Path) -> Iterator[TestClient]:
    with TestClient(create_app(config, simulate=True, token=TOKEN), base_url=BASE) as c:
        yield c


# --- the guard, at the ASGI level -----------------------------------------------------------------


class FakeState:
    def __init__(self, token: str | None = TOKEN, **settings: Any) -> None:
        self.token = token
        self.settings = ServerSettings.model_validate(settings)

    def check_token(self, authorization: str | None) -> None:
        from claude_force.server.state import ServerState

        ServerState.check_token(self, authorization)  # type: ignore[arg-type]


def scope(path: str = "/api/v1/execute", method: str = "POST", **headers: str) -> Scope:
    return {
        "type": "http",
        "method": method,
        "path": path,
        "client": ("10.0.0.7", 5000),
        "headers": [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()],
    }


class Body:
    """A request body arriving in chunks; counts what the server asked for."""

    def __init__(self, chunks: int, size: int = 1024) -> None:
        self.left = chunks
        self.size = size
        self.read = 0

    async def __call__(self) -> Message:
        self.read += 1
        self.left -= 1
        return {"type": "http.request", "body": b"x" * self.size, "more_body": self.left > 0}


class Inner:
    """The app behind the guard: records what reached it, optionally waits."""

    def __init__(self, wait: asyncio.Event | None = None) -> None:
        self.calls: list[bytes] = []
        self.wait = wait

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = await receive() if scope["method"] == "POST" else {"body": b""}
        self.calls.append(message.get("body", b""))
        if self.wait is not None:
            await self.wait.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


async def call(guard: RequestGuard, sc: Scope, receive: Receive) -> tuple[int, dict[str, str], Any]:
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    await guard(sc, receive, send)
    start = sent[0]
    headers = {k.decode(): v.decode() for k, v in start["headers"]}
    body = b"".join(m.get("body", b"") for m in sent[1:])
    return start["status"], headers, json.loads(body) if body != b"ok" else body


async def test_authentication_comes_before_the_body_is_read() -> None:
    inner = Inner()
    guard = RequestGuard(inner, FakeState(), AuthThrottle())  # type: ignore[arg-type]
    body = Body(100_000)  # 100 MB, if anyone read it
    status, headers, answer = await call(guard, scope(content_length=str(100 * 1024 * 1024)), body)
    assert status == 401 and body.read == 0 and inner.calls == []
    assert headers["connection"] == "close" and headers["www-authenticate"] == "Bearer"
    assert answer["error"]["type"] == "AuthError"


async def test_a_declared_length_over_the_limit_is_refused_unread() -> None:
    guard = RequestGuard(Inner(), FakeState(max_body_bytes=4096), AuthThrottle())  # type: ignore[arg-type]
    body = Body(10)
    status, _, answer = await call(
        guard, scope(content_length="1000000", authorization=f"Bearer {TOKEN}"), body
    )
    assert status == 413 and body.read == 0
    assert "over the limit of 4,096 bytes" in answer["error"]["message"]


async def test_a_streamed_body_is_cut_as_soon_as_it_passes_the_limit() -> None:
    inner = Inner()
    guard = RequestGuard(inner, FakeState(max_body_bytes=4096), AuthThrottle())  # type: ignore[arg-type]
    body = Body(100_000)  # chunked: no content-length
    status, _, _ = await call(guard, scope(authorization=f"Bearer {TOKEN}"), body)
    assert status == 413 and body.read == 5 and inner.calls == []  # 5 KiB read, then stopped


async def test_a_body_within_the_limit_reaches_the_app_whole() -> None:
    inner = Inner()
    guard = RequestGuard(inner, FakeState(max_body_bytes=4096), AuthThrottle())  # type: ignore[arg-type]
    status, _, _ = await call(guard, scope(authorization=f"Bearer {TOKEN}"), Body(3))
    assert status == 200 and inner.calls == [b"x" * 3072]


async def test_runs_in_flight_per_client_are_capped() -> None:
    gate = asyncio.Event()
    inner = Inner(gate)
    guard = RequestGuard(inner, FakeState(max_runs_per_client=2), AuthThrottle())  # type: ignore[arg-type]
    sc = scope(authorization=f"Bearer {TOKEN}")
    running = [asyncio.create_task(call(guard, sc, Body(1))) for _ in range(2)]
    await asyncio.sleep(0.05)
    status, headers, answer = await call(guard, sc, Body(1))
    assert status == 429 and headers["retry-after"] == "1"
    assert answer["error"]["type"] == "TooManyRunsError"
    other = dict(sc, client=("10.0.0.8", 1))  # another client is not affected
    third = asyncio.create_task(call(guard, other, Body(1)))
    gate.set()
    assert [r[0] for r in await asyncio.gather(*running, third)] == [200, 200, 200]
    assert guard.runs == {}  # released


async def test_event_streams_are_capped() -> None:
    gate = asyncio.Event()
    guard = RequestGuard(Inner(gate), FakeState(max_sse_clients=1), AuthThrottle())  # type: ignore[arg-type]
    sc = scope("/api/v1/events", "GET")
    first = asyncio.create_task(call(guard, sc, Body(1)))
    await asyncio.sleep(0.05)
    status, _, answer = await call(guard, sc, Body(1))
    assert status == 503 and answer["error"]["type"] == "TooManyStreamsError"
    gate.set()
    assert (await first)[0] == 200 and guard.streams == 0


# --- back-off ------------------------------------------------------------------------------------


def test_back_off_doubles_and_a_right_token_clears_it() -> None:
    now = [0.0]
    throttle = AuthThrottle(free=3, max_seconds=8, clock=lambda: now[0])
    assert [throttle.failure("c") for _ in range(2)] == [0.0, 0.0]
    assert throttle.failure("c") == 1.0 and throttle.retry_after("c") == 1.0
    now[0] = 1.0
    assert throttle.failure("c") == 2.0
    assert throttle.failure("c") == 4.0 and throttle.failure("c") == 8.0
    assert throttle.failure("c") == 8.0  # capped
    assert throttle.retry_after("other") == 0.0
    throttle.success("c")
    assert throttle.retry_after("c") == 0.0 and len(throttle) == 0


def test_the_throttle_remembers_a_bounded_number_of_clients() -> None:
    from claude_force.server import guard as guard_module

    throttle = AuthThrottle(free=1)
    for i in range(guard_module.MAX_TRACKED_CLIENTS + 50):
        throttle.failure(f"client-{i}")
    assert len(throttle) == guard_module.MAX_TRACKED_CLIENTS


def test_repeated_wrong_tokens_are_slowed_down(client: TestClient) -> None:
    wrong = {"Authorization": "Bearer " + "w" * 43}
    codes = [
        client.post("/api/v1/execute", json={"agent": "alpha", "task": "x"}, headers=wrong)
        for _ in range(5)
    ]
    assert [r.status_code for r in codes] == [401, 401, 429, 429, 429]
    assert int(codes[2].headers["retry-after"]) >= 1
    # during the back-off even the right token waits: guessing gains nothing
    blocked = client.post("/api/v1/execute", json={"agent": "alpha", "task": "x"}, headers=AUTH)
    assert blocked.status_code == 429


def test_tokens_are_compared_in_constant_time(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        seen.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    r = client.post("/api/v1/execute", json={"agent": "alpha", "task": "x"}, headers=AUTH)
    assert r.status_code == 200 and seen and seen[0][1] == TOKEN.encode()


# --- tokens --------------------------------------------------------------------------------------


def test_generated_tokens_are_strong() -> None:
    tokens = {new_token() for _ in range(20)}
    assert len(tokens) == 20 and all(len(t) == 43 and weak_token(t) is None for t in tokens)
    assert "fewer than 43" in (weak_token("short") or "")
    assert "distinct" in (weak_token("ab" * 30) or "")


def test_serve_refuses_a_weak_token_on_a_non_loopback_address(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from _sec_helpers import cli, error_line

    monkeypatch.setenv("CLAUDE_FORCE_SERVER_TOKEN", "short")
    result = cli("--config", str(config), "serve", "--host", "0.0.0.0", "--port", "0")
    assert result.exit_code == 2
    line = error_line(result)
    assert "CLAUDE_FORCE_SERVER_TOKEN" in line and "too weak" in line
    assert "claude-force server-token" in line and "short" not in line.split("weak")[0]


def test_server_token_command_prints_a_new_token() -> None:
    from _sec_helpers import cli

    first, second = cli("server-token"), cli("server-token")
    assert first.exit_code == 0 and len(first.stdout.strip()) == 43
    assert first.stdout != second.stdout


# --- what the API shows --------------------------------------------------------------------------


def test_validation_errors_never_echo_the_input(client: TestClient) -> None:
    big = {"agent": "alpha", "task": 12345, "unknown": "y" * 3000}
    r = client.post("/api/v1/execute", json=big, headers=AUTH)
    assert r.status_code == 422
    assert "yyyy" not in r.text and "12345" not in r.text and len(r.content) < 1000
    assert {tuple(d["loc"]) for d in r.json()["detail"]} >= {("body", "task")}


def test_body_over_the_limit_through_the_app(client: TestClient) -> None:
    r = client.post("/api/v1/execute", json={"agent": "alpha", "task": "x" * 10_000}, headers=AUTH)
    assert r.status_code == 413 and r.json()["error"]["type"] == "RequestTooLargeError"


def test_deeply_nested_json_body_is_a_client_error(client: TestClient) -> None:
    nested = "[" * 2000 + "]" * 2000
    r = client.post(
        "/api/v1/execute",
        content=nested,
        headers={**AUTH, "content-type": "application/json"},
    )
    assert 400 <= r.status_code < 500


def test_no_absolute_path_reaches_an_unauthenticated_caller(
    client: TestClient, tmp_path: Path
) -> None:
    texts = [
        client.get("/api/v1/project").text,
        client.get("/readyz").text,
        client.post("/api/v1/execute", json={"agent": "nobody", "task": "x"}, headers=AUTH).text,
        client.post("/api/v1/workflows/nope/run", json={"task": "x"}, headers=AUTH).text,
    ]
    assert client.get("/api/v1/project").json()["config_path"] == ".claude/claude.json"
    for text in texts:
        assert str(tmp_path) not in text and str(tmp_path.resolve()) not in text


# --- behind a reverse proxy: the per-client back-off applies to the forwarded client --------------


@pytest.mark.parametrize("trusted", [["127.0.0.1"], []])
async def test_forwarded_clients_are_told_apart_only_behind_a_trusted_proxy(
    config: Path, trusted: list[str]
) -> None:

    import httpx2

    from claude_force.server.run import Server, bind_socket, url_of

    settings = ServerSettings(auth_failures_before_backoff=3, trusted_proxies=trusted)
    app = create_app(config, simulate=True, token=TOKEN, settings=settings)
    sock = bind_socket("127.0.0.1", 0)
    server = Server(app, log_level="warning", access_log=False, configure_logging=False)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    wrong = {"Authorization": "Bearer " + "w" * 43}
    body = {"agent": "alpha", "task": "x"}
    try:
        async with asyncio.timeout(30), httpx2.AsyncClient(base_url=url_of(sock)) as http:
            while not server.started:  # noqa: ASYNC110 (uvicorn has no started event)
                await asyncio.sleep(0.01)

            async def post(client_ip: str) -> int:
                headers = {**wrong, "X-Forwarded-For": client_ip}
                return (await http.post("/api/v1/execute", json=body, headers=headers)).status_code

            assert [await post("203.0.113.7") for _ in range(4)][-1] == 429  # backing off
            other = await post("198.51.100.9")
    finally:
        await server.stop()
        await task
    # trusted: another client behind the same proxy is not held by the first one's back-off;
    # untrusted: the header is ignored and both are the proxy's address (127.0.0.1)
    assert other == (401 if trusted else 429)


def test_a_trusted_proxy_must_be_an_address_or_network() -> None:
    assert ServerSettings(trusted_proxies=["10.0.0.0/8", "::1", "*"]).trusted_proxies
    with pytest.raises(ValueError, match="not an IP address or network"):
        ServerSettings(trusted_proxies=["proxy.internal"])
