"""Peers on the same stand-in: per-call overhead over the bare SDK, and the asymmetric DAG.

langchain-anthropic, LiteLLM and LangGraph come from the optional ``bench`` extra
(``pip install -e ".[bench]"``); a peer that is not installed is reported as skipped. claude-force
runs on its defaults (cache miss, memory, metrics, resilience on). Every call goes to the same
loopback stand-in (``_standin.py``, SIMULATED answers), in its own process.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import tempfile
import time
from collections.abc import Awaitable, Callable
from operator import or_
from pathlib import Path
from typing import Annotated, Any, TypedDict

from _harness import Result, median, percentile
from bench_whole import CRITICAL_PATH_S, DAG_LATENCY, make_project, stand_in

TITLE = "Peers: per-call overhead and the asymmetric DAG on the same stand-in"
MODEL = "claude-sonnet-5-5"

Call = Callable[[str, str], Awaitable[str]]


class State(TypedDict):
    """LangGraph's state for the DAG: each node adds its output."""

    out: Annotated[dict[str, str], or_]


def installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


async def _clients(root: Path) -> dict[str, Call | None]:
    """name → ``call(system, user)`` for every peer (``None``: not installed)."""
    from anthropic import AsyncAnthropic

    from claude_force import AsyncAgentOrchestrator

    sdk = AsyncAnthropic(max_retries=0)

    async def bare(system: str, user: str) -> str:
        m = await sdk.messages.create(
            model=MODEL,
            max_tokens=4096,
            system=system,
            messages=[{"role": "user", "content": user}],
        )
        return "".join(getattr(b, "text", "") for b in m.content)

    orch = AsyncAgentOrchestrator(root / ".claude" / "claude.json")
    await orch.prepare()

    async def ours(system: str, user: str) -> str:
        agent = system.split()[1] if system.startswith("# ") else "worker"
        ex = await orch.execute(agent, user)
        assert ex.success, ex.errors
        return ex.output

    clients: dict[str, Call | None] = {"bare SDK": bare, "claude-force (defaults)": ours}
    clients["langchain-anthropic"] = None
    if installed("langchain_anthropic"):
        from langchain_anthropic import ChatAnthropic

        chat = ChatAnthropic(  # type: ignore[call-arg]
            model=MODEL, max_tokens=4096, max_retries=0, base_url=os.environ["ANTHROPIC_BASE_URL"]
        )

        async def lc(system: str, user: str) -> str:
            reply = await chat.ainvoke([("system", system), ("user", user)])
            return str(reply.content)

        clients["langchain-anthropic"] = lc
    clients["LiteLLM"] = None
    if installed("litellm"):
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # offline: no fetch
        import litellm

        async def ll(system: str, user: str) -> str:
            reply = await litellm.acompletion(
                model=f"anthropic/{MODEL}",
                api_base=os.environ["ANTHROPIC_BASE_URL"],
                api_key=os.environ["ANTHROPIC_API_KEY"],
                max_tokens=4096,
                messages=[{"role": "system", "content": system}, {"role": "user", "content": user}],
            )
            return str(reply.choices[0].message.content)

        clients["LiteLLM"] = ll
    return clients


async def _overhead(root: Path, n: int) -> dict[str, list[float] | None]:
    clients = await _clients(root)
    system = (root / ".claude" / "agents" / "worker.md").read_text(encoding="utf-8")
    samples: dict[str, list[float] | None] = {
        k: ([] if v is not None else None) for k, v in clients.items()
    }
    for i in range(n + 20):  # interleaved rounds; distinct tasks (no cache hits)
        for name, call in clients.items():
            if call is None:
                continue
            t0 = time.perf_counter()
            await call(system, f"Check function {i} of module {i % 9} ({name})")
            if i >= 20:
                got = samples[name]
                assert got is not None
                got.append(time.perf_counter() - t0)
    return samples


async def _langgraph_dag(root: Path) -> float | None:
    """The asymmetric DAG as a LangGraph graph whose nodes call the bare SDK; its wall time."""
    if not installed("langgraph"):
        return None
    from anthropic import AsyncAnthropic
    from langgraph.graph import END, START, StateGraph

    sdk = AsyncAnthropic(max_retries=0)

    def node(name: str) -> Callable[[State], Awaitable[dict[str, Any]]]:
        system = (root / ".claude" / "agents" / f"{name}.md").read_text(encoding="utf-8")

        async def run(state: State) -> dict[str, Any]:
            m = await sdk.messages.create(
                model=MODEL,
                max_tokens=4096,
                system=system,
                messages=[{"role": "user", "content": f"task {sorted(state['out'])}"}],
            )
            return {"out": {name: "".join(getattr(b, "text", "") for b in m.content)}}

        return run

    g = StateGraph(State)
    for name in DAG_LATENCY:
        g.add_node(name, node(name))
    g.add_edge(START, "a1")
    g.add_edge(START, "b")
    g.add_edge("a1", "a2")
    g.add_edge(["a2", "b"], "s")
    g.add_edge("s", END)
    app = g.compile()
    t0 = time.perf_counter()
    await app.ainvoke({"out": {}})
    return time.perf_counter() - t0


async def _ours_dag(root: Path) -> float:
    from claude_force import AsyncAgentOrchestrator

    async with AsyncAgentOrchestrator(root / ".claude" / "claude.json") as orch:
        result = await orch.execute_workflow("asym", "Plan the peers release")
        assert result.status == "succeeded", result.error
        return result.wall_s


def run(quick: bool) -> list[Result]:
    n = 60 if quick else 200
    out: list[Result] = []
    with tempfile.TemporaryDirectory() as tmp, stand_in() as si:
        root = make_project(Path(tmp))
        os.environ["ANTHROPIC_API_KEY"], os.environ["ANTHROPIC_BASE_URL"] = "sk-bench", si["url"]
        samples = asyncio.run(_overhead(root, n))
    bare = samples["bare SDK"]
    assert bare is not None
    for name, got in samples.items():
        if name == "bare SDK":
            continue
        if got is None:
            out.append(
                Result(
                    f"peer overhead p50: {name}",
                    float("nan"),
                    "ms",
                    detail="skipped: not installed (the `bench` extra)",
                )
            )
            continue
        p50 = (median(got) - median(bare)) * 1000
        p99 = (percentile(got, 99) - percentile(bare, 99)) * 1000
        out.append(
            Result(
                f"peer overhead p50: {name}",
                p50,
                "ms",
                detail=f"p99 {p99:+.2f} ms; bare SDK p50 {median(bare) * 1000:.2f} ms; n={n}",
            )
        )
    with tempfile.TemporaryDirectory() as tmp, stand_in() as si:
        root = make_project(Path(tmp))
        os.environ["ANTHROPIC_API_KEY"], os.environ["ANTHROPIC_BASE_URL"] = "sk-bench", si["url"]
        ours = asyncio.run(_ours_dag(root))
        lg = asyncio.run(_langgraph_dag(root))
    out.append(
        Result(
            "asym DAG in-process: claude-force wall / critical path",
            ours / CRITICAL_PATH_S,
            "×",
            detail=f"{ours:.3f} s vs {CRITICAL_PATH_S} s",
        )
    )
    if lg is None:
        out.append(
            Result(
                "asym DAG in-process: LangGraph wall / critical path",
                float("nan"),
                "×",
                detail="skipped: not installed (the `bench` extra)",
            )
        )
    else:
        out.append(
            Result(
                "asym DAG in-process: LangGraph wall / critical path",
                lg / CRITICAL_PATH_S,
                "×",
                detail=f"{lg:.3f} s; nodes call the bare SDK",
            )
        )
    return out
