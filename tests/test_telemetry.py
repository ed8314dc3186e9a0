"""Traces (OpenTelemetry, GenAI conventions, an in-memory exporter and a real OTLP/HTTP one),
JSON logs with ids, request ids, and the server's process and build-info metrics."""

from __future__ import annotations

import dataclasses
import json
import logging
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from typer.testing import CliRunner

from _resilience_helpers import Scripted, err, write_project
from claude_force import callctx
from claude_force.async_orchestrator import AsyncAgentOrchestrator
from claude_force.cli.app import app
from claude_force.errors import ConfigurationError
from claude_force.events import ExecutionFinished
from claude_force.messages import Usage
from claude_force.server import create_app
from claude_force.telemetry import logs, tracing
from claude_force.telemetry.settings import TelemetrySettings
from claude_force.workflows.dag import Step, WorkflowDAG


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.use_tracer_provider(provider)
    yield exporter
    tracing.use_tracer_provider(None)


def project(tmp_path: Path) -> Path:
    retry = {"max_attempts": 3, "base_delay_seconds": 0.0, "max_delay_seconds": 0.0}
    return write_project(tmp_path, {"retry": retry}, memory={"enabled": False})


async def test_a_run_is_an_agent_span_with_a_chat_span_per_attempt(
    tmp_path: Path, spans: InMemorySpanExporter
) -> None:
    provider = Scripted([err(529), None])
    async with AsyncAgentOrchestrator(
        project(tmp_path), provider=provider, enable_tracking=False
    ) as orch:
        ex = await orch.execute("alpha", "hello")
    assert ex.success
    by_name: dict[str, list[Any]] = {}
    for s in spans.get_finished_spans():
        by_name.setdefault(s.name, []).append(s)
    agent = by_name["invoke_agent alpha"][0]
    chats = [s for name, group in by_name.items() if name.startswith("chat ") for s in group]
    assert len(chats) == 2  # the failed attempt and the retry
    assert all(c.parent is not None and c.parent.span_id == agent.context.span_id for c in chats)
    failed, ok = sorted(chats, key=lambda c: c.start_time)
    assert failed.attributes["error.type"] and not failed.status.is_ok
    a = ok.attributes
    assert a["gen_ai.operation.name"] == "chat" and a["gen_ai.provider.name"] == "anthropic"
    assert a["gen_ai.request.model"] == ex.model and a["gen_ai.usage.input_tokens"] >= 0
    assert ok.kind.name == "CLIENT"
    g = agent.attributes
    assert g["gen_ai.operation.name"] == "invoke_agent" and g["gen_ai.agent.name"] == "alpha"
    assert g["claude_force.execution_id"] == ex.execution_id
    assert "hello" not in json.dumps(
        {k: str(v) for s in [*chats, agent] for k, v in s.attributes.items()}
    )


async def test_a_failed_run_and_a_cache_hit(tmp_path: Path, spans: InMemorySpanExporter) -> None:
    async with AsyncAgentOrchestrator(
        project(tmp_path), provider=Scripted([err(400), None, None]), enable_tracking=False
    ) as orch:
        failed = await orch.execute("alpha", "bad")
        await orch.execute("alpha", "same")
        spans.clear()
        again = await orch.execute("alpha", "same")
    assert not failed.success and again.cached
    names = [s.name for s in spans.get_finished_spans()]
    assert names == ["invoke_agent alpha"]  # a cache hit calls no model
    assert spans.get_finished_spans()[0].attributes["claude_force.cached"] is True


async def test_workflow_and_step_spans(tmp_path: Path, spans: InMemorySpanExporter) -> None:
    dag = WorkflowDAG("pair", [Step("a", "alpha"), Step("b", "beta", depends_on=("a",))])
    async with AsyncAgentOrchestrator(
        project(tmp_path), provider=Scripted([None, None]), enable_tracking=False
    ) as orch:
        result = await orch.execute_workflow(dag, "do it")
    assert result.status == "succeeded"
    finished = {s.name: s for s in spans.get_finished_spans()}
    workflow = finished["invoke_workflow pair"]
    assert workflow.attributes["claude_force.workflow.status"] == "succeeded"
    step_b = finished["step b"]
    assert step_b.parent.span_id == workflow.context.span_id
    assert finished["invoke_agent beta"].parent.span_id == step_b.context.span_id


def test_spans_go_out_over_otlp_http() -> None:
    received: list[bytes] = []

    class Collector(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(self.rfile.read(int(self.headers["Content-Length"])))
            assert self.path == "/v1/traces"
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return None

    httpd = HTTPServer(("127.0.0.1", 0), Collector)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        endpoint = f"http://127.0.0.1:{httpd.server_address[1]}"
        stop = tracing.setup_tracing(TelemetrySettings(traces="otlp", otlp_endpoint=endpoint))
        assert stop is not None
        with tracing.span(
            "chat claude-test", client=True, attributes={"gen_ai.operation.name": "chat"}
        ):
            pass
        stop()  # flushes the batch
    finally:
        tracing.use_tracer_provider(None)
        httpd.shutdown()
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    body = ExportTraceServiceRequest()
    body.ParseFromString(b"".join(received))
    names = [s.name for rs in body.resource_spans for ss in rs.scope_spans for s in ss.spans]
    assert names == ["chat claude-test"]
    service = {a.key: a.value.string_value for a in body.resource_spans[0].resource.attributes}
    assert service["service.name"] == "claude-force"


def test_tracing_off_and_without_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    assert tracing.setup_tracing(TelemetrySettings()) is None
    monkeypatch.setitem(sys.modules, "opentelemetry.sdk.trace", None)
    with pytest.raises(ConfigurationError, match="not installed"):
        tracing.setup_tracing(TelemetrySettings(traces="console"))
    monkeypatch.setattr(tracing, "_otel", None)
    with tracing.span("x") as s:
        assert s is None
    assert tracing.tracing_layer() is None


def test_no_span_is_started_without_a_tracer_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    """OpenTelemetry installed but nobody set a provider (its proxy): a span would record
    nothing, so none is started at all (the per-call cost of tracing is one check)."""
    from opentelemetry import trace

    tracing.use_tracer_provider(None)
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: trace.ProxyTracerProvider())
    started: list[str] = []
    real = trace.ProxyTracerProvider.get_tracer

    def spy(self: Any, *a: Any, **kw: Any) -> Any:
        started.append("tracer")
        return real(self, *a, **kw)

    monkeypatch.setattr(trace.ProxyTracerProvider, "get_tracer", spy)
    with tracing.span("x") as s:
        assert s is None
    assert started == []
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: trace.NoOpTracerProvider())
    with tracing.span("y") as s:
        assert s is None


# --- logs -----------------------------------------------------------------------------------------


def record(msg: str, **extra: Any) -> logging.LogRecord:
    rec = logging.LogRecord("claude_force.x", logging.WARNING, __file__, 1, msg, (), None)
    for k, v in extra.items():
        setattr(rec, k, v)
    return rec


def test_json_lines_carry_the_ids_and_never_a_secret() -> None:
    fmt = logs.JsonFormatter()
    token = logs.request_id.set("req-7")
    try:
        with callctx.using(
            callctx.CallContext(agent="alpha", execution_id="e1", workflow_run_id="w1")
        ):
            line = json.loads(fmt.format(record("key sk-ant-api03-" + "x" * 30)))
    finally:
        logs.request_id.reset(token)
    assert line["execution_id"] == "e1" and line["workflow_run_id"] == "w1"
    assert line["request_id"] == "req-7" and line["agent"] == "alpha" and line["level"] == "warning"
    assert "sk-ant" not in line["message"]
    explicit = json.loads(fmt.format(record("x", execution_id="e2")))
    assert explicit["execution_id"] == "e2" and "request_id" not in explicit


def test_failed_runs_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    from datetime import UTC, datetime

    event = ExecutionFinished(
        "e9",
        "alpha",
        "t",
        "m",
        "anthropic",
        False,
        datetime.now(UTC),
        1.0,
        0.0,
        Usage(),
        None,
        False,
        False,
        error_type="OverloadedError",
        error="529 overloaded",
        workflow_run_id="w9",
    )
    with caplog.at_level(logging.DEBUG, logger="claude_force.runs"):
        logs.log_finished_run(event)
        logs.log_finished_run(dataclasses.replace(event, success=True, execution_id="e8"))
    failed = [r for r in caplog.records if r.levelno == logging.WARNING]
    fine = [r for r in caplog.records if r.levelno == logging.DEBUG]
    assert len(failed) == 1 and fine[0].execution_id == "e8"
    assert failed and failed[0].execution_id == "e9" and failed[0].workflow_run_id == "w9"
    assert "OverloadedError" in failed[0].getMessage()


def test_cli_log_format(tmp_path: Path) -> None:
    runner = CliRunner()
    config = write_project(tmp_path, provider={"latency": "instant"}, memory={"enabled": False})
    bad = runner.invoke(app, ["--log-format", "xml", "--config", str(config), "list", "agents"])
    assert bad.exit_code == 2 and "--log-format" in bad.stderr
    ok = runner.invoke(
        app,
        ["--log-format", "json", "--config", str(config), "--simulate", "execute", "alpha", "hi"],
    )
    assert ok.exit_code == 0, ok.stderr
    env = {"CLAUDE_FORCE_LOG_FORMAT": "json", "CLAUDE_FORCE_TRACES": "off"}
    again = runner.invoke(
        app, ["--config", str(config), "--simulate", "execute", "alpha", "hi"], env=env
    )
    assert again.exit_code == 0, again.stderr


# --- server ---------------------------------------------------------------------------------------


def test_request_ids_and_process_metrics(tmp_path: Path) -> None:
    config = write_project(tmp_path, provider={"latency": "instant"}, memory={"enabled": False})
    with TestClient(create_app(config, simulate=True), base_url="http://127.0.0.1") as c:
        given = c.get("/healthz", headers={"X-Request-ID": "abc-123"})
        assert given.headers["x-request-id"] == "abc-123"
        made = c.get("/healthz", headers={"X-Request-ID": "bad id;" * 10})
        assert len(made.headers["x-request-id"]) == 32
        text = c.get("/metrics").text
        assert "process_cpu_seconds_total" in text and "python_info" in text
        assert (
            'claude_force_build_info{python="' in text
            and "python_gc_objects_collected_total" in text
        )
        ready = c.get("/readyz")
        assert ready.status_code == 200
