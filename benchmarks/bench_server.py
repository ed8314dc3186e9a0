"""Server benchmarks: what ``POST /api/v1/execute`` adds over a direct ``execute`` (simulated
model, instant latency), the anomaly detector's throughput, and its false-alarm rate and
detection delay on synthetic streams."""

from __future__ import annotations

import asyncio
import json
import math
import random
import shutil
import tempfile
import time
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path

from _harness import Result, median, percentile

TITLE = "Server: API overhead, anomaly detection throughput and accuracy"

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def _project(root: Path) -> Path:
    src = Path(str(resources.files("claude_force").joinpath("sample_project")))
    shutil.copytree(src, root / ".claude")
    config = root / ".claude" / "claude.json"
    data = json.loads(config.read_text("utf-8"))
    data["provider"] = {"latency": "instant"}
    data["memory"] = {"enabled": False}
    config.write_text(json.dumps(data), encoding="utf-8")
    return config


async def _timed(call: object, n: int) -> list[float]:
    samples = []
    for i in range(n):
        t0 = time.perf_counter()
        await call(i)  # type: ignore[operator]
        samples.append(time.perf_counter() - t0)
    return samples


async def _api_overhead(n: int) -> list[Result]:
    import httpx2

    from claude_force.async_orchestrator import AsyncAgentOrchestrator
    from claude_force.runner import RunOptions
    from claude_force.server import create_app
    from claude_force.server.run import Server, bind_socket, url_of

    with tempfile.TemporaryDirectory() as tmp:
        config = _project(Path(tmp))
        orch = AsyncAgentOrchestrator(config, simulate=True)
        app = create_app(orch, warm_up=False)
        opts = RunOptions(use_cache=False, use_memory=False)

        async def direct(i: int) -> None:
            ex = await orch.execute("python-expert", f"direct task {i}", opts)
            assert ex.success

        body = {"agent": "python-expert", "use_cache": False, "use_memory": False}
        transport = httpx2.ASGITransport(app=app)
        sock = bind_socket("127.0.0.1", 0)
        server = Server(app, log_level="warning", access_log=False, configure_logging=False)
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        async with (
            httpx2.AsyncClient(transport=transport, base_url="http://127.0.0.1") as asgi,
            httpx2.AsyncClient(base_url=url_of(sock)) as http,
        ):

            async def via_asgi(i: int) -> None:
                r = await asgi.post("/api/v1/execute", json={**body, "task": f"asgi task {i}"})
                assert r.status_code == 200, r.text

            async def via_http(i: int) -> None:
                r = await http.post("/api/v1/execute", json={**body, "task": f"http task {i}"})
                assert r.status_code == 200, r.text

            for fn in (direct, via_asgi, via_http):  # warm-up
                await _timed(fn, 20)
            d = await _timed(direct, n)
            a = await _timed(via_asgi, n)
            h = await _timed(via_http, n)
        await server.stop()
        await serving
        sock.close()
        await orch.close()
    ms = 1000
    d50, a50, h50 = median(d) * ms, median(a) * ms, median(h) * ms
    return [
        Result("direct execute, p50", d50, "ms", detail=f"p95 {percentile(d, 95) * ms:.3f} ms"),
        Result(
            "POST /api/v1/execute in-process (ASGI), p50",
            a50,
            "ms",
            detail=f"p95 {percentile(a, 95) * ms:.3f} ms",
        ),
        Result(
            "POST /api/v1/execute over HTTP (uvicorn, 127.0.0.1), p50",
            h50,
            "ms",
            detail=f"p95 {percentile(h, 95) * ms:.3f} ms",
        ),
        Result(
            "API overhead in-process (ASGI p50 − direct p50)",
            a50 - d50,
            "ms",
            "≤ 2 ms",
            a50 - d50 <= 2.0,
            "FastAPI routing, validation, JSON",
        ),
        Result(
            "API overhead over HTTP (HTTP p50 − direct p50)",
            h50 - d50,
            "ms",
            "≤ 5 ms",
            h50 - d50 <= 5.0,
            "plus uvicorn, h11 and a loopback round trip",
        ),
    ]


def _stream(n: int, seed: int, *, shift_at: int | None = None) -> list[object]:
    """4 agents, log-normal latency (σ 0.4) and cost, 5% errors, 30% cache hits; from
    ``shift_at`` on, latency triples."""
    from claude_force.monitoring.anomaly import Sample

    rng = random.Random(seed)
    out: list[object] = []
    for i in range(n):
        ok = rng.random() >= 0.05
        cached = ok and rng.random() < 0.3
        factor = 3.0 if shift_at is not None and i >= shift_at else 1.0
        out.append(
            Sample(
                T0 + timedelta(seconds=i),
                "agent" if shift_at is not None else f"agent-{i % 4}",
                "claude-sonnet-5-5",
                ok,
                factor * 3000 * math.exp(rng.gauss(0, 0.4)),
                None if cached or not ok else 0.01 * math.exp(rng.gauss(0, 0.4)),
                cached,
            )
        )
    return out


def _detector(quick: bool) -> list[Result]:
    from claude_force.clock import VirtualClock
    from claude_force.events import ExecutionFinished
    from claude_force.messages import Usage
    from claude_force.monitoring.anomaly import AnomalyDetector, detect
    from claude_force.monitoring.live import LiveStats
    from claude_force.server.broadcast import Broadcaster
    from claude_force.server.monitor import Monitor

    n = 20_000 if quick else 100_000
    samples = _stream(n, 1)
    detector = AnomalyDetector(clock=VirtualClock(T0))
    t0 = time.perf_counter()
    for s in samples:
        detector.observe(s)  # type: ignore[arg-type]
    rate = n / (time.perf_counter() - t0)

    events = [
        ExecutionFinished(
            f"e{i}", s.agent, "task", s.model, "anthropic", s.success,  # type: ignore[attr-defined]
            s.at, s.duration_ms, 0.0, Usage(1000, 200), None, s.cached, False,  # type: ignore[attr-defined]
        )
        for i, s in enumerate(samples[:20_000])
    ]  # fmt: skip
    monitor = Monitor(
        live=LiveStats(clock=VirtualClock(1_800_000_000.0)),
        detector=AnomalyDetector(clock=VirtualClock(T0)),
        broadcaster=Broadcaster(),
    )
    t0 = time.perf_counter()
    for e in events:
        monitor.on_event(e)
    per_event_us = (time.perf_counter() - t0) / len(events) * 1e6

    runs = 5 if quick else 20
    false_alarms = sum(len(detect(_stream(10_000, 100 + r)).history()) for r in range(runs))  # type: ignore[arg-type]
    per_100k = false_alarms * 100_000 / (runs * 10_000)
    delays = []
    for r in range(runs):
        shifted = _stream(400, 500 + r, shift_at=300)
        found = [
            a
            for a in detect(shifted).history()  # type: ignore[arg-type]
            if a.kind == "latency" and a.since >= T0 + timedelta(seconds=300)
        ]
        delays.append(
            (min(a.since for a in found) - T0).total_seconds() - 300 if found else math.inf
        )
    caught = [d for d in delays if math.isfinite(d)]
    return [
        Result(
            "anomaly detector throughput (2 scopes, 4 detectors)",
            rate,
            "events/s",
            "≥ 20,000",
            rate >= 20_000,
            f"{n:,} executions",
        ),
        Result(
            "server subscriber per finished execution (stats, detector, SSE)",
            per_event_us,
            "µs",
            "≤ 100 µs",
            per_event_us <= 100,
            "Monitor.on_event, on the event loop",
        ),
        Result(
            "false alarms on steady streams (σ 0.4, 5% errors, 30% hits)",
            per_100k,
            "per 100k executions",
            detail=f"{false_alarms} over {runs * 10_000:,} executions, default thresholds",
        ),
        Result(
            "latency ×3 shift: samples until raised (median)",
            median(caught) if caught else math.inf,
            "executions",
            "≤ 10",
            bool(caught) and median(caught) <= 10,
            f"caught {len(caught)}/{runs}",
        ),
    ]


def run(quick: bool) -> list[Result]:
    results = asyncio.run(_api_overhead(100 if quick else 500))
    return results + _detector(quick)
