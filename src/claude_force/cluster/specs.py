"""What a submitter puts on the queue: the arguments of one durable run (pickled by DBOS).

Plain frozen dataclasses of the standard library, so a worker of the same version reads them
back exactly; the run id (the DBOS workflow id) is chosen by the submitter.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Literal

TASK_WORKFLOW = "claude_force.task"
DAG_WORKFLOW = "claude_force.workflow"
AGENT_STEP = "claude_force.agent"

RunKind = Literal["task", "workflow"]


@dataclass(frozen=True, slots=True)
class TaskSpec:
    """One agent on one task (``execute … --submit``)."""

    agent: str
    task: str
    model: str | None = None
    max_tokens: int = 4096
    temperature: float | None = None
    use_cache: bool = True
    refresh: bool = False
    context: str | None = None
    use_memory: bool = True


@dataclass(frozen=True, slots=True)
class WorkflowSpec:
    """One run of a project workflow (``run-workflow … --submit``)."""

    name: str
    task: str
    parallel: bool | None = None
    max_concurrent: int | None = None
    timeout_seconds: float | None = None
    pass_outputs: bool = True
    use_cache: bool = True
    refresh: bool = False


def new_run_id() -> str:
    """A run id users see and type (``runs show ID``): ``run-`` and 20 hex digits."""
    return "run-" + uuid.uuid4().hex[:20]


def execution_id_for(run_id: str, step_id: str) -> str:
    """The fixed execution id of one step of a durable run: the same on every re-run of the
    step, so the metrics and memory it records are stored once."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"claude-force:{run_id}/{step_id}").hex
