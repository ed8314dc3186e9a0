"""The CLI's cluster path: enqueue runs, print their ids (``--submit``) or wait for them with the
same progress board as an embedded run."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ._common import emit_json, err_console, notice

if TYPE_CHECKING:
    from ..cluster.client import RunInfo, RunsClient
    from ..cluster.config import Cluster
    from ..cluster.specs import WorkflowSpec
    from ..config import Project
    from ..runner import Execution, RunOptions
    from ..workflows.dag import WorkflowDAG
    from ..workflows.result import WorkflowResult
    from ._progress import TaskBoard
    from ._tasks import TaskItem


def cluster_for(project: Project, submit: bool, command: str) -> Cluster | None:
    """The project's cluster; ``--submit`` without one is a configuration error (exit 2)."""
    from ..cluster.config import cluster_of, require_cluster, require_extra

    if submit:
        return require_cluster(project, f"{command} --submit")
    cluster = cluster_of(project)
    if cluster is not None:
        require_extra()
    return cluster


def submit_tasks(
    cluster: Cluster, items: Sequence[TaskItem], options: RunOptions
) -> tuple[RunsClient, list[str]]:
    from ..cluster.client import RunsClient
    from ..cluster.specs import TaskSpec

    client = RunsClient(cluster)
    ids = [
        client.submit_task(
            TaskSpec(
                agent=item.agent,
                task=item.task,
                model=options.model,
                max_tokens=options.max_tokens,
                temperature=options.temperature,
                use_cache=options.use_cache,
                refresh=options.refresh,
            )
        )
        for item in items
    ]
    return client, ids


def print_submitted(ids: Sequence[str], json_out: bool) -> None:
    if json_out:
        emit_json({"runs": list(ids)})
        return
    for rid in ids:
        print(rid, flush=True)
    notice(
        f"submitted {len(ids)} run(s); see 'claude-force runs show ID' "
        "(a worker executes them: 'claude-force worker')"
    )


def wait_tasks(
    client: RunsClient, ids: Sequence[str], labels: list[str], *, quiet: bool
) -> tuple[list[Execution], float]:
    """Wait for the runs with a progress board; their executions in submission order."""
    from ..errors import RunError
    from ._progress import ProgressView

    view = ProgressView(err_console(), labels, enabled=not quiet)
    t0 = time.perf_counter()
    with view:
        infos = client.wait(ids, on_update=lambda got: _update(view.board, ids, got))
    wall = time.perf_counter() - t0
    executions: list[Execution] = []
    for rid in ids:
        info = infos[rid]
        ex = _execution(info)
        if ex is None:
            raise RunError(f"run {rid} ended {info.status} without a result: {info.error or ''}")
        executions.append(ex)
    return executions, wall


def _execution(info: RunInfo) -> Execution | None:
    from ..runner import Execution

    return info.result if isinstance(info.result, Execution) else None


def _update(board: TaskBoard, ids: Sequence[str], infos: dict[str, RunInfo]) -> None:
    for index, rid in enumerate(ids):
        info = infos.get(rid)
        row = board.rows[index]
        if info is None or row.status in ("done", "failed"):
            continue
        ex = _execution(info)
        if ex is not None:
            board.finish(index, ex)
        elif info.finished:
            board.mark(index, "failed", info.status)
        elif info.status == "PENDING" and row.status != "running":
            board.mark(index, "running", f"on {info.executor}")


def run_workflow_in_cluster(
    cluster: Cluster,
    spec: WorkflowSpec,
    dag: WorkflowDAG,
    *,
    submit: bool,
    json_out: bool,
    quiet: bool,
) -> WorkflowResult | None:
    """Queue a workflow run; ``None`` after printing its id (``--submit``), else its result."""
    from ..cluster.client import RunsClient
    from ..errors import RunError
    from ..workflows.result import WorkflowResult
    from ._progress import ProgressView

    with RunsClient(cluster) as client:
        rid = client.submit_workflow(spec)
        if submit:
            print_submitted([rid], json_out)
            return None
        if not quiet and not json_out:
            notice(f"{spec.name}: queued as run {rid}; waiting for a worker")
        view = ProgressView(
            err_console(), [f"step {i}: {s.id}" for i, s in enumerate(dag, 1)], enabled=not quiet
        )
        index = {sid: i for i, sid in enumerate(dag.ids)}

        def update(infos: dict[str, RunInfo]) -> None:
            info = infos.get(rid)
            if info is None or info.finished:
                return
            for step in client.get(rid, steps=True).steps:
                at = index.get(step.get("step") or "")
                if at is not None and view.board.rows[at].status not in ("done", "failed"):
                    ok = step.get("success")
                    view.board.mark(at, "done" if ok else "failed", step.get("agent") or "")

        with view:
            info = client.wait([rid], poll_s=0.25, on_update=update)[rid]
    if not isinstance(info.result, WorkflowResult):
        raise RunError(f"run {rid} ended {info.status} without a result: {info.error or ''}")
    return info.result
