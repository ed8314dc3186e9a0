"""The same work as the claude-force benchmarks, written by hand on the bare ``anthropic`` SDK.

Run as its own process (``python benchmarks/_bare_sdk.py MODE ...``) and timed from outside, like
the CLI. It reads the agent definitions from the benchmark project itself (what a hand-written
script would paste in), sends the same requests with the SDK's defaults (``max_retries=2``) and
prints a JSON line of what it did. Modes:

* ``dag PROJECT TASK``: the asymmetric workflow a1 → a2 ‖ b → s (dependents get their inputs);
* ``tasks PROJECT AGENT FILE N``: every line of FILE as a task of AGENT, at most N at once;
* ``one PROJECT AGENT TASK``: one call (start-up cost of a process that calls Claude);
* ``inflight PROJECT AGENT COUNT``: COUNT calls at once; throughput and peak RSS;
* ``stream PROJECT AGENT TASK``: one call over ``messages.stream``, its text written to stdout as
  it arrives (time to first token, timed from outside); the JSON line goes to stderr.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

from _rss import peak_rss_mb, without_packages

without_packages()

T0 = time.perf_counter()


def system_of(project: Path, agent: str) -> str:
    config = json.loads((project / ".claude" / "claude.json").read_text(encoding="utf-8"))
    spec = config["agents"][agent]
    return (project / ".claude" / spec["file"]).read_text(encoding="utf-8")


def model_of(project: Path) -> str:
    config = json.loads((project / ".claude" / "claude.json").read_text(encoding="utf-8"))
    return str(config.get("models", {}).get("default", "claude-sonnet-5-5"))


async def ask(client: Any, model: str, system: str, content: str) -> str:
    message = await client.messages.create(
        model=model,
        max_tokens=4096,
        system=[{"type": "text", "text": system, "cache_control": {"type": "ephemeral"}}],
        messages=[{"role": "user", "content": content}],
    )
    return "".join(getattr(b, "text", "") for b in message.content)


def read_lines(path: str) -> list[str]:
    return [t for t in Path(path).read_text(encoding="utf-8").splitlines() if t.strip()]


def with_inputs(task: str, inputs: dict[str, str]) -> str:
    block = "\n\n".join(f"## Output of {k}\n\n{v}" for k, v in inputs.items())
    return f"# Inputs\n\n{block}\n\n# Task\n\n{task}"


async def dag(client: Any, project: Path, task: str) -> dict[str, Any]:
    model = model_of(project)
    sys_ = {a: system_of(project, a) for a in ("a1", "a2", "b", "s")}

    async def left() -> str:
        out = await ask(client, model, sys_["a1"], task)
        return await ask(client, model, sys_["a2"], with_inputs(task, {"a1": out}))

    a2, b = await asyncio.gather(left(), ask(client, model, sys_["b"], task))
    await ask(client, model, sys_["s"], with_inputs(task, {"a2": a2, "b": b}))
    return {"calls": 4}


async def tasks(client: Any, project: Path, agent: str, lines: list[str], n: int) -> dict[str, Any]:
    model, system = model_of(project), system_of(project, agent)
    bound = asyncio.Semaphore(n)

    async def one(t: str) -> bool:
        async with bound:
            try:
                await ask(client, model, system, t)
                return True
            except Exception:
                return False

    ok = await asyncio.gather(*(one(t) for t in lines))
    return {"calls": len(lines), "ok": sum(ok)}


async def inflight(client: Any, project: Path, agent: str, count: int) -> dict[str, Any]:
    model, system = model_of(project), system_of(project, agent)
    t0 = time.perf_counter()
    results = await asyncio.gather(
        *(ask(client, model, system, f"task {i}") for i in range(count)), return_exceptions=True
    )
    wall = time.perf_counter() - t0
    ok = sum(not isinstance(r, BaseException) for r in results)
    return {"ok": ok, "wall_s": wall, "throughput": ok / wall}


async def stream(client: Any, project: Path, agent: str, task: str) -> dict[str, Any]:
    system = system_of(project, agent)
    async with client.messages.stream(
        model=model_of(project),
        max_tokens=4096,
        system=[{"type": "text", "text": system, "cache_control": {"type": "ephemeral"}}],
        messages=[{"role": "user", "content": task}],
    ) as events:
        async for text in events.text_stream:
            sys.stdout.write(text)
            sys.stdout.flush()
        message = await events.get_final_message()
    return {"output_tokens": message.usage.output_tokens}


async def main() -> None:
    from anthropic import AsyncAnthropic

    mode, project = sys.argv[1], Path(sys.argv[2])
    async with AsyncAnthropic() as client:  # its defaults: max_retries=2, 1,000 connections
        t_ready = time.perf_counter()
        if mode == "dag":
            out = await dag(client, project, sys.argv[3])
        elif mode == "tasks":
            lines = read_lines(sys.argv[4])
            out = await tasks(client, project, sys.argv[3], lines, int(sys.argv[5]))
        elif mode == "one":
            system = system_of(project, sys.argv[3])
            out = {"text": (await ask(client, model_of(project), system, sys.argv[4]))[:20]}
        elif mode == "inflight":
            out = await inflight(client, project, sys.argv[3], int(sys.argv[4]))
        elif mode == "stream":
            out = await stream(client, project, sys.argv[3], sys.argv[4])
            print(json.dumps(out), file=sys.stderr)
            return
        else:
            raise SystemExit(f"unknown mode {mode}")
    out["start_s"] = t_ready - T0
    out["peak_rss_mb"] = peak_rss_mb()
    out["aiohttp"] = "aiohttp" in sys.modules  # the SDK imports it when it is installed
    print(json.dumps(out))


if __name__ == "__main__":
    asyncio.run(main())
