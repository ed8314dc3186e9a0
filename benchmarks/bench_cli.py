"""The command line: console-script cold start, per-invocation cost, ``execute --async`` speedup."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _harness import Result, median, percentile

TITLE = "CLI: cold start, per-command cost, execute --async"
READ_ONLY = ("list agents", "cache stats", "analytics summary", "memory stats")


def _script() -> list[str]:
    """The installed console script next to this interpreter, else ``python -m claude_force``."""
    candidate = Path(sys.executable).with_name("claude-force")
    found = str(candidate) if candidate.exists() else shutil.which("claude-force")
    return [found] if found else [sys.executable, "-m", "claude_force"]


def _clean_env(**extra: str) -> dict[str, str]:
    """As a user runs it: none of our settings, bytecode caching on (see bench_whole._env)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ANTHROPIC_", "CLAUDE_FORCE_")) and k != "PYTHONDONTWRITEBYTECODE"
    }
    return {**env, **extra}


def _cold(cmd: list[str], runs: int, cwd: Path) -> tuple[list[float], list[float]]:
    """Wall seconds and CPU seconds (user + system) of ``runs`` fresh processes.

    CPU time is reported too because wall time on a busy machine mostly measures the queue.
    """
    subprocess.run(cmd, capture_output=True, env=_clean_env(), cwd=cwd, check=True)  # pyc caches
    wall, cpu = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run(cmd, capture_output=True, env=_clean_env(), cwd=cwd, check=True)
        wall.append(time.perf_counter() - t0)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return wall, cpu


def _import_ms() -> float:
    """Cumulative import time of ``claude_force.cli.app`` as reported by ``-X importtime``."""
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import claude_force.cli.app"],
        capture_output=True,
        text=True,
        env=_clean_env(),
        check=True,
    ).stderr
    for line in out.splitlines():
        m = re.match(r"import time:\s+\d+ \|\s+(\d+) \|\s+claude_force\.cli\.app$", line)
        if m:
            return int(m.group(1)) / 1000
    raise RuntimeError("claude_force.cli.app not in -X importtime output")


def _in_process(argv: list[str]) -> tuple[int, Any]:
    from claude_force.cli.app import main

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(io.StringIO()):
        code = main(argv)
    return code, json.loads(buf.getvalue()) if buf.getvalue().strip() else None


def _execute_samples(config: Path, n: int) -> list[float]:
    os.environ["CLAUDE_FORCE_LATENCY"] = "instant"
    samples = []
    for i in range(n + 5):
        t0 = time.perf_counter()
        code, _ = _in_process(
            [
                "--config",
                str(config),
                "execute",
                "python-expert",
                f"task {i}",
                "--json",
                "--no-cache",
                "--simulate",
            ]
        )
        if code != 0:
            raise RuntimeError(f"execute exited {code}")
        if i >= 5:
            samples.append(time.perf_counter() - t0)
    return samples


def _speedup(config: Path) -> tuple[float, float, dict[str, Any]]:
    """3 tasks with a 1 s simulated latency through ``execute``, sequential vs ``--async``.

    The latency presets are data; the benchmark swaps the 'slow' preset for a jitter-free 1 s one
    for the duration of the run so both runs see exactly the same latency.
    """
    from claude_force.providers import simulated

    saved = simulated.LATENCY_PRESETS["slow"]
    simulated.LATENCY_PRESETS["slow"] = simulated.LatencyModel(first_token_s=1.0)
    os.environ["CLAUDE_FORCE_LATENCY"] = "slow"
    try:
        base = [
            "--config",
            str(config),
            "execute",
            "python-expert",
            "A",
            "B",
            "C",
            "--json",
            "--no-cache",
            "--simulate",
        ]
        _, seq = _in_process(base)
        _, conc = _in_process([*base, "--async"])
    finally:
        simulated.LATENCY_PRESETS["slow"] = saved
    return seq["summary"]["wall_time_s"], conc["summary"]["wall_time_s"], conc["summary"]


def run(quick: bool) -> list[Result]:
    runs = 7 if quick else 20
    saved_env = os.environ.get("CLAUDE_FORCE_LATENCY")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        from claude_force.scaffold import init_project

        config = init_project(root)
        help_s, help_cpu = _cold([*_script(), "--help"], runs, root)
        version_s, _ = _cold([*_script(), "--version"], runs, root)
        list_s, _ = _cold([*_script(), "list", "agents", "--json"], max(3, runs // 3), root)
        bare_s, bare_cpu = _cold([sys.executable, "-c", "pass"], runs, root)
        import_ms = _import_ms()
        try:
            per_exec = _execute_samples(config, 20 if quick else 60)
            seq, conc, summary = _speedup(config)
            # after the runs above: the cache, metrics and memory files exist
            read_only = {c: _cold([*_script(), *c.split()], runs, root) for c in READ_ONLY}
        finally:
            if saved_env is None:
                os.environ.pop("CLAUDE_FORCE_LATENCY", None)
            else:
                os.environ["CLAUDE_FORCE_LATENCY"] = saved_env
    speedup = seq / conc
    script = " ".join(Path(p).name for p in _script())
    read_only_rows = [
        Result(
            f"`claude-force {c}` on the sample project, median",
            median(wall) * 1000,
            "ms",
            "≤ 300 ms",
            median(wall) <= 0.3,
            detail=f"n={runs}; CPU {median(cpu) * 1000:.0f} ms; p90 {percentile(wall, 90) * 1000:.0f} ms",
        )
        for c, (wall, cpu) in read_only.items()
    ]
    return [
        *read_only_rows,
        Result(
            "`claude-force --help` cold start, median",
            median(help_s) * 1000,
            "ms",
            "≤ 300 ms",
            median(help_s) <= 0.3,
            detail=f"{script}; p90 {percentile(help_s, 90) * 1000:.0f} ms; n={runs}; "
            f"python -c pass: {median(bare_s) * 1000:.0f} ms",
        ),
        Result(
            "`claude-force --help` CPU time, median",
            median(help_cpu) * 1000,
            "ms",
            detail=f"user+sys; python -c pass: {median(bare_cpu) * 1000:.0f} ms",
        ),
        Result("`claude-force --version` cold start, median", median(version_s) * 1000, "ms"),
        Result(
            "`claude-force list agents --json` cold, median",
            median(list_s) * 1000,
            "ms",
            detail="loads and validates the project",
        ),
        Result("import claude_force.cli.app (cumulative)", import_ms, "ms", detail="-X importtime"),
        Result(
            "in-process `execute` of 1 task, p50",
            median(per_exec) * 1000,
            "ms",
            detail=f"instant simulated latency, cache off; p90 {percentile(per_exec, 90) * 1000:.1f} ms",
        ),
        Result("`execute` 3 tasks × 1 s, sequential", seq, "s"),
        Result("`execute --async` 3 tasks × 1 s", conc, "s"),
        Result(
            "`execute --async` speedup",
            speedup,
            "×",
            "≥ 2.8×",
            speedup >= 2.8,
            detail=f"CLI's own figure: {summary['speedup']}× (sum of durations / wall)",
        ),
    ]
