"""Agent recommendation: accuracy on the labelled task set, and what a recommendation costs.

- top-1 / top-3 accuracy over ``benchmarks/data/recommend_tasks.json`` (72 tasks, 6 per sample
  agent, labelled by hand), with the embedding model and with the BM25 fallback;
- the time of one recommendation once the agents' vectors are cached (embedding the task and
  ranking), and the first run that embeds every agent definition.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from importlib import resources
from pathlib import Path

from _harness import Result, median, percentile
from claude_force.config import load_project
from claude_force.embeddings import embeddings_available
from claude_force.recommend import AgentRecommender

TITLE = "Agent recommendation: accuracy and latency"
DATA = Path(__file__).resolve().parent / "data" / "recommend_tasks.json"


def _accuracy(
    rec: AgentRecommender, tasks: list[dict[str, str]]
) -> tuple[float, float, list[float]]:
    top1 = top3 = 0
    times: list[float] = []
    for item in tasks:
        t0 = time.perf_counter()
        names = [m.agent_name for m in rec.rank(item["task"])]
        times.append(time.perf_counter() - t0)
        top1 += names[0] == item["agent"]
        top3 += item["agent"] in names[:3]
    return top1 / len(tasks), top3 / len(tasks), times


def run(quick: bool) -> list[Result]:
    tasks = json.loads(DATA.read_text(encoding="utf-8"))["tasks"]
    if quick:
        tasks = tasks[::3]
    results: list[Result] = []
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(str(resources.files("claude_force").joinpath("sample_project")))
        shutil.copytree(src, Path(tmp) / ".claude")
        project = load_project(Path(tmp) / ".claude" / "claude.json")
        n = f"{len(tasks)} labelled tasks"
        why = embeddings_available()
        if why is None:
            t0 = time.perf_counter()
            rec = AgentRecommender.for_project(project)
            rec.rank("warm up: embed every agent definition")
            first = time.perf_counter() - t0
            top1, top3, times = _accuracy(rec, tasks)
            results += [
                Result("recommend top-1 (embeddings)", top1 * 100, "%", "≥ 75 %", top1 >= 0.75, n),
                Result("recommend top-3 (embeddings)", top3 * 100, "%", "≥ 90 %", top3 >= 0.90, n),
                Result(
                    "recommend latency p50 (cached agent vectors)",
                    median(times) * 1e3,
                    "ms",
                    detail=f"p99 {percentile(times, 99) * 1e3:.1f} ms; embeds the task only",
                ),
                Result(
                    "recommend first run (load model, embed all definitions)",
                    first,
                    "s",
                    detail=f"{sum(len(p.views) for p in rec.profiles)} views of 12 agents",
                ),
            ]
        else:
            results.append(
                Result("recommend (embeddings)", 0, "", "", False, f"unavailable: {why}")
            )
        bm = AgentRecommender.for_project(project, use_embeddings=False)
        top1, top3, _ = _accuracy(bm, tasks)
        results += [
            Result("recommend top-1 (BM25 fallback)", top1 * 100, "%", detail=n),
            Result("recommend top-3 (BM25 fallback)", top3 * 100, "%", detail=n),
        ]
    return results
