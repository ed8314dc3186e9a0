"""``claude-force execute AGENT [TASK ...]``: run an agent on one or many tasks."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from ._common import emit_json, err_console, notice, open_core, out_console, state_of
from ._options import (
    JsonOpt,
    MaxTokensOpt,
    ModelOpt,
    NoCacheOpt,
    QuietOpt,
    RefreshOpt,
    SimulateOpt,
    SubmitOpt,
    TaskFileOpt,
    TasksFileOpt,
    TemperatureOpt,
)

if TYPE_CHECKING:
    from ..cluster.config import Cluster
    from ..config import Project
    from ..engine import AgentEngine
    from ..runner import Execution, RunOptions
    from ._report import RunSummary
    from ._tasks import TaskItem

StreamOpt = Annotated[
    bool | None,
    typer.Option(
        "--stream/--no-stream",
        help="Show the answer as it is written (default: when stdout is a terminal; "
        "a single task without --json only).",
        show_default=False,
    ),
]


def execute(
    ctx: typer.Context,
    agent: Annotated[
        str, typer.Argument(help="Agent name (see 'claude-force list agents').", metavar="AGENT")
    ],
    tasks: Annotated[
        list[str] | None,
        typer.Argument(help="Task text; several TASK arguments are several tasks.", metavar="TASK"),
    ] = None,
    task_file: TaskFileOpt = None,
    tasks_file: TasksFileOpt = None,
    run_async: Annotated[
        bool,
        typer.Option("--async", help="Run the tasks concurrently (progress on stderr)."),
    ] = False,
    model: ModelOpt = None,
    max_tokens: MaxTokensOpt = 4096,
    temperature: TemperatureOpt = None,
    simulate: SimulateOpt = False,
    json_out: JsonOpt = False,
    quiet: QuietOpt = False,
    no_cache: NoCacheOpt = False,
    refresh: RefreshOpt = False,
    max_concurrent: Annotated[
        int | None,
        typer.Option(
            "--max-concurrent",
            min=1,
            help="At most N tasks at once (default: performance.max_concurrent_agents).",
        ),
    ] = None,
    auto_model: Annotated[
        bool,
        typer.Option("--auto-model", help="Let the router choose each task's model (see 'route')."),
    ] = False,
    submit: SubmitOpt = False,
    stream: StreamOpt = None,
) -> None:
    """Run AGENT on one or more tasks; with --async they run concurrently.

    In cluster mode (cluster.database_url) the tasks are queued for the workers: --submit prints
    their run ids, otherwise the command waits for them. Exit code 0 when every task succeeded,
    1 when one failed, 2 for usage or configuration errors (3: it ran on the simulated model
    because no key was set). A single task's answer is shown as it is written when stdout is a
    terminal (--stream / --no-stream to choose).

    \b
    Examples:
      claude-force execute code-reviewer "Review this diff: ..."
      claude-force execute python-expert --task-file task.md --json
      claude-force execute python-expert --tasks-file tasks.txt --async --max-concurrent 8
      claude-force execute security-specialist "Audit auth.py" --auto-model --no-cache
    """
    import asyncio

    from ._drive import check_inputs, label, preflight, run_items, run_options
    from ._progress import ProgressView
    from ._report import (
        RunSummary,
    )
    from ._stream import wants_stream
    from ._tasks import collect

    state = state_of(ctx)
    items = collect(agent, tasks or [], task_file, tasks_file)
    check_inputs(items)
    from ..config import load_project
    from ._cluster import cluster_for

    project = load_project(state.config)
    cluster = cluster_for(project, submit, "execute")
    streaming = wants_stream(
        stream, tasks=len(items), json_out=json_out, cluster=cluster is not None and not auto_model
    )
    if cluster is not None and auto_model:
        if submit:
            from ..errors import ConfigurationError

            raise ConfigurationError(
                "--auto-model cannot be combined with --submit",
                hint="leave out --auto-model (the workers use each agent's configured model)",
            )
        cluster = None  # routing runs in this process
    options = run_options(model, max_tokens, temperature, no_cache=no_cache, refresh=refresh)
    if cluster is not None:
        _execute_in_cluster(project, cluster, items, options, submit, json_out, quiet)
        return
    core = open_core(
        state, simulate=simulate, max_concurrent=max_concurrent, routing=auto_model, project=project
    )
    preflight(core, items, model)
    settings = core.project.settings
    concurrent = run_async
    if run_async and not (settings.features.async_enabled and settings.performance.async_enabled):
        notice(
            "warning: async execution is disabled in claude.json "
            "(features.async_enabled / performance.async_enabled); running one task at a time"
        )
        concurrent = False
    if streaming:
        _execute_streaming(core, items[0], options, quiet)
        return
    labels = [label(item) for item in items]
    show_progress = not quiet and (run_async or len(items) > 1)
    view = ProgressView(err_console(), labels, enabled=show_progress)

    async def go() -> tuple[list[Execution], float]:
        try:
            with view:
                return await run_items(
                    core, items, options, concurrent=concurrent, board=view.board
                )
        finally:
            await core.close()

    executions, wall = asyncio.run(go())
    summary = RunSummary.of(
        executions,
        wall,
        "async" if concurrent else "sequential",
        max_concurrent=core.max_concurrent,
    )
    _report(executions, summary, json_out, quiet)


def _execute_streaming(core: AgentEngine, item: TaskItem, options: RunOptions, quiet: bool) -> None:
    """One task, its answer on stdout as it is written; then the summary line (not ``-q``)."""
    import asyncio

    from ._report import RunSummary, report_failures
    from ._stream import stream_one

    async def go() -> tuple[Execution, float]:
        try:
            return await stream_one(core, item, options, quiet=quiet)
        finally:
            await core.close()

    ex, wall = asyncio.run(go())
    summary = RunSummary.of([ex], wall, "streamed", max_concurrent=core.max_concurrent)
    if not quiet:
        out_console().print(summary.line(), markup=False, highlight=False)
    report_failures([ex], ["task 1"])
    if not summary.ok:
        raise typer.Exit(1)


def _report(executions: list[Execution], summary: RunSummary, json_out: bool, quiet: bool) -> None:
    from ._report import print_outputs_only, print_result, report_failures, result_dict

    if json_out:
        emit_json({"results": [result_dict(ex) for ex in executions], "summary": summary.to_dict()})
    elif quiet:
        print_outputs_only(executions)
    else:
        console = out_console()
        n = len(executions)
        for i, ex in enumerate(executions, start=1):
            print_result(console, ex, f"task {i}/{n}", markdown=console.is_terminal)
        console.print(summary.line(), markup=False, highlight=False)
    report_failures(executions, [f"task {i}" for i in range(1, len(executions) + 1)])
    if not summary.ok:
        raise typer.Exit(1)


def _execute_in_cluster(
    project: Project,
    cluster: Cluster,
    items: list[TaskItem],
    options: RunOptions,
    submit: bool,
    json_out: bool,
    quiet: bool,
) -> None:
    """Queue the tasks for the workers; print the run ids (--submit) or wait and report."""
    from ._cluster import print_submitted, submit_tasks, wait_tasks
    from ._drive import label
    from ._report import RunSummary

    for agent in dict.fromkeys(item.agent for item in items):  # exit 2 before queueing
        project.agent(agent)
        project.model_for(agent, options.model)
    client, ids = submit_tasks(cluster, items, options)
    with client:
        if submit:
            print_submitted(ids, json_out)
            return
        executions, wall = wait_tasks(
            client, ids, [label(item) for item in items], quiet=quiet or json_out
        )
    summary = RunSummary.of(executions, wall, "cluster", max_concurrent=len(items))
    _report(executions, summary, json_out, quiet)
