"""``claude-force run-workflow NAME`` and ``claude-force workflow show|validate``.

``run-workflow`` runs a workflow with the DAG engine: independent steps at the same time (within
``--max-concurrent``), with a live display of each step on stderr. ``run workflow`` (the 2.2
spelling) goes through :func:`drive` too. Module level imports only typer and the standard
library, so ``claude-force --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ._common import (
    CliState,
    echo,
    echo_output,
    emit_json,
    err_console,
    notice,
    state_of,
    to_json,
)
from ._options import (
    JsonOpt,
    NoCacheOpt,
    OutputOpt,
    QuietOpt,
    RefreshOpt,
    SimulateOpt,
    SubmitOpt,
    TaskFileOpt,
    TaskOpt,
)

if TYPE_CHECKING:
    from ..config import Project
    from ..workflows.dag import Step, WorkflowDAG
    from ..workflows.engine import StepEvent
    from ..workflows.result import WorkflowResult
    from ._progress import Status

app = typer.Typer(
    help="Show and validate workflows (run one with 'run-workflow NAME').", no_args_is_help=True
)

NameArg = Annotated[str, typer.Argument(help="Workflow name (see 'claude-force list workflows').")]


# --- run-workflow ---------------------------------------------------------------------------------


def run_workflow(
    ctx: typer.Context,
    name: NameArg,
    task: TaskOpt = None,
    task_file: TaskFileOpt = None,
    parallel: Annotated[
        bool | None,
        typer.Option(
            "--parallel/--sequential",
            help="Run independent steps at the same time, or one step at a time in dependency "
            "order. Default: features.parallel_workflows_enabled (on).",
            show_default=False,
        ),
    ] = None,
    max_concurrent: Annotated[
        int | None,
        typer.Option(
            "--max-concurrent",
            "-j",
            min=1,
            help="At most N steps at once (default: the workflow's max_concurrent, else "
            "performance.max_concurrent_agents).",
            show_default=False,
        ),
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option(
            "--timeout",
            min=0.001,
            help="Workflow deadline in seconds: running steps are cancelled when it passes.",
            show_default=False,
        ),
    ] = None,
    fresh: Annotated[
        bool,
        typer.Option(
            "--fresh", help="Run every step again instead of resuming a failed earlier run."
        ),
    ] = False,
    no_pass_output: Annotated[
        bool,
        typer.Option("--no-pass-output", help="Do not give steps their dependencies' outputs."),
    ] = False,
    no_cache: NoCacheOpt = False,
    refresh: RefreshOpt = False,
    simulate: SimulateOpt = False,
    json_out: JsonOpt = False,
    quiet: QuietOpt = False,
    output: OutputOpt = None,
    submit: SubmitOpt = False,
) -> None:
    """Run workflow NAME on a task; steps start as soon as their dependencies are done.

    Exit 1 if the workflow fails. Re-running a failed workflow with the same task resumes it:
    completed steps are reused from the checkpoint in the state directory (--fresh: run all).
    In cluster mode the run is queued for the workers (durable: a crashed worker's run resumes
    on another); --submit prints its run id and exits, otherwise the command waits.

    \b
    Examples:
      claude-force run-workflow code-quality-check --task "Review the payment module"
      claude-force run-workflow bug-fix --task-file bug.md --max-concurrent 2 --json
    """
    from ._tasks import one_task

    drive(
        state_of(ctx),
        name,
        one_task(task, task_file),
        parallel=parallel,
        max_concurrent=max_concurrent,
        timeout=timeout,
        resume=not fresh,
        pass_outputs=not no_pass_output,
        use_cache=not no_cache,
        refresh=refresh,
        simulate=simulate,
        json_out=json_out,
        quiet=quiet,
        output=output,
        submit=submit,
    )


def drive(
    state: CliState,
    name: str,
    task: str,
    *,
    parallel: bool | None = None,
    max_concurrent: int | None = None,
    timeout: float | None = None,
    resume: bool = True,
    pass_outputs: bool = True,
    use_cache: bool = True,
    refresh: bool = False,
    simulate: bool = False,
    json_out: bool = False,
    quiet: bool = False,
    output: Path | None = None,
    submit: bool = False,
) -> None:
    """Run a workflow for the CLI: live display on stderr, result on stdout, exit code."""
    import asyncio

    from ..config import load_project
    from ..workflows.api import load_workflow
    from ._cluster import cluster_for
    from ._common import open_core
    from ._progress import ProgressView

    project = load_project(state.config)
    dag = load_workflow(project, name)  # a broken workflow exits 2 before anything runs
    cluster = cluster_for(project, submit, "run-workflow")
    if cluster is not None:
        from ..cluster.specs import WorkflowSpec
        from ._cluster import run_workflow_in_cluster

        spec = WorkflowSpec(
            name=name,
            task=task,
            parallel=parallel,
            max_concurrent=max_concurrent,
            timeout_seconds=timeout,
            pass_outputs=pass_outputs,
            use_cache=use_cache,
            refresh=refresh,
        )
        found = run_workflow_in_cluster(
            cluster, spec, dag, submit=submit, json_out=json_out, quiet=quiet
        )
        if found is not None:
            _report_workflow(
                found, dag, found.max_concurrent, json_out=json_out, quiet=quiet, output=output
            )
        return
    core = open_core(state, simulate=simulate, max_concurrent=max_concurrent, project=project)
    bound = max_concurrent or dag.max_concurrent or core.max_concurrent
    # the runner's own bound must not be the tighter one (a workflow's max_concurrent above
    # performance.max_concurrent_agents), or steps shown as running would wait for a slot
    core.allow_concurrency(bound)
    if parallel is None:
        parallel = core.project.settings.features.parallel_workflows_enabled
    view = ProgressView(
        err_console(), [_label(i, s) for i, s in enumerate(dag, 1)], enabled=not quiet
    )
    for row, step in zip(view.board.rows, dag, strict=True):
        if step.depends_on:
            row.detail = "after " + ", ".join(step.depends_on)
    index = {sid: i for i, sid in enumerate(dag.ids)}

    def observe(event: StepEvent) -> None:
        status, detail = _row(event)
        view.board.mark(index[event.step_id], status, detail)

    if not quiet:
        mode = f"parallel, up to {bound} at once" if parallel else "sequential"
        notice(f"{name}: {len(dag)} step{'s' if len(dag) != 1 else ''}, {mode}")

    async def go() -> WorkflowResult:
        try:
            with view:
                return await core.execute_workflow(
                    dag,
                    task,
                    parallel=parallel,
                    max_concurrent=bound,
                    timeout_seconds=timeout,
                    pass_outputs=pass_outputs,
                    checkpoint=True,
                    resume=resume,
                    observer=observe,
                    use_cache=use_cache,
                    refresh=refresh,
                )
        finally:
            await core.close()

    result = asyncio.run(go())
    _report_workflow(result, dag, bound, json_out=json_out, quiet=quiet, output=output)


def _report_workflow(
    result: WorkflowResult,
    dag: WorkflowDAG,
    bound: int,
    *,
    json_out: bool,
    quiet: bool,
    output: Path | None,
) -> None:
    from ._report import RunSummary, markdown_report

    executions = [s.execution for s in result.steps.values() if s.execution is not None]
    summary = RunSummary.of(
        [s.execution for s in result.steps.values() if s.execution is not None and not s.reused],
        result.wall_s,
        "workflow",
        bound,
    )
    payload = result.to_dict()
    payload["metadata"]["summary"] = summary.to_dict()
    reused = result.by_status("reused")
    if reused and not quiet:
        notice(
            f"resumed: {len(reused)} step(s) reused from the checkpoint of an earlier run "
            f"({', '.join(reused)}); --fresh runs every step"
        )
    if output is not None:
        from ._common import write_output_file

        write_output_file(output, to_json(payload) if json_out else markdown_report(executions))
    elif json_out:
        emit_json(payload)
    elif quiet:
        if result.output:
            echo_output(result.output)
    else:
        _print_text(result, dag)
    _report_problems(result)
    if result.status == "failed":
        raise typer.Exit(1)


def _label(position: int, step: Step) -> str:
    who = step.agent if step.id == step.agent else f"{step.id} ({step.agent})"
    return f"step {position}: {who}"


def _row(event: StepEvent) -> tuple[Status, str]:
    if event.status == "running":
        return "running", f"started at {event.at_s:.2f} s"
    if event.status in ("succeeded", "reused"):
        if event.status == "reused":
            return "done", "reused from the checkpoint"
        start = event.at_s - (event.duration_s or 0.0)
        return "done", f"{start:.2f}–{event.at_s:.2f} s ({event.duration_s or 0.0:.2f} s)"
    if event.status == "skipped":
        return "skipped", event.error or ""
    return "failed", event.error or event.status


def _print_text(result: WorkflowResult, dag: WorkflowDAG) -> None:
    from ._common import out_console
    from ._report import print_result

    console = out_console()
    n = len(dag)
    for i, step in enumerate(dag, 1):
        res = result.steps[step.id]
        if res.execution is not None and res.status != "cancelled":
            title = f"{result.workflow_name} step {i}/{n}"
            print_result(console, res.execution, title, markdown=console.is_terminal)
    console.print(summary_line(result), markup=False)


def summary_line(result: WorkflowResult) -> str:
    """One line: status, steps, wall time against the critical path and the sum of step times,
    tokens and cost (labelled SIMULATED when the simulated model answered)."""
    steps = result.steps.values()
    ok = sum(s.ok for s in steps)
    parts = [
        f"workflow {result.workflow_name}: {result.status}",
        f"{len(result.steps)} steps ({ok} ok)",
        f"wall {result.wall_s:.2f} s",
    ]
    if result.critical_path:
        chain = " → ".join(result.critical_path)
        parts.append(f"critical path {result.critical_path_s:.2f} s ({chain})")
    parts.append(f"sum of steps {result.sequential_s:.2f} s")
    if result.parallel and result.speedup is not None:
        parts.append(
            f"{result.speedup:.2f}× faster than one at a time (up to {result.max_concurrent} at once)"
        )
    elif not result.parallel:
        parts.append("sequential")
    t = result.totals
    parts.append(f"{t.tokens:,} tokens ({t.input_tokens:,} in / {t.output_tokens:,} out)")
    simulated = any(s.execution.simulated for s in steps if s.execution is not None)
    if t.cost_usd is None:
        parts.append("cost n/a (unpriced model)")
    else:
        parts.append(f"{'simulated cost' if simulated else 'cost'} ${t.cost_usd:.4f}")
    text = " · ".join(parts)
    return f"SIMULATED — {text}" if simulated else text


def _report_problems(result: WorkflowResult) -> None:
    import sys

    from ..safe_text import safe_line

    for sid, res in result.steps.items():
        if res.status == "failed":
            sys.stderr.write(
                safe_line(f"error: step {sid} ({res.agent}) failed: {res.error}") + "\n"
            )
    if result.status == "failed" and result.error:
        sys.stderr.write(
            safe_line(f"error: workflow {result.workflow_name} failed: {result.error}") + "\n"
        )
    elif result.status == "partial":
        skipped = result.by_status("skipped")
        more = f"; skipped: {', '.join(skipped)}" if skipped else ""
        sys.stderr.write(
            safe_line(
                f"warning: workflow {result.workflow_name} finished with failed steps "
                f"tolerated by on_failure{more}"
            )
            + "\n"
        )
    sys.stderr.flush()


# --- workflow show / validate ---------------------------------------------------------------------


@app.command("show")
def show(
    ctx: typer.Context,
    name: NameArg,
    mermaid: Annotated[
        bool, typer.Option("--mermaid", help="Print only the Mermaid flowchart.")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Show workflow NAME: its stages and dependencies as text, and as a Mermaid flowchart."""
    from ..workflows.api import load_workflow

    dag = load_workflow(_project(state_of(ctx)), name)
    if json_out:
        emit_json(_describe(dag))
    elif mermaid:
        echo(dag.to_mermaid())
    else:
        echo(dag.to_text())
        typer.echo("")
        typer.echo("```mermaid")
        echo(dag.to_mermaid())
        typer.echo("```")


@app.command("validate")
def validate(
    ctx: typer.Context,
    name: Annotated[
        str | None, typer.Argument(help="One workflow (default: all of them).", show_default=False)
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Check workflows: agents exist, dependencies exist, no duplicates, no cycles (exit 2 if not)."""
    from ..errors import ClaudeForceError
    from ..workflows.api import load_workflow

    project = _project(state_of(ctx))
    names = [name] if name is not None else project.workflow_names()
    if name is not None:
        project.workflow(name)  # unknown name: exit 2 with suggestions
    report: dict[str, dict[str, Any]] = {}
    for wf in names:
        try:
            dag = load_workflow(project, wf)
        except ClaudeForceError as exc:
            report[wf] = {"valid": False, "error": exc.one_line()}
            continue
        report[wf] = {
            "valid": True,
            "steps": len(dag),
            "stages": len(dag.stages()),
            "form": "list" if dag.chain else "dag",
        }
    ok = all(r["valid"] for r in report.values())
    if json_out:
        emit_json({"valid": ok, "workflows": report})
    else:
        for wf, r in report.items():
            if r["valid"]:
                echo(f"✓ {wf}: {r['steps']} steps in {r['stages']} stage(s) ({r['form']} form)")
            else:
                echo(f"✗ {wf}")
                notice(f"error: {r['error']}")
        if not report:
            typer.echo("the project defines no workflows")
    if not ok:
        raise typer.Exit(2)


def _project(state: CliState) -> Project:
    """The project; broken workflows are reported by the commands, not warned about."""
    from .validate import load_quietly

    return load_quietly(state)


def _describe(dag: WorkflowDAG) -> dict[str, Any]:
    return {
        "name": dag.name,
        "description": dag.description,
        "form": "list" if dag.chain else "dag",
        "on_failure": dag.on_failure,
        "max_concurrent": dag.max_concurrent,
        "timeout_seconds": dag.timeout_seconds,
        "context_budget_chars": dag.context_budget_chars,
        "steps": [
            {
                "id": s.id,
                "agent": s.agent,
                "depends_on": list(s.depends_on),
                "task": s.task,
                "model": s.model,
                "max_tokens": s.max_tokens,
                "timeout_seconds": s.timeout_seconds,
                "on_failure": s.on_failure,
            }
            for s in dag
        ],
        "stages": dag.stages(),
        "topological_order": dag.topological_order(),
        "mermaid": dag.to_mermaid(),
    }
