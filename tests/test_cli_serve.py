"""``claude-force serve``, ``claude-force dashboard`` and ``claude-force analytics anomalies``."""

from __future__ import annotations

import json
import socket
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner, Result

from claude_force.cli.app import app
from claude_force.metrics.record import ExecutionRecord, to_us
from claude_force.metrics.sqlite_backend import SQLiteMetricsStore
from claude_force.server import run as server_run

runner = CliRunner()


def cli(*args: str) -> Result:
    return runner.invoke(app, list(args))


class FakeRun:
    """Stands in for uvicorn: checks the app the command built, on the socket it bound."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def __call__(
        self, app: FastAPI, sock: socket.socket, *, log_level: str, json_logs: bool = False
    ) -> None:
        host, port = sock.getsockname()[:2]
        with TestClient(app, base_url=f"http://127.0.0.1:{port}") as client:
            health = client.get("/healthz").status_code
            execute = client.post("/api/v1/execute", json={"agent": "python-expert", "task": "x"})
        self.calls.append(
            {
                "port": port,
                "host": host,
                "log_level": log_level,
                "json_logs": json_logs,
                "health": health,
                "execute": execute.status_code,
                "simulated": execute.json().get("simulated"),
                "listening": sock.fileno() >= 0,
            }
        )


@pytest.fixture
def fake_run(monkeypatch: pytest.MonkeyPatch) -> FakeRun:
    fake = FakeRun()
    monkeypatch.setattr(server_run, "run", fake)
    return fake


def test_serve_builds_the_app_on_a_bound_socket(in_project: Path, fake_run: FakeRun) -> None:
    result = cli("serve", "--port", "0", "--simulate", "--log-level", "WARNING")
    assert result.exit_code == 0, result.output
    (call,) = fake_run.calls
    assert call["host"] == "127.0.0.1" and call["port"] > 0 and call["listening"]
    assert call["log_level"] == "warning"
    assert call["health"] == 200 and call["execute"] == 200 and call["simulated"] is True
    assert result.stdout == ""  # serve prints nothing on stdout
    assert f"http://127.0.0.1:{call['port']}/" in result.stderr
    assert "no token: POST is open" in result.stderr


def test_dashboard_prints_its_url_and_can_open_a_browser(
    in_project: Path, fake_run: FakeRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    import webbrowser

    opened: list[str] = []
    monkeypatch.setattr(webbrowser, "open", opened.append)
    result = cli("dashboard", "--port", "0", "--open")
    assert result.exit_code == 0, result.output
    port = fake_run.calls[0]["port"]
    assert result.stdout == f"claude-force dashboard: http://127.0.0.1:{port}/\n"
    assert opened == [f"http://127.0.0.1:{port}/"]


def test_the_token_is_required_beyond_loopback_and_never_printed(
    in_project: Path, fake_run: FakeRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    refused = cli("serve", "--host", "0.0.0.0", "--port", "0")
    assert refused.exit_code == 2 and fake_run.calls == []
    assert "server.token" in refused.stderr and "--allow-unauthenticated" in refused.stderr
    # with a token the command goes on (the bind is redirected to loopback for the test)
    real_bind = server_run.bind_socket
    monkeypatch.setattr(server_run, "bind_socket", lambda host, port: real_bind("127.0.0.1", 0))
    secret = "very-secret-token-" + "abcdefghijklmnopqrstuvwxyz0123456789"  # strong enough
    monkeypatch.setenv("CLAUDE_FORCE_SERVER_TOKEN", secret)
    result = cli("serve", "--host", "10.1.2.3", "--port", "0")
    assert result.exit_code == 0, result.output
    assert fake_run.calls[0]["execute"] == 401  # POST needs the token now
    assert "need the bearer token" in result.stderr
    assert secret not in result.output


def test_serve_reports_usage_problems(in_project: Path, fake_run: FakeRun) -> None:
    bad_level = cli("serve", "--log-level", "loud")
    assert bad_level.exit_code == 2 and "--log-level" in bad_level.stderr
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        taken = cli("serve", "--port", str(port))
    assert taken.exit_code == 2 and "already in use" in taken.stderr
    assert fake_run.calls == []


def test_serve_without_the_server_extra(
    in_project: Path, fake_run: FakeRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "uvicorn", None)
    result = cli("serve")
    assert result.exit_code == 2
    assert "pip install 'claude-force[server]'" in result.stderr


# --- analytics anomalies -------------------------------------------------------------------------


def failing_then_fine(n_fail: int, n_ok: int, end: datetime) -> list[ExecutionRecord]:
    """``n_fail`` failed executions, then ``n_ok`` successful ones, one a second up to ``end``."""
    out = []
    total = n_fail + n_ok
    for i in range(total):
        start = end - timedelta(seconds=total - i)
        out.append(
            ExecutionRecord(
                execution_id=f"e{i}",
                agent="python-expert",
                model="claude-sonnet-5-5",
                provider="anthropic",
                started_us=to_us(start),
                duration_us=500_000,
                success=i >= n_fail,
                error_type=None if i >= n_fail else "ServerError",
                cost_pusd=1_000_000_000,
            )
        )
    return out


def store_records(config: Path, records: list[ExecutionRecord]) -> None:
    store = SQLiteMetricsStore(config.parent / "state" / "metrics.db")
    store.upsert(records)
    store.close()


def test_analytics_anomalies_replays_the_store(in_project: Path) -> None:
    now = datetime.now(UTC)
    store_records(in_project, failing_then_fine(15, 200, now - timedelta(hours=1)))
    result = cli("analytics", "anomalies", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["executions"] == 215 and data["active"] == 0
    kinds = {(a["kind"], a["agent"]) for a in data["anomalies"]}
    assert kinds == {("error_rate", "python-expert"), ("error_rate", "*")}
    assert all(a["resolution"] == "recovered" for a in data["anomalies"])
    first = data["anomalies"][0]  # oldest first
    assert datetime.fromisoformat(first["since"]) < now - timedelta(hours=1)
    text = cli("analytics", "anomalies")
    assert text.exit_code == 0 and "error rate" in text.stdout and "recovered" in text.stdout
    active = json.loads(cli("analytics", "anomalies", "--json", "--active").stdout)
    assert active["anomalies"] == []
    none = cli("analytics", "anomalies", "--since", "30m")
    assert none.exit_code == 0 and "no anomalies in 0 executions" in none.stdout
    bad = cli("analytics", "anomalies", "--since", "banana")
    assert bad.exit_code == 2


def test_analytics_anomalies_shows_open_ones(in_project: Path) -> None:
    store_records(in_project, failing_then_fine(12, 0, datetime.now(UTC)))
    data = json.loads(cli("analytics", "anomalies", "--json", "--active").stdout)
    assert data["active"] == 2 and {a["active"] for a in data["anomalies"]} == {True}
    text = cli("analytics", "anomalies", "--agent", "python-expert")
    rows = [line for line in text.stdout.splitlines() if "error rate" in line]
    assert len(rows) == 2
    assert all("open" in r and "100%" in r and "≤ 50%" in r for r in rows)
