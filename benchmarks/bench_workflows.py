"""Parallel workflows: wall time against the critical path, and the engine's own overhead.

1. ``code-quality-check`` of the sample project (three reviewers, then a summary) through the
   full orchestrator, on the simulated model with a fixed latency per call (1 s; 0.25 s with
   ``--quick``) and the response cache off: parallel wall time against the critical path
   (2 × latency) and against the same workflow run ``--sequential``.
2. A 200-step random DAG with instant responses: how long a ready step waits before it starts
   (its start offset minus its last dependency's end offset), p50 and p99 — with a no-op executor
   (the engine alone) and through the orchestrator (engine + runner + call pipeline).
"""

from __future__ import annotations

import asyncio
import random
import shutil
import tempfile
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

from _harness import Result, percentile
from claude_force.async_orchestrator import AsyncAgentOrchestrator
from claude_force.messages import Usage
from claude_force.providers.simulated import LatencyModel, SimulatedProvider
from claude_force.runner import Execution
from claude_force.workflows import Step, StepCall, WorkflowDAG, WorkflowEngine, WorkflowResult

TITLE = "Parallel workflows (DAG engine)"


def _sample_project(dest: Path) -> Path:
    src = Path(str(resources.files("claude_force").joinpath("sample_project")))
    shutil.copytree(src, dest / ".claude")
    return dest / ".claude" / "claude.json"


async def _code_quality(config: Path, latency_s: float, parallel: bool) -> WorkflowResult:
    provider = SimulatedProvider(latency=LatencyModel(first_token_s=latency_s))
    async with AsyncAgentOrchestrator(config, provider=provider, enable_cache=False) as core:
        return await core.execute_workflow(
            "code-quality-check", "Review payments.py for bugs and risks", parallel=parallel
        )


def random_dag(n: int, seed: int = 7, max_deps: int = 3) -> WorkflowDAG:
    rng = random.Random(seed)
    dag = WorkflowDAG(f"random-{n}")
    for i in range(n):
        k = rng.randint(0, min(i, max_deps))
        deps = [f"s{j}" for j in sorted(rng.sample(range(i), k))] if i else []
        dag.add_step(f"s{i}", "python-expert", deps)
    return dag


class InstantExecutor:
    """A step that answers at once: measures the engine alone."""

    async def run_step(self, call: StepCall) -> Execution:
        return Execution(
            execution_id=call.step.id,
            agent=call.step.agent,
            task=call.task,
            model="m",
            provider="instant",
            success=True,
            output=f"done {call.step.id}",
            started_at=datetime.now(UTC),
            duration_ms=0.0,
            usage=Usage(1, 1),
        )

    async def identity(self, step: Step) -> str:
        return step.agent


def dispatch_delays_ms(result: WorkflowResult, dag: WorkflowDAG) -> list[float]:
    """Per step: start offset minus the end offset of its last dependency (or the run start)."""
    out = []
    for step in dag:
        res = result.steps[step.id]
        ready = max((result.steps[d].end_offset_s or 0.0 for d in step.depends_on), default=0.0)
        out.append(((res.start_offset_s or 0.0) - ready) * 1000)
    return out


def run(quick: bool) -> list[Result]:
    latency = 0.25 if quick else 1.0
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="cf-bench-wf-") as tmp:
        config = _sample_project(Path(tmp))
        # A discarded warm-up run (instant answers): the first run of a process pays one-time
        # costs (imports, creating the state databases) that would otherwise be charged to
        # whichever mode is measured first.
        asyncio.run(_code_quality(config, 0.0, parallel=True))
        par = asyncio.run(_code_quality(config, latency, parallel=True))
        seq = asyncio.run(_code_quality(config, latency, parallel=False))
        ideal = 2 * latency
        assert par.success and seq.success, (par.error, seq.error)
        results += [
            Result(
                "code-quality-check parallel wall",
                par.wall_s,
                "s",
                f"≤ 1.05 × critical path ({ideal:g} s)",
                par.wall_s <= 1.05 * ideal,
                f"{par.wall_s / ideal:.3f}× the critical path; measured critical path "
                f"{par.critical_path_s:.3f} s ({' → '.join(par.critical_path)})",
            ),
            Result(
                "code-quality-check sequential wall",
                seq.wall_s,
                "s",
                f"≈ 4 × latency ({4 * latency:g} s)",
                None,
                "same workflow with --sequential",
            ),
            Result(
                "parallel speedup over sequential",
                seq.wall_s / par.wall_s,
                "×",
                "≥ 1.9×",
                seq.wall_s / par.wall_s >= 1.9,
                f"sum of step times / wall in the parallel run: {par.speedup or 0:.2f}×",
            ),
        ]

        n = 200
        dag = random_dag(n)
        repeats = 3 if quick else 7
        runs = [
            asyncio.run(WorkflowEngine(InstantExecutor()).run(dag, "t", max_concurrent=n))
            for _ in range(repeats)
        ]
        p50s = sorted(percentile(dispatch_delays_ms(r, dag), 50) for r in runs)
        p99s = sorted(percentile(dispatch_delays_ms(r, dag), 99) for r in runs)
        walls = sorted(r.wall_s / n * 1000 for r in runs)
        mid = repeats // 2
        results += [
            Result(
                "200-step DAG, engine only: dispatch delay p50",
                p50s[mid],
                "ms",
                "",
                None,
                f"median of {repeats} runs; critical path {len(runs[0].critical_path)} steps, "
                f"{len(dag.stages())} stages, no concurrency bound",
            ),
            Result(
                "200-step DAG, engine only: dispatch delay p99",
                p99s[mid],
                "ms",
                "",
                None,
                f"median of {repeats} runs (range {p99s[0]:.2f}–{p99s[-1]:.2f} ms)",
            ),
            Result(
                "200-step DAG, engine only: wall per step",
                walls[mid],
                "ms",
                "",
                None,
                f"whole run {walls[mid] * n:.1f} ms for {n} steps",
            ),
        ]

        async def through_core() -> WorkflowResult:
            provider = SimulatedProvider(latency="instant")
            async with AsyncAgentOrchestrator(
                config, provider=provider, enable_cache=False, max_concurrent=n
            ) as core:
                return await core.execute_workflow(dag, "t", max_concurrent=n)

        full = asyncio.run(through_core())
        delays = dispatch_delays_ms(full, dag)
        results += [
            Result(
                "200-step DAG via orchestrator: dispatch delay p50", percentile(delays, 50), "ms"
            ),
            Result(
                "200-step DAG via orchestrator: dispatch delay p99", percentile(delays, 99), "ms"
            ),
            Result(
                "200-step DAG via orchestrator: wall per step",
                full.wall_s / n * 1000,
                "ms",
                "",
                None,
                "engine + runner + call pipeline + simulated text, no cache",
            ),
        ]
    return results
