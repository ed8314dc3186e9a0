"""Project loading and pricing: the fixed costs every command and every execution pays.

- ``load_project`` of the packaged sample (12 agents with contracts, 7 workflows): parse, apply
  the environment, validate, build the catalog, check every model, read every agent file. Paid
  once per process (every CLI command, every orchestrator).
- ``Project.read_agent`` when nothing changed: two ``stat`` calls, then the in-memory copy. Paid
  per execution (in a worker thread).
- ``PriceTable.cost``: an exact Decimal cost with effective dates and tiers. Paid per execution.
"""

from __future__ import annotations

import shutil
import tempfile
import time
import warnings
from datetime import date
from importlib import resources
from pathlib import Path

from _harness import Result, median, percentile, time_calls
from claude_force.catalog import builtin_catalog
from claude_force.config import load_project
from claude_force.messages import Usage

TITLE = "Configuration: project load, agent reads, pricing"


def run(quick: bool) -> list[Result]:
    n_load = 30 if quick else 200
    n_fast = 2_000 if quick else 20_000
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(str(resources.files("claude_force").joinpath("sample_project")))
        shutil.copytree(src, Path(tmp) / ".claude")
        config = Path(tmp) / ".claude" / "claude.json"
        env: dict[str, str] = {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t0 = time.perf_counter()
            project = load_project(config, env=env)
            first_ms = (time.perf_counter() - t0) * 1000
            loads = time_calls(lambda: load_project(config, env=env), n_load, warmup=3)
        reads = time_calls(lambda: project.read_agent("python-expert"), n_fast)

    prices = builtin_catalog().prices
    usage = Usage(1234, 567, 2000, 10_000)
    day = date(2026, 11, 1)
    costs = time_calls(lambda: prices.cost("claude-haiku-5-5", usage, day), n_fast)

    load_p50 = median(loads) * 1000
    return [
        Result("first load_project (sample, 12 agents)", first_ms, "ms", detail="cold caches"),
        Result(
            "load_project p50",
            load_p50,
            "ms",
            "≤ 20 ms",
            load_p50 <= 20,
            f"p99 {percentile(loads, 99) * 1000:.2f} ms, n={n_load}",
        ),
        Result(
            "read_agent, unchanged files, p50",
            median(reads) * 1e6,
            "µs",
            detail=f"p99 {percentile(reads, 99) * 1e6:.1f} µs, n={n_fast}",
        ),
        Result(
            "PriceTable.cost p50",
            median(costs) * 1e6,
            "µs",
            detail=f"tiered model, 4 token kinds; p99 {percentile(costs, 99) * 1e6:.1f} µs",
        ),
    ]
