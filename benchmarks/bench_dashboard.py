"""Dashboard benchmarks with 1 million stored executions (``--quick``: 50,000): the latency of
each dashboard query through the real server (uvicorn on 127.0.0.1), the time to the first
meaningful paint of the page in Chromium (all cards, charts and the executions table drawn), and
the server's overhead per execution with OpenTelemetry tracing on (SDK + batch OTLP/HTTP export
to a local collector stub) versus off."""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from importlib import resources
from pathlib import Path
from typing import Any

from _dash_data import make_store
from _harness import Result, median, percentile

TITLE = "Dashboard: 1M stored executions, first paint, tracing overhead"
CHROMIUM = "/usr/bin/chromium"


def _project(root: Path) -> Path:
    src = Path(str(resources.files("claude_force").joinpath("sample_project")))
    shutil.copytree(src, root / ".claude")
    config = root / ".claude" / "claude.json"
    data = json.loads(config.read_text("utf-8"))
    data["provider"] = {"latency": "instant", "simulate": "auto"}
    data["memory"] = {"enabled": False}
    config.write_text(json.dumps(data), encoding="utf-8")
    return config


class _Serving:
    """uvicorn in a thread of its own, so the benchmark's client never shares its loop."""

    def __init__(self, app: Any) -> None:
        from claude_force.server.run import Server, bind_socket, url_of

        self.sock = bind_socket("127.0.0.1", 0)
        self.url = url_of(self.sock).rstrip("/")
        self.server = Server(app, log_level="warning", access_log=False, configure_logging=False)
        self.thread = threading.Thread(
            target=lambda: asyncio.run(self.server.serve(sockets=[self.sock])), daemon=True
        )

    def __enter__(self) -> _Serving:
        import httpx2

        self.thread.start()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx2.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return self
            except httpx2.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("server did not start")

    def __exit__(self, *exc: object) -> None:
        self.server.end_streams()
        self.server.should_exit = True
        self.thread.join(30)
        self.sock.close()


def _queries(url: str, n: int, exec_id: str) -> list[Result]:
    import httpx2

    paths = [f"/api/v1/dashboard/overview?range={r}" for r in ("15m", "1h", "24h", "7d", "30d")]
    paths += [
        "/api/v1/dashboard/executions?range=7d",
        "/api/v1/dashboard/executions?range=7d&failed_only=true",
        f"/api/v1/dashboard/executions/{exec_id}",
        "/api/v1/anomalies?since=1h",
    ]
    out = []
    with httpx2.Client(base_url=url, timeout=120) as client:
        for path in paths:
            client.get(path).raise_for_status()  # warm-up
            samples = []
            for _ in range(n):
                t0 = time.perf_counter()
                client.get(path).raise_for_status()
                samples.append((time.perf_counter() - t0) * 1000)
            p95 = percentile(samples, 95)
            out.append(
                Result(
                    f"GET {path.split('?')[0].replace(exec_id, '{id}')}"
                    + (f" ?{path.split('?')[1]}" if "?" in path else ""),
                    median(samples),
                    "ms p50",
                    "p95 ≤ 500 ms",
                    p95 <= 500,
                    f"p95 {p95:.1f} ms over {n}",
                )
            )
    return out


def _first_paint(url: str, loads: int) -> list[Result]:
    if not Path(CHROMIUM).exists():
        return [Result("time to first meaningful paint", 0, "s", detail="no Chromium: skipped")]
    from playwright.sync_api import sync_playwright

    samples = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        for _ in range(loads + 1):
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            t0 = time.perf_counter()
            page.goto(url + "/#range=7d")
            page.wait_for_selector("body[data-loaded=true]", timeout=120_000)
            samples.append(time.perf_counter() - t0)
            page.close()
        browser.close()
    samples = samples[1:]  # the first load also starts the browser's caches
    return [
        Result(
            "time to first meaningful paint (7 d view)",
            median(samples),
            "s",
            "≤ 2 s",
            median(samples) <= 2.0,
            f"navigation to cards, 4 charts and the table drawn; max {max(samples):.2f} s "
            f"over {loads} loads",
        )
    ]


class _Collector(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return None


def _tracing_overhead(config: Path, n: int) -> list[Result]:
    import httpx2
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.trace import NoOpTracerProvider

    from claude_force.server import create_app
    from claude_force.telemetry import tracing

    collector = HTTPServer(("127.0.0.1", 0), _Collector)
    threading.Thread(target=collector.serve_forever, daemon=True).start()
    sdk = TracerProvider()
    endpoint = f"http://127.0.0.1:{collector.server_address[1]}/v1/traces"
    sdk.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    body = {"agent": "python-expert", "use_cache": False, "use_memory": False}
    results: dict[str, list[float]] = {"off": [], "on": []}
    app = create_app(config, simulate=True, warm_up=False)
    try:
        with _Serving(app) as srv, httpx2.Client(base_url=srv.url, timeout=60) as client:
            for round_ in range(4):  # interleaved, so load changes hit both alike
                for mode in ("off", "on"):
                    tracing.use_tracer_provider(sdk if mode == "on" else NoOpTracerProvider())
                    for i in range(n // 4 + (5 if round_ == 0 else 0)):
                        t0 = time.perf_counter()
                        r = client.post(
                            "/api/v1/execute", json={**body, "task": f"{mode} {round_} {i}"}
                        )
                        r.raise_for_status()
                        if not (round_ == 0 and i < 5):  # warm-up
                            results[mode].append((time.perf_counter() - t0) * 1000)
    finally:
        tracing.use_tracer_provider(None)
        sdk.shutdown()
        collector.shutdown()
    off, on = median(results["off"]), median(results["on"])
    return [
        Result(
            "POST /api/v1/execute, tracing off, p50", off, "ms", detail=f"n={len(results['off'])}"
        ),
        Result(
            "POST /api/v1/execute, tracing on (OTLP), p50",
            on,
            "ms",
            detail=f"n={len(results['on'])}",
        ),
        Result(
            "tracing overhead per execution (p50 on − off)",
            on - off,
            "ms",
            "≤ 1 ms",
            on - off <= 1.0,
            "2 spans per execution (invoke_agent + chat), batch export over OTLP/HTTP",
        ),
    ]


def run(quick: bool) -> list[Result]:
    from claude_force.server import create_app

    n_rows = 50_000 if quick else 1_000_000
    results: list[Result] = []
    with tempfile.TemporaryDirectory() as tmp:
        config = _project(Path(tmp))
        db = config.parent / "state" / "metrics.db"
        db.parent.mkdir(parents=True, exist_ok=True)
        now_us = int(time.time() * 1_000_000)
        secs = make_store(db, n_rows, now_us=now_us)
        results.append(
            Result("stored executions", n_rows, "rows", detail=f"made in {secs:.0f} s (7 days)")
        )
        t0 = time.perf_counter()
        app = create_app(config, simulate=True)
        with _Serving(app) as srv:
            results.append(
                Result(
                    "server start (anomaly warm-up from the store)",
                    time.perf_counter() - t0,
                    "s",
                    detail="reads the last 24 h (server.warmup_hours)",
                )
            )
            import httpx2

            newest = httpx2.get(srv.url + "/api/v1/dashboard/executions?range=15m&limit=1")
            rows = newest.json()["executions"] or [{"execution_id": "bench-00000000"}]
            results += _queries(srv.url, 5 if quick else 20, rows[0]["execution_id"])
            results += _first_paint(srv.url, 2 if quick else 5)
        results += _tracing_overhead(config, 40 if quick else 400)
    return results
