"""``claude-force route AGENT TASK``: which model the router would choose, why, and the estimate."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from ._common import emit_json, open_core, out_console, state_of
from ._options import JsonOpt, TaskFileOpt

if TYPE_CHECKING:
    from ..routing import RouteDecision


def route(
    ctx: typer.Context,
    agent: Annotated[str, typer.Argument(help="Agent name.", metavar="AGENT")],
    task: Annotated[
        str | None, typer.Argument(help="The task text.", metavar="TASK", show_default=False)
    ] = None,
    task_file: TaskFileOpt = None,
    model: Annotated[
        str | None,
        typer.Option("--model", "-m", help="Estimate this model instead of routing."),
    ] = None,
    max_tokens: Annotated[
        int, typer.Option("--max-tokens", min=1, help="The run's max_tokens (for the estimate).")
    ] = 4096,
    complexity: Annotated[
        str,
        typer.Option("--complexity", help="auto (classify), simple, normal or critical."),
    ] = "auto",
    batch: Annotated[
        bool, typer.Option("--batch", help="Estimate with the 50% batch discount.")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Explain the model the router picks for AGENT on TASK, and its estimated cost.

    Nothing is sent to any model. A pinned model (agents.X.model, models.agents) always wins; a
    cost threshold (routing.cost_threshold_usd) may step the choice down or refuse it (exit 1).
    """
    import asyncio

    from ..routing import parse_complexity
    from ._tasks import TaskInputError, one_task

    text = one_task(task, task_file, name="TASK")
    try:
        forced = parse_complexity(complexity)
    except ValueError as exc:
        raise TaskInputError(str(exc), key="--complexity") from None
    core = open_core(state_of(ctx), routing=True, tracking=False)

    async def go() -> RouteDecision:
        try:
            return await core.route(
                agent, text, model=model, max_tokens=max_tokens, complexity=forced, batch=batch
            )
        finally:
            await core.close()

    core.project.agent(agent)  # an unknown agent is a usage error (exit 2) with suggestions
    decision = asyncio.run(go())
    if json_out:
        emit_json({"agent": agent, **decision.to_metadata()})
        return
    print_decision(decision)


def print_decision(d: RouteDecision) -> None:
    from rich.table import Table

    est = d.estimate
    cost = "unknown (unpriced model)" if est.cost_usd is None else f"${est.cost_usd:.6f}"
    table = Table(title=f"Route for {d.agent}", title_justify="left", show_header=False)
    table.add_column("figure", style="bold")
    table.add_column("value")
    table.add_row("model", f"{d.model} ({d.source})")
    table.add_row("complexity", f"{d.complexity} (score {d.classification.score:+d})")
    if d.stepped_down_from:
        table.add_row("stepped down from", d.stepped_down_from)
    table.add_row(
        "estimated cost",
        f"{cost} · {est.estimated_input_tokens:,} prompt + {est.estimated_output_tokens:,} output "
        "tokens" + (" · batch price" if est.batch else ""),
    )
    if d.cost_threshold_usd is not None:
        table.add_row("cost threshold", f"${d.cost_threshold_usd}")
    console = out_console()
    console.print(table)
    console.print("Why:", style="bold")
    for reason in d.reasons:
        console.print(f"  • {reason}", markup=False, highlight=False)
    console.print(est.basis, style="dim", markup=False, highlight=False)
