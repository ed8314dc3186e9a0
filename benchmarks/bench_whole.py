"""The whole, on the defaults: CLI processes timed from outside vs the same work on the bare SDK.

Every row runs claude-force on its defaults (response cache, agent memory, metrics, resilience
on) unless it says otherwise, against a loopback stand-in of the Messages API in its own process
(``_standin.py``: the project's emulator; answers are SIMULATED). The bare-SDK side is a
hand-written script (``_bare_sdk.py``) doing the same calls, run and timed the same way.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from _harness import Result, median, percentile

TITLE = "Whole: CLI processes and the defaults vs the bare SDK"
HERE = Path(__file__).resolve().parent
# 30% transient faults, as bench_resilience; draw=content: each task meets the same faults on its
# nth attempt on both sides, whatever the order its requests arrive in (docs/emulator.md)
FAULTS_30 = "429:0.1,529:0.08,500:0.06,drop:0.06,draw=content"

# The asymmetric DAG: a1 → a2 ‖ b → s; critical path b + s = 1.5 s (a1 + a2 + s = 1.3 s).
DAG_LATENCY = {"a1": 0.3, "a2": 0.5, "b": 1.0, "s": 0.5}
CRITICAL_PATH_S = 1.5


def _agent_md(name: str, latency: float | None) -> str:
    mark = f"\n\n<!-- emulator-latency: {latency} -->" if latency is not None else ""
    return f"# {name}\n\nAgent {name} of the whole-process benchmark.{mark}\n"


def make_project(root: Path) -> Path:
    """A project with the DAG's agents, a ``worker`` agent (stand-in's fixed latency) and the
    workflow ``asym``; everything else on the defaults."""
    claude = root / ".claude"
    (claude / "agents").mkdir(parents=True, exist_ok=True)
    agents: dict[str, Any] = {}
    for name, latency in [*DAG_LATENCY.items(), ("worker", None)]:
        (claude / "agents" / f"{name}.md").write_text(_agent_md(name, latency), encoding="utf-8")
        agents[name] = {"file": f"agents/{name}.md"}
    config = {
        "name": "whole-bench",
        "agents": agents,
        "workflows": {
            "asym": {
                "steps": [
                    {"id": "a1", "agent": "a1"},
                    {"id": "a2", "agent": "a2", "depends_on": ["a1"]},
                    {"id": "b", "agent": "b"},
                    {"id": "s", "agent": "s", "depends_on": ["a2", "b"]},
                ]
            }
        },
    }
    (claude / "claude.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    return root


@contextmanager
def stand_in(
    latency: float = 0.0, faults: str | None = None, otpm: int | None = None
) -> Iterator[dict[str, Any]]:
    """The stand-in in its own process; yields {"url": ...}; on exit adds its request counts.
    ``otpm``: the output tokens per minute it advertises and enforces (default: the emulator's)."""
    cmd = [sys.executable, str(HERE / "_standin.py"), "--latency", str(latency)]
    if faults:
        cmd += ["--faults", faults]
    if otpm:
        cmd += ["--output-tokens-per-minute", str(otpm)]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdin is not None
    info: dict[str, Any] = {"url": proc.stdout.readline().strip()}
    try:
        yield info
    finally:
        proc.stdin.close()
        tail = proc.stdout.readline()
        proc.wait(timeout=30)
        if tail.strip():
            info.update(json.loads(tail))


def _env(url: str) -> dict[str, str]:
    """The environment of a process as a user runs it: no claude-force or SDK settings of ours,
    and bytecode caching on (a sandbox's PYTHONDONTWRITEBYTECODE would make every process
    compile claude-force from source, which no installed copy does)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ANTHROPIC_", "CLAUDE_FORCE_")) and k != "PYTHONDONTWRITEBYTECODE"
    }
    return {**env, "ANTHROPIC_API_KEY": "sk-bench-not-real", "ANTHROPIC_BASE_URL": url}


def _cli() -> list[str]:
    script = Path(sys.executable).with_name("claude-force")
    return [str(script)] if script.exists() else [sys.executable, "-m", "claude_force"]


def timed(
    cmd: list[str], url: str, cwd: Path, env: dict[str, str] | None = None
) -> tuple[float, float, str]:
    """(wall s, CPU s, stdout) of one process, timed from outside (``env``: added to its own)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run(
        cmd, capture_output=True, text=True, env={**_env(url), **(env or {})}, cwd=cwd
    )
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in (0, 1):
        raise RuntimeError(f"{cmd[:3]} exited {done.returncode}: {done.stderr[-500:]}")
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return wall, cpu, done.stdout


def bare(*args: str) -> list[str]:
    return [sys.executable, str(HERE / "_bare_sdk.py"), *args]


# --- 1. the asymmetric DAG through run-workflow ---------------------------------------------------


def dag_rows(root: Path, reps: int) -> list[Result]:
    ours, theirs, engine, paths = [], [], [], []
    with stand_in() as si:
        for i in range(reps):  # interleaved; a new task each time (no cache hits between reps)
            task = f"Plan release {i} of the payments service"
            wall, _, out = timed(
                [*_cli(), "run-workflow", "asym", "-t", task, "--fresh", "--json"], si["url"], root
            )
            data = json.loads(out)
            assert data["status"] == "succeeded", data.get("error")
            ours.append(wall)
            engine.append(data["wall_s"])
            paths.append(data["critical_path_s"])
            theirs.append(timed(bare("dag", str(root), task), si["url"], root)[0])
    ratio = min(ours) / min(theirs)
    eng = min(engine)
    return [
        Result(
            "run-workflow asym DAG vs bare-SDK script (whole process, best of 3)",
            ratio,
            "×",
            "≤ 1.10×",
            ratio <= 1.10,
            f"claude-force {min(ours):.2f} s vs bare SDK {min(theirs):.2f} s; critical path "
            f"{CRITICAL_PATH_S} s; medians {median(ours):.2f} / {median(theirs):.2f} s",
        ),
        Result(
            "run-workflow asym DAG: engine wall / critical path",
            eng / CRITICAL_PATH_S,
            "×",
            "≤ 1.05×",
            eng / CRITICAL_PATH_S <= 1.05,
            f"engine wall {eng:.3f} s (best of {reps}) over the stand-in's {CRITICAL_PATH_S} s",
        ),
        Result(
            "run-workflow asym DAG: engine wall / measured critical path",
            eng / paths[engine.index(eng)],
            "×",
            detail=f"the path's measured service times sum to {paths[engine.index(eng)]:.3f} s "
            "(stand-in latency plus client time per call; more than 1.5 s on a loaded machine)",
        ),
    ]


# --- 2. code-quality-check sequential vs parallel ----------------------------------------------------


def cqc_rows(reps: int) -> list[Result]:
    from claude_force.scaffold import init_project

    with tempfile.TemporaryDirectory() as tmp, stand_in(latency=0.6) as si:
        root = Path(tmp)
        init_project(root)
        seq, par, seq_eng, par_eng = [], [], [], []
        for i in range(reps):
            for mode, walls, engs in (("--sequential", seq, seq_eng), ("--parallel", par, par_eng)):
                wall, _, out = timed(
                    [
                        *_cli(),
                        "run-workflow",
                        "code-quality-check",
                        "-t",
                        f"Review v{i}{mode}",
                        mode,
                        "--fresh",
                        "--json",
                    ],
                    si["url"],
                    root,
                )
                data = json.loads(out)
                assert data["status"] == "succeeded", data.get("error")
                walls.append(wall)
                engs.append(data["wall_s"])
    reported = min(seq_eng) / min(par_eng)
    whole = min(seq) / min(par)
    return [
        Result(
            "code-quality-check sequential vs parallel through the CLI (600 ms per call), "
            "as the CLI reports it",
            reported,
            "×",
            "≥ 1.8×",
            reported >= 1.8,
            f"the wall time `run-workflow --json` reports, best of {reps}: {min(seq_eng):.2f} s vs "
            f"{min(par_eng):.2f} s (the issue's 4.4 s vs 3.8 s were these figures, with the SDK's "
            "import inside the first steps)",
        ),
        Result(
            "code-quality-check sequential vs parallel: whole process, timed from outside",
            whole,
            "×",
            detail=f"best of {reps}: {min(seq):.2f} s vs {min(par):.2f} s; both include the same "
            "process start (the SDK's import, ~2 s of CPU here), which no parallelism shortens",
        ),
    ]


# --- 3. execute --tasks-file, and CLI start for a command that calls Claude ----------------------


def tasks_rows(root: Path, n_tasks: int, reps: int) -> list[Result]:
    path = root / "tasks.txt"
    ours, theirs = [], []
    with stand_in(latency=0.3) as si:
        for r in range(reps):
            lines = [f"Review module {i} of release {r} for error handling" for i in range(n_tasks)]
            path.write_text("\n".join(lines) + "\n", encoding="utf-8")
            cmd = [*_cli(), "execute", "worker", "--tasks-file", str(path), "--async"]
            wall, _, out = timed([*cmd, "--max-concurrent", "4", "--json"], si["url"], root)
            assert json.loads(out)["summary"]["failed"] == 0
            ours.append(wall)
            theirs.append(
                timed(bare("tasks", str(root), "worker", str(path), "4"), si["url"], root)[0]
            )
    ratio = min(ours) / min(theirs)
    return [
        Result(
            f"execute --tasks-file ({n_tasks} tasks, 4 at a time, 300 ms) vs bare SDK",
            ratio,
            "×",
            "≤ 1.10×",
            ratio <= 1.10,
            f"whole process best of {reps}: {min(ours):.2f} s vs {min(theirs):.2f} s",
        )
    ]


def start_rows(root: Path, reps: int) -> list[Result]:
    ours, ours_cpu, theirs, theirs_cpu = [], [], [], []
    with stand_in() as si:
        for i in range(reps):
            w, c, _ = timed([*_cli(), "execute", "worker", f"Say hello {i}", "-q"], si["url"], root)
            ours.append(w)
            ours_cpu.append(c)
            w, c, _ = timed(bare("one", str(root), "worker", f"Say hello {i}"), si["url"], root)
            theirs.append(w)
            theirs_cpu.append(c)
    return [
        Result(
            "CLI start: `execute` of one task (instant stand-in), whole process, median",
            median(ours) * 1000,
            "ms",
            detail=f"CPU {median(ours_cpu) * 1000:.0f} ms; the bare-SDK script: "
            f"{median(theirs) * 1000:.0f} ms wall, CPU {median(theirs_cpu) * 1000:.0f} ms "
            "(both import the SDK: ~all of it)",
        )
    ]


# --- 4. cache hit rate with memory on: 50% repeats interleaved with related tasks -------------------


async def _replay(root: Path, url: str, n: int, strict: bool) -> tuple[int, int]:
    from claude_force import AsyncAgentOrchestrator, load_project
    from claude_force.config.schema import ProjectSettings

    os.environ["ANTHROPIC_API_KEY"], os.environ["ANTHROPIC_BASE_URL"] = "sk-bench", url
    project = load_project(root / ".claude" / "claude.json")  # reads the key: set it first
    if strict:
        data = project.settings.model_dump()
        data["cache"]["key_includes_memory"] = True
        project.settings = ProjectSettings.model_validate(data)  # type: ignore[misc]
    rng = random.Random(5)
    seen: list[str] = []
    hits = total = 0
    async with AsyncAgentOrchestrator(project=project) as orch:
        for i in range(n):
            fresh = f"Review the payments service {'strict ' if strict else ''}for issue {i}"
            for task in (fresh, rng.choice(seen) if seen else None):
                if task is None:
                    continue
                ex = await orch.execute("worker", task)
                assert ex.success, ex.errors
                total += 1
                hits += ex.cached
            seen.append(fresh)
    return hits, total


def cache_rows(root: Path, n: int) -> list[Result]:
    with stand_in() as si:
        hits, total = asyncio.run(_replay(root, si["url"], n, strict=False))
        s_hits, s_total = asyncio.run(_replay(root, si["url"], n, strict=True))
    repeats = total - n
    return [
        Result(
            "cache hit rate, 50% repeats between related tasks, memory on (defaults)",
            100 * hits / total,
            "%",
            f"= repeat rate {100 * repeats / total:.1f}%",
            hits == repeats,
            f"{hits}/{total} hits; with cache.key_includes_memory: true {s_hits}/{s_total}",
        )
    ]


# --- 5. per-call overhead on the defaults vs the bare SDK, same process and stand-in --------------


async def _overhead(root: Path, url: str, n: int) -> tuple[list[float], list[float]]:
    from anthropic import AsyncAnthropic

    from claude_force import AsyncAgentOrchestrator

    os.environ["ANTHROPIC_API_KEY"], os.environ["ANTHROPIC_BASE_URL"] = "sk-bench", url
    bare_s, ours = [], []
    system = (root / ".claude" / "agents" / "worker.md").read_text(encoding="utf-8")
    async with (
        AsyncAnthropic(max_retries=0) as sdk,
        AsyncAgentOrchestrator(root / ".claude" / "claude.json") as orch,
    ):
        model = orch.project.model_for("worker")
        for i in range(n + 30):  # interleaved, distinct tasks (cache misses), 30 warm-up rounds
            task = f"Check function {i} of module {i % 9} for bugs"
            t0 = time.perf_counter()
            await sdk.messages.create(
                model=model,
                max_tokens=4096,
                system=[{"type": "text", "text": system, "cache_control": {"type": "ephemeral"}}],
                messages=[{"role": "user", "content": task}],
            )
            t1 = time.perf_counter()
            ex = await orch.execute("worker", task + ".")
            t2 = time.perf_counter()
            assert ex.success and not ex.cached, ex.errors
            if i >= 30:
                bare_s.append(t1 - t0)
                ours.append(t2 - t1)
    return bare_s, ours


def seed_history(root: Path, sessions: int) -> None:
    """Give the ``worker`` agent of the project at ``root`` a memory of ``sessions`` past runs of
    the overhead row's shape (every one shares the new tasks' words), spread over 30 days: the
    sessions a team's agent gathers in a few weeks. Written straight to the store (seeded
    history, labelled so in the answers; not model output)."""
    from datetime import UTC, datetime, timedelta

    from claude_force import load_project
    from claude_force.memory import MemoryStore
    from claude_force.memory.location import memory_path

    project = load_project(root / ".claude" / "claude.json")
    model = project.model_for("worker")
    now = datetime.now(UTC)
    store = MemoryStore(memory_path(project), project.settings.memory)
    store.add_prepared(
        store.prepare(
            "worker",
            f"Check function {100_000 + i} of module {i % 9} for bugs.",
            f"(seeded history {i}) Looked at it: nothing to fix.",
            True,
            model=model,
            created_at=now - timedelta(seconds=(sessions - i) * 30 * 86400 / sessions),
        )
        for i in range(sessions)
    )
    store.close()


# An agent's memory past INLINE_MAX_SESSIONS' old bound (1,000): there, every run's lookup went to
# memory's worker and waited for the previous run's write (issue #10, seventh pass).
HISTORY_SESSIONS = 2000


# Runs of each overhead row, each on a copy of the project as the earlier rows left it: one run's
# p99 (the 3rd-largest of 300 calls) moved between +1.5 and +3.6 ms from one full run to the next
# on this 2-core machine (issue #10, eighth pass), so the row reports the median of the runs'
# p50s and p99s, as the DAG row takes its best of 3 and the in-flight row its median of 3 pairs.
OVERHEAD_RUNS = 3


def overhead_rows(root: Path, n: int, history: int = 0, runs: int = OVERHEAD_RUNS) -> list[Result]:
    if history:
        seed_history(root, history)
    p50s: list[float] = []
    p99s: list[float] = []
    each: list[str] = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as tmp, stand_in() as si:
            copy = Path(tmp) / "project"
            shutil.copytree(root, copy)
            b, o = asyncio.run(_overhead(copy, si["url"], n))
        p50s.append((median(o) - median(b)) * 1000)
        p99s.append((percentile(o, 99) - percentile(b, 99)) * 1000)
        each.append(
            f"{p50s[-1]:+.2f}/{p99s[-1]:+.2f} ms (bare p50 {median(b) * 1000:.2f}, p99 "
            f"{percentile(b, 99) * 1000:.2f}; claude-force p50 {median(o) * 1000:.2f}, p99 "
            f"{percentile(o, 99) * 1000:.2f})"
        )
    p50, p99 = median(p50s), median(p99s)
    past = f", {history:,} past sessions of the agent" if history else ""
    detail = (
        f"median of {runs} runs, each n={n} interleaved on a copy of the project (cache miss, "
        f"memory, metrics, resilience on{past}); each run's p50/p99: " + "; ".join(each)
    )
    name = "overhead over a bare SDK call on the defaults" + (
        f", {history:,} past sessions" if history else ""
    )
    return [
        Result(f"{name}, p50", p50, "ms", "≤ 1 ms", p50 <= 1, detail),
        Result(f"{name}, p99", p99, "ms", "≤ 3 ms", p99 <= 3),
    ]


# --- 6. 1,000 in flight against a 1 s stand-in ---------------------------------------------------------


def _inflight(
    root: Path, count: int, otpm: int | None, without: str = ""
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(bare SDK, claude-force): each side its own process and its own fresh stand-in (the
    stand-in counts usage in a per-minute window: the side that ran second would otherwise start
    with the other's usage counted, which claude-force reads from the headers and adapts to).
    ``without``: packages both processes run as if not installed (``_rss.without_packages``).
    claude-force runs on a copy of the project at ``root``: every pair starts from the same
    state (a run's 1,000 sessions would otherwise be the next run's memory context, and each
    run after the first would search and send more than the one before)."""
    env = {"BENCH_WITHOUT": without}
    with stand_in(latency=1.0, otpm=otpm) as si:
        cmd = bare("inflight", str(root), "worker", str(count))
        b = json.loads(timed(cmd, si["url"], root, env)[2])
    with tempfile.TemporaryDirectory() as tmp, stand_in(latency=1.0, otpm=otpm) as si:
        copy = Path(tmp) / "project"
        shutil.copytree(root, copy)
        cmd = [sys.executable, str(HERE / "_cf_inflight.py"), str(copy), "worker", str(count)]
        o = json.loads(timed(cmd, si["url"], copy, env)[2])
    return b, o


def _side_by_side(b: dict[str, Any], o: dict[str, Any]) -> str:
    return (
        f"claude-force {o['throughput']:.0f}/s ({o['ok']} ok, {o['wall_s']:.2f} s) vs bare "
        f"SDK {b['throughput']:.0f}/s ({b['ok']} ok, {b['wall_s']:.2f} s)"
    )


# What 1,000 calls of max_tokens 4,096 hold at once: the API counts a call's output tokens
# against the per-minute limit from max_tokens when the call starts (adjusted when it ends), and
# claude-force's client-side limiter does the same with the limits the headers report. At the
# emulator's default 400,000 output tokens a minute that is ~97 calls at once, so the headline
# row runs against a stand-in whose limits let all 1,000 be in flight: it measures the per-call
# work of each side; the second row shows what the default limits do.
INFLIGHT_OTPM = 10_000_000

# The Anthropic SDK imports its aiohttp transport at its own import whenever aiohttp is installed,
# used or not (≈ 10 MB with aiohttp's own dependencies). claude-force does not depend on aiohttp;
# the bench extra's LiteLLM installs it. The headline rows run both processes as an install of
# claude-force alone has them (aiohttp not importable: ``_rss.without_packages``); where aiohttp
# is installed, one more pair shows both sides with it.
WITHOUT = "aiohttp"


# Pairs of the headline in-flight row, each side in turn: one pair's ratio moved between 0.87×
# and 1.08× from one pair to the next on this 2-core machine (issue #10, eighth pass), so the
# row compares the median throughput of each side over the pairs, as the DAG row takes its best
# of 3; peak RSS is the largest of claude-force's runs.
INFLIGHT_PAIRS = 3


def inflight_rows(root: Path, count: int, pairs: int = INFLIGHT_PAIRS) -> list[Result]:
    runs = [_inflight(root, count, INFLIGHT_OTPM, WITHOUT) for _ in range(pairs)]
    by_throughput = sorted(runs, key=lambda r: r[1]["throughput"])
    o = by_throughput[len(runs) // 2][1]  # the median run of each side
    b = sorted((r[0] for r in runs), key=lambda r: r["throughput"])[len(runs) // 2]
    ratio = o["throughput"] / b["throughput"]
    each = ", ".join(f"{r[1]['throughput'] / r[0]['throughput']:.2f}×" for r in runs)
    peak = max(r[1]["peak_rss_mb"] for r in runs)
    bare_peak = max(r[0]["peak_rss_mb"] for r in runs)
    all_ok = all(r[1]["ok"] == count for r in runs)
    lb, lo = _inflight(root, count, None, WITHOUT)
    as_installed = "each process as an install of claude-force has it (aiohttp not importable)"
    rows = [
        Result(
            f"{count} executions in flight vs 1 s stand-in: throughput vs bare SDK",
            ratio,
            "×",
            "≥ 0.9×",
            # a comparison only when both sides completed everything (else: informative)
            (ratio >= 0.9 and all_ok) if all(r[0]["ok"] == count for r in runs) else None,
            f"median of {pairs} pairs, each side in turn: {_side_by_side(b, o)}; the pairs' "
            f"ratios {each}; each its own process and stand-in, SDK defaults; the stand-in "
            f"allows {INFLIGHT_OTPM:,} output tokens a minute (all {count} in flight); "
            + as_installed,
        ),
        Result(
            f"{count} executions in flight: peak RSS",
            peak,
            "MB",
            "≤ 150 MB",
            peak <= 150,
            f"the largest of {pairs} runs; bare SDK {bare_peak:.0f} MB; {as_installed}",
        ),
        Result(
            f"{count} in flight, the emulator's default 400,000 output tokens a minute",
            lo["throughput"] / lb["throughput"],
            "×",
            detail=f"{_side_by_side(lb, lo)}; claude-force's limiter keeps the calls within the "
            f"limit ({lo.get('rate_limit_waits', '?')} waits); this stand-in counts the tokens a "
            "call produced, the API counts max_tokens from its start, so only a client that "
            "holds back stays within it",
        ),
    ]
    if importlib.util.find_spec("aiohttp") is not None:
        wb, wo = _inflight(root, count, INFLIGHT_OTPM)
        rows.append(
            Result(
                f"{count} executions in flight: peak RSS with aiohttp installed",
                wo["peak_rss_mb"],
                "MB",
                detail=f"bare SDK {wb['peak_rss_mb']:.0f} MB; the SDK imports aiohttp on both "
                f"sides (here: claude-force {'yes' if wo.get('aiohttp') else 'no'}, bare SDK "
                f"{'yes' if wb.get('aiohttp') else 'no'}); throughput {_side_by_side(wb, wo)}",
            )
        )
    return rows


# --- 7. faults: completion and requests vs the bare SDK on its defaults ---------------------------


def fault_rows(root: Path, n: int) -> list[Result]:
    """On a fresh project of its own: with no past sessions, memory adds no context, both sides
    send the very same requests, and ``draw=content`` gives them the very same faults; what
    differs is only what each does about them (retries, waits, requests)."""
    root = make_project(root / "faults")
    path = root / "fault-tasks.txt"
    path.write_text(
        "\n".join(f"Summarise incident {i} of the fault run" for i in range(n)) + "\n",
        encoding="utf-8",
    )
    with stand_in(latency=0.05, faults=FAULTS_30) as si:
        b = json.loads(
            timed(bare("tasks", str(root), "worker", str(path), "25"), si["url"], root)[2]
        )
    bare_requests = si.get("requests", 0)
    with stand_in(latency=0.05, faults=FAULTS_30) as si:
        cmd = [*_cli(), "execute", "worker", "--tasks-file", str(path), "--async"]
        _, _, out = timed([*cmd, "--max-concurrent", "25", "--json", "--no-cache"], si["url"], root)
    ours_ok = json.loads(out)["summary"]["succeeded"]
    ours_requests = si.get("requests", 0)
    return [
        Result(
            f"30% faults, {n} tasks 25 at a time: completed vs bare SDK (defaults both)",
            ours_ok - b["ok"],
            "tasks",
            "≥ 0",
            ours_ok >= b["ok"],
            f"claude-force {ours_ok}/{n} with {ours_requests} requests; bare SDK {b['ok']}/{n} "
            f"with {bare_requests} requests (429 with retry-after, 529, 500, dropped connections; "
            "--no-cache so that both send every task)",
        ),
        Result(
            "30% faults: requests sent vs bare SDK",
            ours_requests - bare_requests,
            "requests",
            "≤ 0",
            ours_requests <= bare_requests,
        ),
    ]


def run(quick: bool) -> list[Result]:
    reps = 2 if quick else 3
    results: list[Result] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = make_project(Path(tmp))
        results += dag_rows(root, reps)
        results += cqc_rows(reps)
        results += tasks_rows(root, 12 if quick else 20, reps)
        results += start_rows(root, 3 if quick else 5)
        results += cache_rows(root, 10 if quick else 20)
        runs = 1 if quick else OVERHEAD_RUNS
        results += overhead_rows(root, 100 if quick else 300, runs=runs)
        history = make_project(Path(tmp) / "history")
        results += overhead_rows(history, 100 if quick else 300, HISTORY_SESSIONS, runs)
        results += inflight_rows(root, 200 if quick else 1000, 1 if quick else INFLIGHT_PAIRS)
        results += fault_rows(root, 100 if quick else 300)
    return results


if __name__ == "__main__":  # a direct run prints the rows
    for r in run("--quick" in sys.argv):
        print(" | ".join(r.row()))
    _ = statistics  # (kept for ad-hoc percentiles when run by hand)
