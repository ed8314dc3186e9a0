"""Cost per execution on a replayed mixed workload: what each cost feature saves.

The workload (seeded, simulated model, instant latency, the packaged sample project's agents):
2,000 runs (``--quick``: 400) drawn from task templates of three kinds — 60% simple (typos,
renames, summaries, lists), 30% normal (reviews, tests, explanations), 10% critical (security
audits, migrations, architecture) — where 40% of the runs repeat an earlier task. Every scenario
goes through the real engine (runner → call pipeline → simulated provider) and prices each run
with the package's price table:

1. baseline — every run on the normal model (``models.routing.normal``), response cache off;
2. response cache — the same, cache on (repeats are answered locally, cost 0);
3. cache + routing — ``AsyncHybridOrchestrator``: the router picks each run's model;
4. cache + routing + batch — the runs submitted as Message Batches (simulated backend) in 20
   windows of consecutive runs; answers of earlier windows are in the response cache.

Plus one figure through the Messages API emulator (real SDK over 127.0.0.1), which accounts
Anthropic's prompt cache: the baseline's cost with prompt caching vs the same usage billed as
plain input. It is an upper bound: every run here comes within the 5-minute TTL of the previous
run of its agent, and the emulator caches prompts of any length (the real API skips prompts
under the model's minimum, 512–4,096 tokens).
"""

from __future__ import annotations

import asyncio
import json
import random
import shutil
import sys
import tempfile
from collections import Counter
from decimal import Decimal
from importlib import resources
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import Result

TITLE = "Cost per execution: response cache, model routing, batch mode, prompt caching"

SIMPLE = [
    ("document-writer", "Fix the typo in the README heading {n}"),
    ("document-writer", "Summarize the changelog entries of release {n}"),
    ("api-documenter", "List the endpoints of service {n}"),
    ("python-expert", "Rename variable tmp{n} to something clearer"),
    ("document-writer", "Add a docstring comment to helper {n}"),
]
NORMAL = [
    ("code-reviewer", "Review the retry helper in module {n} for bugs"),
    ("test-engineer", "Write unit tests for the parser of format {n}"),
    ("python-expert", "Explain why function {n} is slow and propose a fix"),
    ("refactoring-specialist", "Split the handler in module {n} into smaller functions"),
]
CRITICAL = [
    ("security-specialist", "Audit the authentication flow {n} for security vulnerabilities"),
    ("database-architect", "Plan the production schema migration {n} without downtime"),
    ("backend-architect", "Design the architecture of payment service {n}"),
]
REPEAT_SHARE = 0.4
WINDOWS = 20


def workload(n_runs: int, seed: int = 5) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    runs: list[tuple[str, str]] = []
    uniques: list[tuple[str, str]] = []
    for i in range(n_runs):
        if uniques and rng.random() < REPEAT_SHARE:
            runs.append(rng.choice(uniques))
            continue
        pool = rng.choices([SIMPLE, NORMAL, CRITICAL], weights=[60, 30, 10])[0]
        agent, template = rng.choice(pool)
        item = (agent, template.format(n=i))
        uniques.append(item)
        runs.append(item)
    return runs


def make_project(root: Path, **settings: object) -> Path:
    src = Path(str(resources.files("claude_force").joinpath("sample_project")))
    shutil.copytree(src, root / ".claude")
    path = root / ".claude" / "claude.json"
    data = json.loads(path.read_text())
    data["cache"] = {"backend": "memory", "max_size_mb": 512}
    data["metrics"] = {"enabled": False}
    data.update(settings)
    path.write_text(json.dumps(data))
    return path


async def online(config: Path, runs: list[tuple[str, str]], *, cache: bool, routing: bool) -> dict:
    from claude_force.async_orchestrator import AsyncAgentOrchestrator
    from claude_force.hybrid_orchestrator import AsyncHybridOrchestrator
    from claude_force.providers.simulated import SimulatedProvider
    from claude_force.runner import RunOptions

    cls = AsyncHybridOrchestrator if routing else AsyncAgentOrchestrator
    core = cls(
        config,
        provider=SimulatedProvider(latency="instant"),
        enable_tracking=False,
        enable_cache=cache,  # agent memory on, as on the defaults
    )
    normal = core.project.catalog.for_complexity("normal")
    opts = RunOptions() if routing else RunOptions(model=normal)
    cost = Decimal(0)
    models: Counter[str] = Counter()
    hits = 0
    async with core:
        for agent, task in runs:
            ex = await core.execute(agent, task, opts)
            assert ex.success, ex.errors
            cost += ex.cost_usd or 0
            hits += ex.cached
            if not ex.cached:
                models[ex.model] += 1
    return {"cost": cost, "hits": hits, "models": models}


async def batched(config: Path, runs: list[tuple[str, str]], state: Path) -> dict:
    from claude_force.batch import BatchService, BatchTask, JobStore, SimulatedBatchBackend
    from claude_force.hybrid_orchestrator import AsyncHybridOrchestrator
    from claude_force.providers.simulated import SimulatedProvider

    core = AsyncHybridOrchestrator(
        config,
        provider=SimulatedProvider(latency="instant"),
        enable_tracking=False,
        enable_memory=False,
    )
    service = BatchService(core, SimulatedBatchBackend(state / "sim"), JobStore(state / "jobs"))
    cost = Decimal(0)
    hits = submitted = 0
    size = max(1, len(runs) // WINDOWS)
    async with core:
        for start in range(0, len(runs), size):
            window = [BatchTask(a, t) for a, t in runs[start : start + size]]
            job = await service.submit(window, auto_model=True)
            for r in await service.results(job.id, record=False):
                assert r.success, r.error
                cost += r.cost_usd or 0
                hits += r.status == "cached"
                submitted += r.status == "succeeded"
    return {"cost": cost, "hits": hits, "submitted": submitted}


def _set_base_url(config: Path, url: str) -> None:
    data = json.loads(config.read_text())
    data["provider"] = {"base_url": url}
    config.write_text(json.dumps(data))


async def prompt_cached(config: Path, runs: list[tuple[str, str]]) -> dict:
    from claude_force.async_orchestrator import AsyncAgentOrchestrator
    from claude_force.messages import Usage
    from claude_force.runner import RunOptions
    from claude_force.testing import Emulator

    async with Emulator() as emu:
        await asyncio.to_thread(_set_base_url, config, emu.base_url)
        core = AsyncAgentOrchestrator(
            config, api_key="sk-bench", enable_tracking=False, enable_memory=False,
            enable_cache=False,
        )  # fmt: skip
        prices = core.project.catalog.prices
        normal = core.project.catalog.for_complexity("normal")
        paid = plain = Decimal(0)
        read = 0
        async with core:
            for agent, task in runs:
                ex = await core.execute(agent, task, RunOptions(model=normal))
                assert ex.success, ex.errors
                u = ex.usage
                paid += ex.cost_usd or 0
                as_input = Usage(u.prompt_tokens, u.output_tokens)
                plain += prices.cost(ex.model, as_input, ex.started_at.date()) or 0
                read += u.cache_read_input_tokens
    return {"paid": paid, "plain": plain, "read_tokens": read}


def run(quick: bool) -> list[Result]:
    n = 400 if quick else 2_000
    runs = workload(n)
    tmp = Path(tempfile.mkdtemp(prefix="cf-bench-cost-"))
    try:
        figures = {}
        for name, cache, routing in (
            ("baseline", False, False),
            ("cache", True, False),
            ("routing", True, True),
        ):
            root = tmp / name
            figures[name] = asyncio.run(
                online(make_project(root), runs, cache=cache, routing=routing)
            )
        figures["batch"] = asyncio.run(
            batched(make_project(tmp / "batch"), runs, tmp / "batch-state")
        )
        pc_runs = runs[: 200 if quick else 600]
        pc = asyncio.run(prompt_cached(make_project(tmp / "prompt"), pc_runs))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    base = figures["baseline"]["cost"]
    per = {k: float(v["cost"]) / n for k, v in figures.items()}

    def saving(key: str, ref: str = "baseline") -> float:
        return float(1 - figures[key]["cost"] / figures[ref]["cost"]) * 100

    routed_mix = ", ".join(f"{m} {c}" for m, c in figures["routing"]["models"].most_common())
    hits = figures["cache"]["hits"]
    results = [
        Result(
            "Baseline cost / execution",
            per["baseline"] * 1000,
            "m$",
            "",
            None,
            f"{n} runs, all on {next(iter(figures['baseline']['models']))}, no cache; "
            f"total ${float(base):.4f}",
        ),
        Result(
            "Response cache: saved vs baseline",
            saving("cache"),
            "%",
            "30–50 % (roadmap)",
            30 <= saving("cache") <= 50,
            f"{hits} of {n} runs answered from the cache ({hits / n:.0%}); "
            f"{per['cache'] * 1000:.3f} m$ per execution",
        ),
        Result(
            "Routing: saved vs response cache alone",
            saving("routing", "cache"),
            "%",
            "roadmap claims 60–80 %",
            None,
            f"uncached runs by model: {routed_mix}; depends on the share of simple tasks (60% here)",
        ),
        Result(
            "Cache + routing: saved vs baseline",
            saving("routing"),
            "%",
            "≥ 60 %",
            saving("routing") >= 60,
            f"{per['routing'] * 1000:.3f} m$ per execution",
        ),
        Result(
            "Cache + routing + batch: saved vs baseline",
            saving("batch"),
            "%",
            "≥ 75 % (roadmap combined: 80–90 %)",
            saving("batch") >= 75,
            f"{WINDOWS} batches; {figures['batch']['hits']} runs from the cache (the cache fills "
            f"between windows, not within one), {figures['batch']['submitted']} at the batch "
            f"price; {per['batch'] * 1000:.3f} m$ per execution",
        ),
        Result(
            "Batch on top of cache + routing: saved",
            saving("batch", "routing"),
            "%",
            "",
            None,
            "50% off input and output of every submitted run, fewer cache hits",
        ),
        Result(
            "Prompt caching (emulator): saved vs no prompt cache",
            float(1 - pc["paid"] / pc["plain"]) * 100,
            "%",
            "",
            None,
            f"{len(pc_runs)} baseline runs through the SDK; {pc['read_tokens']:,} prompt tokens "
            "read from the cache; upper bound (all within the 5-min TTL, no minimum length)",
        ),
    ]
    return results
