"""``claude-force worker`` (execute queued runs) and ``claude-force runs list|show|cancel``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from ._common import CliState, emit_json, notice, out_console, state_of
from ._options import JsonOpt, SimulateOpt

if TYPE_CHECKING:
    from ..cluster.client import RunInfo, RunsClient
    from ..cluster.config import Cluster
    from ..config import Project


def _cluster(state: CliState, command: str) -> tuple[Project, Cluster]:
    from ..cluster.config import require_cluster
    from ..config import load_project

    project = load_project(state.config)
    return project, require_cluster(project, command)


def worker(
    ctx: typer.Context,
    concurrency: Annotated[
        int | None,
        typer.Option(
            "--concurrency",
            "-n",
            min=1,
            max=1000,
            help="Runs this worker executes at once (default: cluster.worker_concurrency).",
            show_default=False,
        ),
    ] = None,
    worker_id: Annotated[
        str | None,
        typer.Option(
            "--id",
            help="A stable, unique executor id (default: $CLAUDE_FORCE_WORKER_ID, else "
            "host-pid). A worker restarted with the same id resumes its own runs at once.",
            show_default=False,
        ),
    ] = None,
    simulate: SimulateOpt = False,
) -> None:
    """Execute queued runs (cluster mode) until stopped with Ctrl-C or SIGTERM."""
    import asyncio

    from ..cluster.worker import WorkerOptions, default_worker_id, run_worker

    state = state_of(ctx)
    project, cluster = _cluster(state, "worker")
    opts = WorkerOptions(
        worker_id=worker_id or default_worker_id(),
        concurrency=concurrency or cluster.worker_concurrency,
        simulate=simulate or state.simulate,
        api_key=state.api_key,
    )

    def ready() -> None:
        notice(
            f"worker {opts.worker_id}: executing queued runs, up to {opts.concurrency} at once "
            f"(version {cluster.app_version}); Ctrl-C stops"
        )

    asyncio.run(run_worker(project, cluster, opts, on_ready=ready))
    notice(f"worker {opts.worker_id}: stopped")


# --- runs ----------------------------------------------------------------------------------------

app = typer.Typer(help="List, show and cancel the runs of the cluster.", no_args_is_help=True)


def _client(state: CliState, command: str) -> RunsClient:
    from ..cluster.client import RunsClient

    _, cluster = _cluster(state, command)
    return RunsClient(cluster)


@app.command("list")
def runs_list(
    ctx: typer.Context,
    limit: Annotated[
        int, typer.Option("--limit", min=1, help="At most N runs, newest first.")
    ] = 20,
    status: Annotated[
        str | None,
        typer.Option(
            "--status",
            help="Only runs in this state: ENQUEUED, PENDING, SUCCESS, ERROR or CANCELLED.",
            show_default=False,
        ),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """The newest runs of every worker."""
    with _client(state_of(ctx), "runs list") as client:
        runs = client.list(limit=limit, status=status.upper() if status else None)
    if json_out:
        emit_json({"runs": [r.to_dict() for r in runs]})
        return
    from rich.table import Table

    table = Table(box=None, header_style="bold")
    for col in ("run id", "kind", "name", "status", "outcome", "worker", "created"):
        table.add_column(col)
    for r in runs:
        table.add_row(
            r.run_id,
            r.kind,
            r.label,
            r.status,
            r.outcome or "",
            r.executor or "",
            r.created_at.strftime("%Y-%m-%d %H:%M:%S") if r.created_at else "",
        )
    console = out_console()
    console.print(table) if runs else console.print("no runs")


RunIdArg = Annotated[str, typer.Argument(help="The run id (see 'claude-force runs list').")]


@app.command("show")
def runs_show(
    ctx: typer.Context,
    run_id: RunIdArg,
    json_out: JsonOpt = False,
) -> None:
    """One run: its state, worker, steps and — when finished — its result."""
    with _client(state_of(ctx), "runs show") as client:
        info = client.get(run_id, steps=True)
    data = info.to_dict()
    data["result"] = result_payload(info)
    if json_out:
        emit_json(data)
        return
    console = out_console()
    for key in ("run_id", "kind", "label", "status", "outcome", "executor", "created_at", "error"):
        if data.get(key) is not None:
            console.print(f"{key}: {data[key]}", markup=False, highlight=False)
    for step in info.steps:
        ok = {True: "ok", False: "failed", None: ""}[step.get("success")]
        shown = step.get("step") or step["name"]
        took = f" {step['duration_s']:.2f} s" if "duration_s" in step else ""
        console.print(f"  step {step['n']}: {shown} {ok}{took}", markup=False, highlight=False)
    output = _output_text(info)
    if output:
        console.print(output, markup=False, highlight=False)


@app.command("cancel")
def runs_cancel(
    ctx: typer.Context,
    run_id: RunIdArg,
    json_out: JsonOpt = False,
) -> None:
    """Cancel a queued or running run (a step already calling the model finishes its call)."""
    with _client(state_of(ctx), "runs cancel") as client:
        info = client.cancel(run_id)
    if json_out:
        emit_json(info.to_dict())
    else:
        notice(f"run {run_id}: {info.status}")


def result_payload(info: RunInfo) -> Any:
    """The finished run's result as JSON data (an execution or a workflow result)."""
    from ..runner import Execution
    from ..workflows.result import WorkflowResult
    from ._report import result_dict

    res = info.result
    if isinstance(res, Execution):
        return result_dict(res)
    if isinstance(res, WorkflowResult):
        return res.to_dict()
    return None


def _output_text(info: RunInfo) -> str:
    res = info.result
    text = getattr(res, "output", None)
    return text if isinstance(text, str) else ""
