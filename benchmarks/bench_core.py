"""Issue 2 benchmarks: orchestration overhead, CLI cold start, concurrency speedup."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _harness import Result, median, percentile

TITLE = "Core: overhead, cold start, concurrency"


def _project(tmp: Path) -> Path:
    from claude_force.scaffold import init_project

    return init_project(tmp)


async def _overhead(config: Path, n: int) -> tuple[list[float], list[float]]:
    """Seconds per call: bare SDK call vs a full claude-force execution, same emulator."""
    from anthropic import AsyncAnthropic

    from claude_force import AsyncAgentOrchestrator
    from claude_force.providers.anthropic import AnthropicProvider
    from claude_force.runner import RunOptions, system_text
    from claude_force.testing import Emulator

    async with Emulator(latency="instant") as emu:
        sdk = AsyncAnthropic(api_key="bench", base_url=emu.base_url, max_retries=0)
        provider = AnthropicProvider("bench", base_url=emu.base_url)
        orch = AsyncAgentOrchestrator(
            config, provider=provider, enable_tracking=False, enable_memory=False
        )
        docs = orch.project.read_agent("python-expert")
        system = system_text(docs.definition, docs.contract)
        model = orch.project.model_for("python-expert")
        bare: list[float] = []
        ours: list[float] = []
        # Interleave the two so that machine noise hits both alike; unique tasks: no cache hits.
        for i in range(n + 20):
            task = f"Review function number {i} for bugs."
            t0 = time.perf_counter()
            await sdk.messages.create(
                model=model,
                max_tokens=4096,
                system=[{"type": "text", "text": system, "cache_control": {"type": "ephemeral"}}],
                messages=[{"role": "user", "content": task}],
            )
            t1 = time.perf_counter()
            ex = await orch.execute("python-expert", task + " ", RunOptions(use_cache=False))
            t2 = time.perf_counter()
            assert ex.success, ex.errors
            if i >= 20:  # warm-up
                bare.append(t1 - t0)
                ours.append(t2 - t1)
        await sdk.close()
        await orch.close()
    return bare, ours


async def _concurrency(config: Path) -> tuple[float, float]:
    from claude_force import AsyncAgentOrchestrator
    from claude_force.providers.simulated import LatencyModel, SimulatedProvider
    from claude_force.runner import RunOptions

    provider = SimulatedProvider(latency=LatencyModel(first_token_s=1.0))
    orch = AsyncAgentOrchestrator(
        config, provider=provider, enable_tracking=False, enable_memory=False
    )
    items = [
        ("python-expert", "task A"),
        ("code-reviewer", "task B"),
        ("security-specialist", "task C"),
    ]
    opts = RunOptions(use_cache=False)
    t0 = time.perf_counter()
    for agent, task in items:
        await orch.execute(agent, task, opts)
    sequential = time.perf_counter() - t0
    t0 = time.perf_counter()
    results = await orch.execute_many(items, opts)
    concurrent = time.perf_counter() - t0
    assert all(r.success for r in results)
    await orch.close()
    return sequential, concurrent


def _cold_start(runs: int) -> list[float]:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "0"}
    cmd = [sys.executable, "-m", "claude_force", "--help"]
    subprocess.run(cmd, capture_output=True, env=env, check=True)  # compile caches
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, capture_output=True, env=env, check=True)
        samples.append(time.perf_counter() - t0)
    return samples


def run(quick: bool) -> list[Result]:
    with tempfile.TemporaryDirectory() as tmp:
        config = _project(Path(tmp))
        bare, ours = asyncio.run(_overhead(config, 100 if quick else 400))
        seq, conc = asyncio.run(_concurrency(config))
    overhead_p50 = (median(ours) - median(bare)) * 1000
    overhead_p99 = (percentile(ours, 99) - percentile(bare, 99)) * 1000
    cold = _cold_start(5 if quick else 15)
    interp = []
    for _ in range(5 if quick else 15):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        interp.append(time.perf_counter() - t0)
    speedup = seq / conc
    return [
        Result(
            "bare SDK call to emulator, p50", median(bare) * 1000, "ms", detail=f"n={len(bare)}"
        ),
        Result(
            "claude-force execution, p50",
            median(ours) * 1000,
            "ms",
            detail="same emulator, cache off",
        ),
        Result("orchestration overhead, p50", overhead_p50, "ms", "≤ 2 ms", overhead_p50 <= 2.0),
        Result("orchestration overhead, p99", overhead_p99, "ms", detail="p99(ours) − p99(bare)"),
        Result(
            "`claude-force --help` cold start, median",
            median(cold) * 1000,
            "ms",
            "≤ 300 ms",
            median(cold) <= 0.3,
            detail=f"python startup alone {median(interp) * 1000:.0f} ms",
        ),
        Result("3 tasks × 1 s: sequential", seq, "s"),
        Result("3 tasks × 1 s: concurrent", conc, "s"),
        Result("concurrency speedup", speedup, "×", "≥ 2.8×", speedup >= 2.8),
    ]
