"""Resilience: fail-fast with an open breaker; completion and extra latency under 30% faults.

Everything runs against the local Messages API emulator through the official SDK (real HTTP on
127.0.0.1), on the real clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import tempfile
import time
from pathlib import Path
from typing import Any

from _harness import Result, median, percentile
from claude_force.async_orchestrator import AsyncAgentOrchestrator
from claude_force.errors import CircuitOpenError, ProviderError
from claude_force.events import EventBus, ExecutionFinished, RetryScheduled
from claude_force.messages import ChatMessage, MessageRequest, MessageResponse, Usage
from claude_force.pipeline import resilient_spec, wrap
from claude_force.providers.anthropic import AnthropicProvider
from claude_force.providers.simulated import LatencyModel
from claude_force.resilience import ResilienceHub, ResilienceSettings
from claude_force.testing import Emulator, EmulatorThread

TITLE = "Resilience (retry, breaker, rate limit) against the emulator"

FAULTS_30 = "429:0.1,529:0.08,500:0.06,drop:0.06"
# The emulator's 'fast' preset without its ±10% jitter: a task's answer then takes the same time
# in the fault-free and the faulty run, so pairing the two isolates what the faults cost.
LATENCY = LatencyModel(first_token_s=0.05, per_token_s=0.0005)
TOLERANT = {  # the configuration documented in docs/reliability.md for a fault-heavy API
    "retry": {"max_attempts": 10, "budget_ratio": 1.0},
}


def _project(root: Path, resilience: dict[str, Any]) -> Path:
    claude = root / ".claude"
    (claude / "agents").mkdir(parents=True)
    (claude / "agents" / "reviewer.md").write_text("# Reviewer\n\nReview the code.\n", "utf-8")
    config = {
        "agents": {"reviewer": {"file": "agents/reviewer.md"}},
        "cache": {"enabled": False},
        "resilience": resilience,
    }
    path = claude / "claude.json"
    path.write_text(json.dumps(config), "utf-8")
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


# --- 1. provider down, breaker open: how fast does a call fail? --------------------------------


async def _open_breaker_latency(n: int, root: Path) -> tuple[list[float], int]:
    config = _project(root / "down", {"retry": {"base_delay_seconds": 0.01}})
    down = AnthropicProvider(api_key="test", base_url=f"http://127.0.0.1:{_free_port()}")
    async with AsyncAgentOrchestrator(
        config, provider=down, max_concurrent=50, enable_tracking=False
    ) as orch:
        opening = await orch.execute_many([("reviewer", f"warm-up {i}") for i in range(12)])
        assert not any(ex.success for ex in opening)
        samples, open_errors = [], 0
        for i in range(n):
            t0 = time.perf_counter()
            ex = await orch.execute("reviewer", f"call {i}")
            samples.append(time.perf_counter() - t0)
            open_errors += ex.error_type == CircuitOpenError.__name__
    return samples, open_errors


async def _open_breaker_pipeline(n: int) -> list[float]:
    """The same through the bare pipeline (no runner), for the layer's own cost."""
    hub = ResilienceHub(ResilienceSettings.model_validate({"retry": {"enabled": False}}))
    down = AnthropicProvider(api_key="test", base_url=f"http://127.0.0.1:{_free_port()}")
    pipeline = wrap(down, resilient_spec(hub))
    req = MessageRequest("claude-sonnet-5-5", (ChatMessage("user", "hi"),), max_tokens=64)
    for _ in range(12):
        with contextlib.suppress(ProviderError, CircuitOpenError):
            await pipeline.send(req)
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        with contextlib.suppress(CircuitOpenError):
            await pipeline.send(req)
        samples.append(time.perf_counter() - t0)
    await pipeline.aclose()
    return samples


# --- 2. 30% transient faults: completion and extra latency --------------------------------------


async def _warm(provider: AnthropicProvider, emu: Emulator) -> None:
    """Build the SDK client and open connections before measuring, straight through the provider
    (no retry budget or breaker is touched); the emulator then forgets these requests and
    restarts its fault sequence. Without it the first batch pays the cold start."""
    req = MessageRequest("claude-sonnet-5-5", (ChatMessage("user", "warm-up"),), max_tokens=16)

    async def one() -> None:
        with contextlib.suppress(ProviderError):
            await provider.send(req)

    await asyncio.gather(*(one() for _ in range(4)))
    emu.reset()


async def _run_batch(config: Path, emu: Emulator, n: int, concurrency: int) -> dict[str, Any]:
    """Per-call latency (s) of n executions by task, the tasks that were retried, successes."""
    bus = EventBus()
    retried: set[str] = set()
    task_of: dict[str, str] = {}
    retries = 0
    latency: dict[str, float] = {}
    successes = 0

    def on_event(event: object) -> None:
        nonlocal successes, retries
        if isinstance(event, RetryScheduled):
            retries += 1
            retried.add(event.execution_id or "")
        elif isinstance(event, ExecutionFinished):
            # Time in the call itself: the wait for a max_concurrent slot is not the API's doing.
            latency[event.task] = (event.duration_ms - event.queue_wait_ms) / 1000
            task_of[event.execution_id] = event.task
            successes += event.success

    bus.subscribe(on_event)
    provider = AnthropicProvider(api_key="test", base_url=emu.base_url, timeout_seconds=30)
    async with AsyncAgentOrchestrator(
        config, provider=provider, bus=bus, max_concurrent=concurrency, enable_tracking=False
    ) as orch:
        await _warm(provider, emu)
        await orch.execute_many([("reviewer", f"review change {i}") for i in range(n)])
    return {
        "by_task": latency,
        "all": list(latency.values()),
        "retried_tasks": {task_of[e] for e in retried if e in task_of},
        "ok": successes,
        "retries": retries,
    }


def _paired_extra_ms(faulty: dict[str, Any], clean: dict[str, Any], only: set[str] | None) -> float:
    """Median over tasks of (latency with faults − latency of the same task without), in ms.

    Pairing by task cancels what the two runs share (the emulator's per-answer latency depends
    on the answer's length); a difference of medians would mostly measure run-to-run noise,
    since most calls are not retried at all.
    """
    tasks = [t for t in faulty["by_task"] if t in clean["by_task"] and (only is None or t in only)]
    if not tasks:
        return 0.0
    return median([faulty["by_task"][t] - clean["by_task"][t] for t in tasks]) * 1000


def _faults(n: int, concurrency: int, root: Path) -> dict[str, Any]:
    """The emulator runs in its own thread (its own event loop): sharing the client's loop, its
    work would slow the fault-free run most — every call of it is answered at once — and make
    the faulty run look faster than the clean one."""
    tolerant = _project(root / "tolerant", TOLERANT)
    defaults = _project(root / "defaults", {})
    out: dict[str, Any] = {}
    with EmulatorThread(latency=LATENCY) as clean:
        out["clean"] = asyncio.run(_run_batch(tolerant, clean, n, concurrency))
    with EmulatorThread(latency=LATENCY, faults=FAULTS_30, seed=7) as faulty:
        out["faulty"] = asyncio.run(_run_batch(tolerant, faulty, n, concurrency))
        out["faulty_requests"] = faulty.requests_total
        out["faulty_outcomes"] = dict(faulty.outcomes)
    with EmulatorThread(latency=LATENCY, faults=FAULTS_30, seed=7) as faulty:
        out["defaults"] = asyncio.run(_run_batch(defaults, faulty, n, concurrency))
    return out


class _Instant:
    name = "instant"
    simulated = False

    async def send(self, request: MessageRequest) -> MessageResponse:
        return MessageResponse("ok", request.model, "end_turn", Usage(10, 5))

    async def aclose(self) -> None:
        return None


async def _overhead(n: int) -> tuple[float, float]:
    """Microseconds per call through the resilience layers vs the bare provider (no faults)."""
    settings = ResilienceSettings.model_validate(
        {
            "rate_limits": {
                "default": {"requests_per_minute": 10**9, "output_tokens_per_minute": 10**12}
            }
        }
    )
    hub = ResilienceHub(settings)
    layered = wrap(_Instant(), resilient_spec(hub))
    bare = _Instant()
    req = MessageRequest("claude-sonnet-5-5", (ChatMessage("user", "hi"),), max_tokens=64)

    async def per_call(p: Any) -> float:
        for _ in range(200):
            await p.send(req)
        t0 = time.perf_counter()
        for _ in range(n):
            await p.send(req)
        return (time.perf_counter() - t0) / n * 1e6

    return await per_call(layered), await per_call(bare)


def run(quick: bool) -> list[Result]:
    n_open = 300 if quick else 2000
    n_calls = 100 if quick else 300
    concurrency = 25
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        open_samples, open_errors = asyncio.run(_open_breaker_latency(n_open, root))
        pipe_samples = asyncio.run(_open_breaker_pipeline(n_open))
        faults = _faults(n_calls, concurrency, root)
    layered_us, bare_us = asyncio.run(_overhead(2000 if quick else 20000))

    p99_ms = percentile(open_samples, 99) * 1000
    clean, faulty, defaults = faults["clean"], faults["faulty"], faults["defaults"]
    clean_lat, faulty_lat = clean["all"], faulty["all"]
    faulty_ok, faulty_retries = faulty["ok"], faulty["retries"]
    default_ok, default_retries = defaults["ok"], defaults["retries"]
    extra_ms = _paired_extra_ms(faulty, clean, None)
    retried_extra_ms = _paired_extra_ms(faulty, clean, faulty["retried_tasks"])
    outcomes = faults["faulty_outcomes"]
    injected = sum(v for k, v in outcomes.items() if k != "ok")
    return [
        Result(
            "open breaker: call fails (execute, p99)",
            p99_ms,
            "ms",
            "≤ 5 ms",
            p99_ms <= 5.0 and open_errors == n_open,
            f"p50 {median(open_samples) * 1000:.3f} ms over {n_open} calls through the runner, all "
            f"CircuitOpenError, 0 requests sent; load average {os.getloadavg()[0]:.1f} on "
            f"{os.cpu_count()} CPUs",
        ),
        Result(
            "open breaker: pipeline.send rejects (p99)",
            percentile(pipe_samples, 99) * 1e6,
            "µs",
            "",
            None,
            f"p50 {median(pipe_samples) * 1e6:.1f} µs",
        ),
        Result(
            "30% faults: completion rate",
            100.0 * faulty_ok / n_calls,
            "%",
            "100 %",
            faulty_ok == n_calls,
            f"{n_calls} calls, {concurrency} at a time; {injected} faults injected "
            f"({', '.join(f'{k}: {v}' for k, v in sorted(outcomes.items()) if k != 'ok')}); "
            f"{faulty_retries} retries; max_attempts 10, budget_ratio 1.0",
        ),
        Result(
            "30% faults: median extra latency per call",
            extra_ms,
            "ms",
            "",
            None,
            f"paired by task against a fault-free run (emulator 'fast' latency, no jitter): median "
            f"{median(faulty_lat) * 1000:.0f} ms vs {median(clean_lat) * 1000:.0f} ms, p99 "
            f"{percentile(faulty_lat, 99) * 1000:.0f} ms vs {percentile(clean_lat, 99) * 1000:.0f} "
            f"ms; the {len(faulty['retried_tasks'])} retried calls: median "
            f"+{retried_extra_ms:.0f} ms (429 retry-after 1 s, backoff 0.5 s base). The median "
            "call is not retried: its figure is near 0, and below 0 when calls waiting out a "
            "retry leave the emulator and the client less loaded",
        ),
        Result(
            "30% faults with default settings: completion",
            100.0 * default_ok / n_calls,
            "%",
            "",
            None,
            f"max_attempts 3, 20% retry budget: {default_retries} retries; failures are the "
            "budget and attempt limits doing their job",
        ),
        Result(
            "resilience layers overhead (no faults)",
            layered_us - bare_us,
            "µs/call",
            "",
            None,
            f"{layered_us:.1f} µs layered vs {bare_us:.1f} µs bare, rate limits on",
        ),
    ]
