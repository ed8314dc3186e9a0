"""``claude-force run agent|workflow``: the spellings of claude-force 2.2, on the same engine.

``run workflow`` is the ``run-workflow`` command itself (``cli/workflow.py``), under its 2.2 name.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from ._common import (
    echo_output,
    emit_json,
    open_core,
    out_console,
    state_of,
    to_json,
    write_output_file,
)
from ._options import (
    JsonOpt,
    MaxTokensOpt,
    ModelOpt,
    NoCacheOpt,
    OutputOpt,
    QuietOpt,
    RefreshOpt,
    SimulateOpt,
    TaskFileOpt,
    TaskOpt,
    TemperatureOpt,
)
from .workflow import run_workflow

if TYPE_CHECKING:
    from ..runner import Execution

app = typer.Typer(
    help="Run an agent or a workflow (the 2.2 spelling; see also 'execute').",
    no_args_is_help=True,
)


class OutputFormat(StrEnum):
    text = "text"
    json = "json"


@app.command("agent")
def run_agent(
    ctx: typer.Context,
    agent: Annotated[str, typer.Argument(help="Agent name.", metavar="AGENT")],
    task: TaskOpt = None,
    task_file: TaskFileOpt = None,
    model: ModelOpt = None,
    max_tokens: MaxTokensOpt = 4096,
    temperature: TemperatureOpt = None,
    simulate: SimulateOpt = False,
    json_out: JsonOpt = False,
    output_format: Annotated[
        OutputFormat, typer.Option("--format", help="text or json (json = same as --json).")
    ] = OutputFormat.text,
    quiet: QuietOpt = False,
    output: OutputOpt = None,
    no_cache: NoCacheOpt = False,
    refresh: RefreshOpt = False,
) -> None:
    """Run AGENT on one task (exit 1 if it fails)."""
    import asyncio

    from ._drive import check_inputs, preflight, run_items, run_options
    from ._report import RunSummary, print_result, report_failures, result_dict
    from ._tasks import TaskItem, one_task

    state = state_of(ctx)
    text = one_task(task, task_file)
    as_json = json_out or output_format is OutputFormat.json
    items = [TaskItem(agent, text, "--task")]
    check_inputs(items)
    core = open_core(state, simulate=simulate)
    preflight(core, items, model)
    options = run_options(model, max_tokens, temperature, no_cache=no_cache, refresh=refresh)

    async def go() -> tuple[list[Execution], float]:
        try:
            return await run_items(core, items, options, concurrent=False)
        finally:
            await core.close()

    executions, wall = asyncio.run(go())
    ex = executions[0]
    if output is not None:
        write_output_file(output, to_json(result_dict(ex)) if as_json else ex.output)
    elif as_json:
        emit_json(result_dict(ex))
    elif quiet:
        if ex.success:
            echo_output(ex.output)
    else:
        console = out_console()
        print_result(console, ex, "run agent", markdown=console.is_terminal)
        console.print(RunSummary.of(executions, wall, "sequential").line(), markup=False)
    report_failures(executions, ["run"])
    if not ex.success:
        raise typer.Exit(1)


app.command(
    "workflow",
    help="Run workflow NAME on a task: the 2.2 spelling of 'run-workflow NAME' (the same command, "
    "with the same options).",
)(run_workflow)
