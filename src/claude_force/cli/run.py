"""``claude-force run agent|workflow``: the spellings of claude-force 2.2, on the same engine.

``run workflow`` runs on the workflow engine, like ``run-workflow`` (see ``cli/workflow.py``).
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
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

if TYPE_CHECKING:
    from ..runner import Execution

app = typer.Typer(
    help="Run an agent or a workflow (the 2.2 spelling; see also 'execute').",
    no_args_is_help=True,
)


class OutputFormat(StrEnum):
    text = "text"
    json = "json"


def _one_task(task: str | None, task_file: Path | None) -> str:
    from ._tasks import TaskInputError, read_text

    if (task is None) == (task_file is None):
        raise TaskInputError(
            "give exactly one of --task and --task-file",
            hint="e.g. --task 'Review utils.py' or --task-file task.md",
        )
    if task is not None:
        text = task
    else:
        assert task_file is not None
        text = read_text(task_file, "--task-file")
    if not text.strip():
        raise TaskInputError("the task is empty", hint="write what the agent should do")
    return text


def _markdown_report(executions: list[Execution]) -> str:
    from ._report import describe

    parts = []
    for ex in executions:
        parts.append(f"## {ex.agent}\n\n_{describe(ex)}_\n\n{ex.output or '; '.join(ex.errors)}\n")
    return "\n".join(parts)


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

    from ..runner import RunOptions
    from ._drive import check_inputs, preflight, run_items
    from ._report import RunSummary, print_result, report_failures, result_dict
    from ._tasks import TaskItem

    state = state_of(ctx)
    text = _one_task(task, task_file)
    as_json = json_out or output_format is OutputFormat.json
    items = [TaskItem(agent, text, "--task")]
    check_inputs(items)
    core = open_core(state, simulate=simulate)
    preflight(core, items, model)
    options = RunOptions(
        model=model,
        max_tokens=max_tokens,
        temperature=temperature,
        use_cache=not no_cache,
        refresh=refresh,
    )

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


@app.command("workflow")
def run_workflow(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Workflow name (see 'claude-force list workflows').")],
    task: TaskOpt = None,
    task_file: TaskFileOpt = None,
    no_pass_output: Annotated[
        bool,
        typer.Option("--no-pass-output", help="Do not give each step the previous step's output."),
    ] = False,
    no_cache: NoCacheOpt = False,
    refresh: RefreshOpt = False,
    simulate: SimulateOpt = False,
    json_out: JsonOpt = False,
    quiet: QuietOpt = False,
    output: OutputOpt = None,
) -> None:
    """Run workflow NAME on a task (the 2.2 spelling of 'run-workflow NAME').

    A list-form workflow runs step after step and stops at the first failed step; the steps of
    a DAG-form workflow start as soon as their dependencies are done.
    """
    from .workflow import drive

    drive(
        state_of(ctx),
        name,
        _one_task(task, task_file),
        pass_outputs=not no_pass_output,
        use_cache=not no_cache,
        refresh=refresh,
        simulate=simulate,
        json_out=json_out,
        quiet=quiet,
        output=output,
    )
