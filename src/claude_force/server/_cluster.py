"""The server's run endpoints in cluster mode: the run is queued for the workers (durable) and
the request waits for its result, so the API answers exactly as in embedded mode."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from ..runner import Execution
from ..workflows.result import WorkflowResult

if TYPE_CHECKING:
    from ..config import Project
    from .schemas import ExecuteRequest, WorkflowRunRequest

WORKFLOW_WAIT_S = 3600.0


async def execute_in_cluster(project: Project, body: ExecuteRequest, timeout_s: float) -> Execution:
    from ..cluster.client import run_and_wait
    from ..cluster.config import require_cluster
    from ..cluster.specs import TaskSpec

    cluster = require_cluster(project, "POST /api/v1/execute")
    spec = TaskSpec(
        agent=body.agent,
        task=body.task,
        model=body.model,
        max_tokens=body.max_tokens,
        temperature=body.temperature,
        use_cache=body.use_cache,
        refresh=body.refresh,
        context=body.context,
        use_memory=body.use_memory,
    )
    info = await asyncio.to_thread(run_and_wait, cluster, spec, timeout_s + 60)
    assert isinstance(info.result, Execution)
    return info.result


async def workflow_in_cluster(
    project: Project, name: str, body: WorkflowRunRequest
) -> WorkflowResult:
    from ..cluster.client import run_and_wait
    from ..cluster.config import require_cluster
    from ..cluster.specs import WorkflowSpec

    cluster = require_cluster(project, f"POST /api/v1/workflows/{name}/run")
    spec = WorkflowSpec(name=name, task=body.task, **body.run_options())
    wait = (body.timeout_seconds or WORKFLOW_WAIT_S) + 60
    info = await asyncio.to_thread(run_and_wait, cluster, spec, wait)
    assert isinstance(info.result, WorkflowResult)
    return info.result
