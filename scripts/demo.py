#!/usr/bin/env python
"""``make demo``: claude-force end to end, offline, on the SIMULATED model.

It creates the sample project in a temporary folder, then runs three agents on three tasks with
``claude-force execute --async`` (in-process, the same code path as the console script) and shows
the live progress display and a summary: wall time, tokens, simulated cost and the speedup over
running the same tasks one after another.

No API key and no network are used. Every answer is generated locally and labelled SIMULATED.

Extending it: write a function ``step_xxx(demo: Demo) -> None`` and add it to ``STEPS``. Each step
can use ``demo.cli(...)`` to run a command and ``demo.notes`` to pass figures to later steps.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
try:
    import claude_force  # noqa: F401
except ImportError:  # running from a checkout without an install
    sys.path.insert(0, str(ROOT / "src"))

from rich.console import Console  # noqa: E402
from rich.panel import Panel  # noqa: E402
from rich.table import Table  # noqa: E402

from claude_force.cli.app import main as cli_main  # noqa: E402
from claude_force.scaffold import init_project  # noqa: E402

TASKS: list[dict[str, str]] = [
    {
        "agent": "python-expert",
        "task": "Review this function for bugs and edge cases:\n"
        "def mean(xs): return sum(xs) / len(xs)",
    },
    {
        "agent": "security-specialist",
        "task": "Audit a login handler that builds its SQL query with f-strings from form fields.",
    },
    {
        "agent": "test-engineer",
        "task": "Write a pytest plan for a CSV parser that must handle quoted commas and BOMs.",
    },
]


@dataclass
class Demo:
    workdir: Path
    latency: str
    console: Console = field(default_factory=lambda: Console(highlight=False))
    notes: dict[str, Any] = field(default_factory=dict)
    config: Path | None = None

    def cli(self, *args: str, capture: bool = False) -> tuple[int, str]:
        """Run ``claude-force --config <project> ARGS`` in-process; stdout captured if asked."""
        argv = ["--config", str(self.config), *args] if self.config else list(args)
        shown = " ".join(a if " " not in a else repr(a) for a in ["claude-force", *argv])
        self.console.print(f"[bold]$[/bold] {shown}", markup=True, soft_wrap=True)
        if not capture:
            return cli_main(argv), ""
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            code = cli_main(argv)
        return code, buffer.getvalue()

    def check(self, *args: str, what: str) -> None:
        """Run a command shown to the audience; a non-zero exit code fails the demo."""
        code, _ = self.cli(*args)
        if code != 0:
            raise DemoFailed(f"{what} exited with code {code}")

    def json(self, *args: str, what: str) -> Any:
        """Run a ``--json`` command and parse its stdout; a non-zero exit code fails the demo."""
        code, stdout = self.cli(*args, capture=True)
        if code != 0:
            raise DemoFailed(f"{what} exited with code {code}")
        return json.loads(stdout)

    def execute_tasks(self, tasks_file: Path, *, what: str) -> Any:
        """``claude-force execute`` of the demo's tasks, concurrently and simulated."""
        return self.json(
            "execute",
            "python-expert",
            "--tasks-file",
            str(tasks_file),
            "--async",
            "--simulate",
            "--json",
            what=what,
        )


class DemoFailed(Exception):
    pass


def step_init(demo: Demo) -> None:
    demo.console.rule("[bold]1. A sample project")
    demo.config = init_project(demo.workdir)
    agents = sorted(p.stem for p in (demo.config.parent / "agents").glob("*.md"))
    demo.console.print(
        f"Wrote {demo.config.parent} with {len(agents)} agents and their contracts "
        f"(the same as 'claude-force init').",
        soft_wrap=True,
    )


def step_concurrent_tasks(demo: Demo) -> None:
    demo.console.rule("[bold]2. Three agents, three tasks, concurrently (--async)")
    tasks_file = demo.workdir / "tasks.jsonl"
    tasks_file.write_text("\n".join(json.dumps(t) for t in TASKS) + "\n", encoding="utf-8")
    report = demo.execute_tasks(tasks_file, what="execute")
    demo.notes["execute"] = report
    summary = report["summary"]

    table = Table(title="Results", title_justify="left")
    table.add_column("agent", style="bold")
    table.add_column("status")
    table.add_column("time", justify="right")
    table.add_column("tokens in/out", justify="right")
    table.add_column("simulated cost", justify="right")
    for result in report["results"]:
        meta = result["metadata"]
        cost = meta["cost_usd"]
        table.add_row(
            result["agent_name"],
            "[green]ok[/green]" if result["success"] else "[red]failed[/red]",
            f"{meta['execution_time_ms'] / 1000:.2f} s",
            f"{meta['input_tokens']:,} / {meta['output_tokens']:,}",
            f"${cost:.4f}" if cost is not None else "n/a",
        )
    demo.console.print(table)

    first = report["results"][0]["output"].splitlines()
    excerpt = "\n".join(first[:12]) + ("\n…" if len(first) > 12 else "")
    demo.console.print(
        Panel(excerpt, title="excerpt of the first answer (SIMULATED)", title_align="left"),
        markup=False,
    )

    speedup = summary["speedup"] or 1.0
    cost = summary["cost_usd"]
    demo.console.print(
        f"[bold]Wall time[/bold] {summary['wall_time_s']:.2f} s for {summary['tasks']} tasks "
        f"whose durations add up to {summary['sum_of_durations_s']:.2f} s → "
        f"[bold]{speedup:.2f}× speedup[/bold] over running them one after another.\n"
        f"[bold]Tokens[/bold] {summary['total_tokens']:,} "
        f"({summary['input_tokens']:,} in / {summary['output_tokens']:,} out) · "
        f"[bold]simulated cost[/bold] "
        + (f"${cost:.4f}" if cost is not None else "n/a")
        + " (what these tokens would cost on the configured model).",
        soft_wrap=True,
    )


def step_cache_replay(demo: Demo) -> None:
    """Run the same three tasks again: the response cache answers them (cached, cost 0)."""
    demo.console.rule("[bold]3. The same work again, answered from the response cache")
    tasks_file = demo.workdir / "tasks.jsonl"
    report = demo.execute_tasks(tasks_file, what="execute (second run)")
    first = demo.notes.get("execute", {}).get("results", [])
    table = Table(title="Second run", title_justify="left")
    table.add_column("agent", style="bold")
    table.add_column("cached")
    table.add_column("time", justify="right")
    table.add_column("first run", justify="right")
    table.add_column("cost", justify="right")
    table.add_column("same answer")
    for i, result in enumerate(report["results"]):
        meta = result["metadata"]
        before = first[i] if i < len(first) else None
        table.add_row(
            result["agent_name"],
            "[green]yes[/green]" if meta["cached"] else "[red]no[/red]",
            f"{meta['execution_time_ms']:.1f} ms",
            f"{before['metadata']['execution_time_ms']:.0f} ms" if before else "-",
            f"${meta['cost_usd'] or 0:.4f}",
            "yes" if before and before["output"] == result["output"] else "no",
        )
    demo.console.print(table)
    if not all(r["metadata"]["cached"] for r in report["results"]):
        raise DemoFailed("the second run was not answered from the cache")
    stats = demo.json("cache", "stats", "--json", what="cache stats")
    demo.notes["cache"] = stats
    demo.console.print(
        f"[bold]Cache[/bold] {stats['hits']} hits / {stats['misses']} misses "
        f"(hit rate {stats['hit_rate'] * 100:.0f}%) · {stats['entries']} entries, "
        f"{stats['bytes']:,} bytes in {stats['backend']} · saved "
        f"{stats['tokens_saved']['total']:,} tokens, ${float(stats['cost_saved_usd']):.4f} "
        f"and {stats['seconds_saved']:.2f} s of model time. "
        "(`claude-force cache stats|list|inspect|prune|clear`; --no-cache / --refresh per call.)",
        soft_wrap=True,
    )


def step_parallel_workflow(demo: Demo) -> None:
    """code-quality-check: three reviewers in parallel, then a summary (issue 5)."""
    demo.console.rule("[bold]4. A workflow: three reviewers in parallel, then a summary")
    demo.check("workflow", "show", "code-quality-check", what="workflow show")
    result = demo.json(
        "run-workflow",
        "code-quality-check",
        "--task",
        "Review the payment module: refunds, currency rounding and the webhook handler.",
        "--parallel",
        "--simulate",
        "--no-cache",
        "--fresh",
        "--json",
        what="run-workflow",
    )
    demo.notes["workflow"] = result
    wall = result["wall_s"] or 1e-9
    table = Table(title="Timeline (seconds from the start of the run)", title_justify="left")
    table.add_column("step", style="bold", no_wrap=True)
    table.add_column("start", justify="right")
    table.add_column("end", justify="right")
    table.add_column("", no_wrap=True)
    width = 32
    for step in result["steps"]:
        start, end = step["start_offset_s"] or 0.0, step["end_offset_s"] or 0.0
        left = round(start / wall * width)
        bar = " " * left + "█" * max(1, round(end / wall * width) - left)
        table.add_row(
            step["step_id"],
            f"{start:.2f}",
            f"{end:.2f}",
            bar,
        )
    demo.console.print(table)
    speedup = result["speedup"] or 1.0
    demo.console.print(
        f"[bold]Wall time[/bold] {result['wall_s']:.2f} s; the steps add up to "
        f"{result['sequential_s']:.2f} s → [bold]{speedup:.2f}× faster[/bold] than running them "
        f"one after another. The critical path ({' → '.join(result['critical_path'])}) takes "
        f"{result['critical_path_s']:.2f} s: no schedule can finish sooner.",
        soft_wrap=True,
    )


def step_analytics(demo: Demo) -> None:
    """What the demo ran, from the metrics store: cost, tokens, cache savings, latency (issue 6)."""
    demo.console.rule("[bold]5. Analytics of everything above")
    summary = demo.json("analytics", "summary", "--json", what="analytics summary")
    if summary["executions"] < len(TASKS):
        raise DemoFailed(f"analytics saw {summary['executions']} executions; expected more")
    demo.notes["analytics"] = summary
    demo.check("analytics", "summary", what="analytics summary")
    demo.check("analytics", "agents", what="analytics agents")
    demo.console.print(
        f"Recorded {summary['executions']} executions (all SIMULATED) with exact per-token costs "
        f"from the price table: ${summary['cost_usd']:.4f} spent, "
        f"{summary['cache_hits']} cache hits saved ${summary['saved_usd']:.4f}. "
        "Old rows are rolled up daily; see `claude-force analytics --help` (trends, models, "
        "workflows, export, rollup, prometheus).",
        soft_wrap=True,
    )


STEPS: list[Callable[[Demo], None]] = [
    step_init,
    step_concurrent_tasks,
    step_cache_replay,
    step_parallel_workflow,
    step_analytics,
]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="claude-force demo (offline, simulated model)")
    ap.add_argument(
        "--latency",
        default="realistic",
        choices=["instant", "fast", "realistic", "slow"],
        help="simulated latency preset (default: realistic)",
    )
    args = ap.parse_args(argv)
    console = Console(highlight=False)
    console.print(
        Panel(
            "claude-force demo — offline. There is no API key and no network here: every answer "
            "comes from the SIMULATED model (generated locally, not by Claude) with "
            f"'{args.latency}' latency.",
            style="bold yellow",
        )
    )
    os.environ["CLAUDE_FORCE_LATENCY"] = args.latency
    os.environ.pop("CLAUDE_FORCE_CONFIG", None)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="claude-force-demo-") as tmp:
        demo = Demo(workdir=Path(tmp), latency=args.latency, console=console)
        try:
            for step in STEPS:
                step(demo)
        except DemoFailed as exc:
            console.print(f"[red]demo failed:[/red] {exc}")
            return 1
    console.rule()
    console.print(
        f"Demo finished in {time.perf_counter() - t0:.1f} s. All responses above were SIMULATED. "
        "Set ANTHROPIC_API_KEY and drop --simulate to run the same commands against Claude.",
        soft_wrap=True,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
