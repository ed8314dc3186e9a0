"""Workflows of a project: load and validate them, and run them with a step runner (the engine)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypedDict

from ..config import Project
from .checkpoint import CheckpointStore
from .dag import WorkflowDAG
from .engine import Observer, WorkflowEngine
from .executor import OrchestratorExecutor, StepRunner
from .result import WorkflowResult


def load_workflow(project: Project, name: str) -> WorkflowDAG:
    """The project's workflow ``name`` (either form) as a validated :class:`WorkflowDAG`.

    Raises :class:`~claude_force.errors.UnknownWorkflowError` (with suggestions) for an unknown
    name, and a configuration error naming file, key and line for a malformed workflow.
    """
    entry = project.workflow(name)
    dag = WorkflowDAG.from_config(name, entry, file=project.config_path, text=project.text)
    return dag.validate(project.agent_names)


def validate_workflows(project: Project, names: Iterable[str] | None = None) -> list[WorkflowDAG]:
    """Validate the named workflows (default: all); raises on the first problem."""
    chosen = list(project.settings.workflows) if names is None else list(names)
    return [load_workflow(project, n) for n in chosen]


def checkpoint_store(project: Project) -> CheckpointStore:
    """Where a project's run checkpoints live: ``<state dir>/workflows``."""
    return CheckpointStore(project.state_dir / "workflows")


class WorkflowOptions(TypedDict, total=False):
    """The options of :func:`execute_workflow` that the engine and the faces pass through."""

    parallel: bool | None
    max_concurrent: int | None
    timeout_seconds: float | None
    pass_outputs: bool
    checkpoint: bool
    resume: bool
    observer: Observer | None
    use_cache: bool
    refresh: bool


async def execute_workflow(
    orchestrator: StepRunner,
    workflow: str | WorkflowDAG,
    task: str,
    *,
    parallel: bool | None = None,
    max_concurrent: int | None = None,
    timeout_seconds: float | None = None,
    pass_outputs: bool = True,
    checkpoint: bool = False,
    resume: bool = False,
    observer: Observer | None = None,
    use_cache: bool = True,
    refresh: bool = False,
    run_id: str | None = None,
) -> WorkflowResult:
    """Run a workflow of the orchestrator's project (by name) or a :class:`WorkflowDAG`.

    ``parallel=None`` follows the ``features.parallel_workflows_enabled`` flag; ``False`` runs
    one step at a time in topological order. The bound is ``max_concurrent``, else the
    workflow's own ``max_concurrent``, else the orchestrator's; a bound above the orchestrator's
    ``max_concurrent`` raises the orchestrator's (as the CLI does). ``checkpoint`` records
    completed steps in the state directory; ``resume`` (implies ``checkpoint``) reuses the steps
    a previous run of the same workflow and task completed.
    """
    project = orchestrator.project
    if isinstance(workflow, WorkflowDAG):
        dag = workflow.validate(project.agent_names)
    else:
        dag = load_workflow(project, workflow)
    if parallel is None:
        parallel = project.settings.features.parallel_workflows_enabled
    bound = max_concurrent or dag.max_concurrent or orchestrator.max_concurrent
    if parallel:  # the orchestrator's own bound must not be the tighter one
        orchestrator.allow_concurrency(bound)
    engine = WorkflowEngine(
        OrchestratorExecutor(orchestrator, use_cache=use_cache, refresh=refresh),
        checkpoints=checkpoint_store(project) if (checkpoint or resume) else None,
        observer=observer,
    )
    return await engine.run(
        dag,
        task,
        max_concurrent=bound,
        sequential=not parallel,
        timeout_seconds=timeout_seconds,
        pass_outputs=pass_outputs,
        resume=resume,
        run_id=run_id,
    )
