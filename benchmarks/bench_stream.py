"""Time to first token: ``claude-force execute --stream`` vs a bare-SDK streaming script.

Both are whole processes started and timed from outside, against the loopback stand-in of the
Messages API in its own process (``_standin.py``, the project's emulator, answering SIMULATED
text over SSE) with a fixed time to first token. The figure is the time from starting the process
to the first byte of answer text on its stdout; claude-force runs on its defaults (response
cache, agent memory, metrics, resilience on), a new task each time so that no answer is cached.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _harness import Result, median, percentile
from bench_whole import _cli, _env, bare, make_project, stand_in

TITLE = "Streaming: time to first token, whole process"
FIRST_TOKEN_S = 0.3  # the stand-in's time to first token


def first_byte(cmd: list[str], url: str, cwd: Path) -> tuple[float, float, str]:
    """(seconds to the first stdout byte, seconds to exit, stdout) of one process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(url), cwd=cwd
    )
    assert proc.stdout is not None
    first = os.read(proc.stdout.fileno(), 1)
    t_first = time.perf_counter() - t0
    rest, err = proc.communicate(timeout=120)
    t_end = time.perf_counter() - t0
    if proc.returncode != 0 or not first:
        raise RuntimeError(f"{cmd[:3]} exited {proc.returncode}: {err.decode()[-500:]}")
    return t_first, t_end, (first + rest).decode()


async def in_process(root: Path, url: str, n: int) -> tuple[list[float], list[float]]:
    """TTFT seconds of ``AgentEngine.stream`` (defaults) and of the bare SDK's ``messages.stream``
    with a warm client, interleaved, in this process: the pipeline's share before the first token."""
    from anthropic import AsyncAnthropic

    from claude_force.engine import AgentEngine

    saved = {k: os.environ.get(k) for k in ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL")}
    os.environ["ANTHROPIC_API_KEY"], os.environ["ANTHROPIC_BASE_URL"] = "sk-bench", url
    ours: list[float] = []
    theirs: list[float] = []
    system = (root / ".claude" / "agents" / "worker.md").read_text(encoding="utf-8")
    try:
        client = AsyncAnthropic(max_retries=0)
        async with AgentEngine.open(root / ".claude" / "claude.json") as engine:
            for i in range(n + 3):  # the first 3: warm-up (connections, caches)
                t0 = time.perf_counter()
                first: float | None = None
                async for _event in engine.stream("worker", f"In-process task {i}"):
                    if first is None:
                        first = time.perf_counter() - t0
                t1 = time.perf_counter()
                bare_first: float | None = None
                async with client.messages.stream(
                    model="claude-sonnet-5-5",
                    max_tokens=4096,
                    system=[{"type": "text", "text": system}],
                    messages=[{"role": "user", "content": f"In-process task {i}"}],
                ) as events:
                    async for _text in events.text_stream:
                        if bare_first is None:
                            bare_first = time.perf_counter() - t1
                assert first is not None and bare_first is not None
                if i >= 3:
                    ours.append(first)
                    theirs.append(bare_first)
        await client.close()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return ours, theirs


def run(quick: bool) -> list[Result]:
    reps = 7 if quick else 21
    ours, ours_end, theirs, theirs_end = [], [], [], []
    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        root = make_project(Path(tmp))
        with stand_in(latency=FIRST_TOKEN_S) as si:
            inproc, inbare = asyncio.run(in_process(root, si["url"], 10 if quick else 40))
            for i in range(reps):  # interleaved; a new task each time (no cache hits)
                task = f"Explain the retry policy, part {i}"
                cmd = [*_cli(), "execute", "worker", task, "-q", "--stream"]
                t_first, t_end, out = first_byte(cmd, si["url"], root)
                assert out.startswith("[SIMULATED"), out[:80]
                ours.append(t_first)
                ours_end.append(t_end)
                t_first, t_end, out = first_byte(
                    bare("stream", str(root), "worker", task), si["url"], root
                )
                theirs.append(t_first)
                theirs_end.append(t_end)
    load_after = os.getloadavg()
    ratio = median(ours) / median(theirs)
    extra_ms = (median(ours) - median(theirs)) * 1000
    loads = f"load avg {load[0]:.2f} → {load_after[0]:.2f}"
    return [
        Result(
            "`execute --stream` time to first token, whole process, p50",
            median(ours) * 1000,
            "ms",
            detail=f"p90 {percentile(ours, 90) * 1000:.0f} ms; stand-in TTFT "
            f"{FIRST_TOKEN_S * 1000:.0f} ms; n={reps}; {loads}",
        ),
        Result(
            "bare-SDK `messages.stream` script, time to first token, p50",
            median(theirs) * 1000,
            "ms",
            detail=f"p90 {percentile(theirs, 90) * 1000:.0f} ms; same stand-in, interleaved",
        ),
        Result(
            "TTFT: `execute --stream` / bare-SDK script (p50)",
            ratio,
            "×",
            "≤ 1.25×",
            ratio <= 1.25,
            detail=f"{extra_ms:+.0f} ms (process start and the pipeline before the first byte); "
            f"to exit: {median(ours_end) * 1000:.0f} vs {median(theirs_end) * 1000:.0f} ms",
        ),
        Result(
            "in-process TTFT added by the pipeline: `AgentEngine.stream` − bare `messages.stream`, p50",
            (median(inproc) - median(inbare)) * 1000,
            "ms",
            "≤ 5 ms",
            (median(inproc) - median(inbare)) * 1000 <= 5,
            detail=f"defaults (cache lookup, memory search, limits, metrics); p50 "
            f"{median(inproc) * 1000:.1f} vs {median(inbare) * 1000:.1f} ms, p90 "
            f"{percentile(inproc, 90) * 1000:.1f} vs {percentile(inbare, 90) * 1000:.1f} ms; "
            f"n={len(inproc)}, interleaved, warm client",
        ),
    ]


if __name__ == "__main__":  # a direct run prints the rows
    for r in run("--quick" in sys.argv):
        print(" | ".join(r.row()))
