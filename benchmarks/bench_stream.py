"""Time to first token: ``claude-force execute --stream`` vs a bare-SDK streaming script.

Both are whole processes started and timed from outside, against the loopback stand-in of the
Messages API in its own process (``_standin.py``, the project's emulator, answering SIMULATED
text over SSE) with a fixed time to first token. The figure is the time from starting the process
to the first byte of answer text on its stdout; claude-force runs on its defaults (response
cache, agent memory, metrics, resilience on), a new task each time so that no answer is cached.
"""

from __future__ import annotations

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


def run(quick: bool) -> list[Result]:
    reps = 7 if quick else 21
    ours, ours_end, theirs, theirs_end = [], [], [], []
    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        root = make_project(Path(tmp))
        with stand_in(latency=FIRST_TOKEN_S) as si:
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
    ]


if __name__ == "__main__":  # a direct run prints the rows
    for r in run("--quick" in sys.argv):
        print(" | ".join(r.row()))
