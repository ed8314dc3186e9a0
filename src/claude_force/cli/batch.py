"""``claude-force batch submit|status|results|list|cancel``: batch mode at half the price.

Jobs are kept under the state directory (``batches/``); a job may span several provider batches
(at most 100,000 requests / 256 MB each). Without an API key (or with ``--simulate``) batches run
on the SIMULATED model, labelled as such.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from ._common import CliState, emit_json, notice, out_console, state_of, write_output_file
from ._options import JsonOpt, SimulateOpt, TasksFileOpt

if TYPE_CHECKING:
    from ..batch import BatchJob, BatchService, ItemResult, JobStatus
    from ..engine import AgentEngine

T = TypeVar("T")

app = typer.Typer(
    help="Run many tasks through the Message Batches API (50% cheaper, answers within 24 h).",
    no_args_is_help=True,
)

IdArg = Annotated[str, typer.Argument(help="Batch job id (cfb_…) or provider batch id.")]
TimeoutOpt = Annotated[
    float | None,
    typer.Option("--timeout", min=0, help="With --wait: give up after this many seconds."),
]
PollOpt = Annotated[
    float,
    typer.Option("--poll-interval", min=0.01, help="With --wait: first pause between checks (s)."),
]


def _run(
    state: CliState,
    *,
    job_id: str | None,
    simulate: bool,
    auto_model: bool = False,
    poll_s: float = 5.0,
    tracking: bool = True,
    action: Callable[[BatchService], Awaitable[T]],
) -> T:
    """Build the core, the backend (the job's, for an existing job) and the service; run."""
    import asyncio

    from ..batch import BatchService, JobStore, PollPolicy, backend_for, wants_simulation
    from ..config import load_project

    project = load_project(state.config)
    jobs = JobStore(project.state_dir / "batches")
    base_url: str | None = None
    if job_id is not None:
        job = asyncio.run(jobs.load(job_id))
        simulated, base_url = job.simulated, job.base_url
    else:
        simulated = wants_simulation(
            state.api_key, True if simulate or state.simulate else None, project
        )
    core = _core(state, project, simulated=simulated, auto_model=auto_model, tracking=tracking)
    backend = backend_for(project, api_key=state.api_key, simulated=simulated, base_url=base_url)
    service = BatchService(
        core, backend, jobs, poll=PollPolicy(initial_s=poll_s, max_s=max(60.0, poll_s))
    )

    async def go() -> T:
        try:
            return await action(service)
        finally:
            await backend.aclose()
            await core.close()

    return asyncio.run(go())


def _core(
    state: CliState, project: Any, *, simulated: bool, auto_model: bool, tracking: bool
) -> AgentEngine:
    from ._common import open_core

    return open_core(
        state,
        simulate=simulated,
        routing=auto_model,
        tracking=tracking,
        memory=False,
        project=project,
    )


@app.command("submit")
def submit(
    ctx: typer.Context,
    agent: Annotated[str, typer.Argument(help="Agent name (JSON Lines entries may name others).")],
    tasks: Annotated[
        list[str] | None, typer.Argument(help="Task texts.", metavar="[TASK]...")
    ] = None,
    tasks_file: TasksFileOpt = None,
    model: Annotated[
        str | None, typer.Option("--model", "-m", help="Model for every task.")
    ] = None,
    auto_model: Annotated[
        bool, typer.Option("--auto-model", help="Let the router choose each task's model.")
    ] = False,
    max_tokens: Annotated[int, typer.Option("--max-tokens", min=1)] = 4096,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Do not answer tasks from the response cache.")
    ] = False,
    wait: Annotated[
        bool, typer.Option("--wait", help="Wait for the results and print them.")
    ] = False,
    timeout: TimeoutOpt = None,
    poll_interval: PollOpt = 5.0,
    simulate: SimulateOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Submit AGENT's tasks as one batch job (split when over the API's limits)."""
    from ..batch import BatchTask
    from ._tasks import collect

    items = collect(agent, tasks or [], None, tasks_file)
    work = [BatchTask(i.agent, i.task, i.source) for i in items]

    async def action(service: BatchService) -> tuple[BatchJob, Any]:
        job = await service.submit(
            work, model=model, max_tokens=max_tokens, auto_model=auto_model, use_cache=not no_cache
        )
        if not wait:
            return job, None
        await service.wait(job.id, timeout_s=timeout)
        return job, await service.results(job.id)

    job, results = _run(
        state_of(ctx), job_id=None, simulate=simulate, auto_model=auto_model,
        poll_s=poll_interval, action=action,
    )  # fmt: skip
    if results is not None:
        _print_results(job.id, results, json_out=json_out, simulated=job.simulated)
        return
    summary = _job_summary(job)
    if json_out:
        emit_json(summary)
        return
    label = "SIMULATED — " if job.simulated else ""
    notice(
        f"{label}submitted batch job {job.id}: {summary['requests_submitted']} request(s) in "
        f"{len(job.batch_ids)} batch(es); {summary['answered_from_cache']} answered from the "
        f"response cache; {summary['refused_by_budget']} refused by the cost threshold"
    )
    typer.echo(job.id)


def _job_summary(job: BatchJob) -> dict[str, Any]:
    return {
        "id": job.id,
        "backend": job.backend,
        "simulated": job.simulated,
        "created_at": job.created_at,
        "batch_ids": job.batch_ids,
        "requests": len(job.items),
        "requests_submitted": sum(1 for i in job.items if i.batch_id),
        "answered_from_cache": len(job.cached),
        "refused_by_budget": sum(1 for i in job.items if i.refused),
        "items": [
            {"custom_id": i.custom_id, "agent": i.agent, "model": i.model, "source": i.source}
            for i in job.items
        ],
    }


@app.command("status")
def status(
    ctx: typer.Context,
    job_id: IdArg,
    wait: Annotated[bool, typer.Option("--wait", help="Poll until the job ended.")] = False,
    timeout: TimeoutOpt = None,
    poll_interval: PollOpt = 5.0,
    json_out: JsonOpt = False,
) -> None:
    """Processing status and request counts of a batch job."""

    async def action(service: BatchService) -> JobStatus:
        if wait:
            return await service.wait(job_id, timeout_s=timeout)
        return await service.status(job_id)

    st = _run(
        state_of(ctx), job_id=job_id, simulate=False, poll_s=poll_interval, tracking=False,
        action=action,
    )  # fmt: skip
    if json_out:
        emit_json(st.to_dict())
        return
    c = st.counts
    label = "SIMULATED — " if st.simulated else ""
    out_console().print(
        f"{label}{st.job_id}: {st.processing_status} · {c['processing']} processing, "
        f"{c['succeeded']} succeeded, {c['errored']} errored, {c['canceled']} canceled, "
        f"{c['expired']} expired · {st.cached} from cache · {st.refused} refused · "
        f"{len(st.batches)} batch(es)",
        markup=False,
        highlight=False,
    )


@app.command("results")
def results(
    ctx: typer.Context,
    job_id: IdArg,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the JSON results to this file.")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Results of an ended batch job, mapped back to agents, at the batch price. Exit 1 if any failed."""

    async def action(service: BatchService) -> tuple[bool, list[ItemResult]]:
        job = await service.jobs.load(job_id)
        return job.simulated, await service.results(job_id)

    simulated, items = _run(state_of(ctx), job_id=job_id, simulate=False, action=action)
    if output is not None:
        from ._common import to_json

        write_output_file(output, to_json(_results_doc(job_id, items, simulated)))
    _print_results(job_id, items, json_out=json_out, simulated=simulated, echo=output is None)


def _results_doc(job_id: str, items: list[ItemResult], simulated: bool) -> dict[str, Any]:
    from decimal import Decimal

    costs = [r.cost_usd for r in items if r.cost_usd is not None]
    saved = [r.saved_usd for r in items if r.saved_usd is not None]
    return {
        "id": job_id,
        "simulated": simulated,
        "results": [r.to_dict() for r in items],
        "summary": {
            "requests": len(items),
            "succeeded": sum(r.status == "succeeded" for r in items),
            "cached": sum(r.status == "cached" for r in items),
            "failed": sum(not r.success for r in items),
            "cost_usd": float(sum(costs, Decimal(0))),
            "saved_usd": float(sum(saved, Decimal(0))),
        },
    }


def _print_results(
    job_id: str, items: list[ItemResult], *, json_out: bool, simulated: bool, echo: bool = True
) -> None:
    doc = _results_doc(job_id, items, simulated)
    failed = doc["summary"]["failed"]
    if json_out and echo:
        emit_json(doc)
    elif echo:
        from rich.rule import Rule
        from rich.text import Text

        console = out_console()
        for r in items:
            cost = "" if r.cost_usd is None else f" · ${r.cost_usd:.6f}"
            head = f"{r.custom_id} · {r.agent} · {r.model} · {r.status}{cost}"
            console.print(Rule(Text(head + (" · SIMULATED" if r.simulated else "")), align="left"))
            if r.success:
                console.print(Text(r.output), soft_wrap=True)
            else:
                console.print(Text(f"FAILED: {r.error}", style="red"))
            console.print()
        s = doc["summary"]
        line = (
            f"{s['requests']} result(s): {s['succeeded']} succeeded, {s['cached']} from cache, "
            f"{failed} failed · cost ${s['cost_usd']:.6f} at the batch price "
            f"(saved ${s['saved_usd']:.6f})"
        )
        console.print(("SIMULATED — " if simulated else "") + line, markup=False, highlight=False)
    if failed:
        raise typer.Exit(1)


@app.command("list")
def list_jobs(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """Batch jobs of this project (newest last)."""
    import asyncio

    from ..batch import JobStore
    from ..config import load_project

    project = load_project(state_of(ctx).config, check_files=False)
    jobs = asyncio.run(JobStore(project.state_dir / "batches").list_jobs())
    if json_out:
        emit_json({"jobs": [_job_summary(j) for j in jobs]})
        return
    if not jobs:
        notice("no batch jobs yet: 'claude-force batch submit AGENT --tasks-file FILE'")
        return
    from rich.table import Table

    table = Table(title="Batch jobs", title_justify="left")
    for col in ("id", "created (UTC)", "backend", "requests", "batches", "from cache"):
        table.add_column(col, no_wrap=True)
    for j in jobs:
        table.add_row(
            j.id,
            j.created_at[:19].replace("T", " "),
            "SIMULATED" if j.simulated else j.backend,
            str(len(j.items)),
            str(len(j.batch_ids)),
            str(len(j.cached)),
        )
    out_console().print(table)


@app.command("cancel")
def cancel(ctx: typer.Context, job_id: IdArg, json_out: JsonOpt = False) -> None:
    """Ask the provider to cancel a job's batches (requests not yet processed end 'canceled')."""

    async def action(service: BatchService) -> JobStatus:
        return await service.cancel(job_id)

    st = _run(state_of(ctx), job_id=job_id, simulate=False, tracking=False, action=action)
    if json_out:
        emit_json(st.to_dict())
        return
    notice(f"{st.job_id}: {st.processing_status}")
