"""The durable runs a worker executes: DBOS workflows whose steps are DBOS steps.

A queued *task* is a workflow of one step (the agent call). A queued *workflow* runs the
project's DAG with the ordinary :class:`~claude_force.workflows.engine.WorkflowEngine` — the
scheduler's rules are untouched — through :class:`DurableExecutor`, which makes every step a
DBOS step, and with ``DBOS.asyncio_wait`` as the engine's wait, which checkpoints the order in
which running steps finished. DBOS numbers a workflow's operations in the order they start, so
a recovered run must start steps in the same order as the first attempt: with the checkpointed
wait it does, and a step that had finished returns its recorded :class:`Execution` without
calling the model again.

Importing this module registers the workflows with DBOS (decorators), which must happen before
``DBOS.launch()``; :func:`install` gives them the worker's orchestrator. A module-level slot is
used because DBOS workflow functions are looked up by name and called with their pickled
arguments only: they cannot be handed an object at call time.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from dbos import DBOS

from ..runner import Execution, RunOptions
from ..workflows.api import load_workflow
from ..workflows.engine import StepCall, WorkflowEngine
from ..workflows.executor import OrchestratorExecutor
from .specs import AGENT_STEP, DAG_WORKFLOW, TASK_WORKFLOW, TaskSpec, WorkflowSpec, execution_id_for

if TYPE_CHECKING:
    from ..async_orchestrator import AsyncAgentOrchestrator
    from ..workflows.result import WorkflowResult

# The model call inside a step is at-least-once: DBOS must not retry it on its own (our retry
# layer already decided), and a re-run after a crash is the only repeat.
_STEP_OPTIONS: Any = {"name": AGENT_STEP, "retries_allowed": False}


@dataclass
class Runtime:
    """What the durable functions run with, in one worker process."""

    orchestrator: AsyncAgentOrchestrator


_runtime: Runtime | None = None


def install(runtime: Runtime | None) -> None:
    """Give the registered workflows the worker's orchestrator (``None``: uninstall)."""
    global _runtime
    _runtime = runtime


def runtime() -> Runtime:
    if _runtime is None:
        raise RuntimeError("claude-force durable runs need a worker runtime (cluster.worker)")
    return _runtime


async def _agent_call(agent: str, task: str, options: RunOptions) -> Execution:
    """The body of a durable step: one agent execution through the whole pipeline. Its metrics
    are written before the step is checkpointed (the metrics writer batches otherwise): a
    worker killed after the checkpoint has lost nothing, one killed before re-runs the step,
    whose rows replace these (same execution id)."""
    orchestrator = runtime().orchestrator
    ex = await orchestrator.execute(agent, task, options)
    if orchestrator.metrics is not None:
        await orchestrator.metrics.aflush()
    return ex


async def run_agent_step(agent: str, task: str, options: RunOptions) -> Execution:
    """Run one agent execution as a DBOS step of the current workflow (checkpointed)."""
    result: Execution = await DBOS.run_step_async(_STEP_OPTIONS, _agent_call, agent, task, options)
    return result


@DBOS.workflow(name=TASK_WORKFLOW)
async def task_run(spec: TaskSpec) -> Execution:
    """A queued task: one durable step."""
    run_id = DBOS.workflow_id or ""
    options = RunOptions(
        model=spec.model,
        max_tokens=spec.max_tokens,
        temperature=spec.temperature,
        use_cache=spec.use_cache,
        refresh=spec.refresh,
        context=getattr(spec, "context", None),  # specs queued by an older submitter lack them
        use_memory=getattr(spec, "use_memory", True),
        workflow_run_id=run_id,
        step_id="task",
        execution_id=execution_id_for(run_id, "task"),
    )
    return await run_agent_step(spec.agent, spec.task, options)


class DurableExecutor(OrchestratorExecutor):
    """A workflow step is a DBOS step; its execution id is fixed by (run id, step id)."""

    async def run_step(self, call: StepCall) -> Execution:
        options = replace(
            self.options_for(call), execution_id=execution_id_for(call.run_id, call.step.id)
        )
        # No await before the DBOS step starts: steps must draw their checkpoint numbers in
        # the order the engine launched them.
        return await run_agent_step(call.step.agent, call.task, options)


@DBOS.workflow(name=DAG_WORKFLOW)
async def workflow_run(spec: WorkflowSpec) -> WorkflowResult:
    """A queued workflow: the project's DAG, every step durable."""
    orch = runtime().orchestrator
    dag = load_workflow(orch.project, spec.name)
    parallel = spec.parallel
    if parallel is None:
        parallel = orch.project.settings.features.parallel_workflows_enabled
    bound = spec.max_concurrent or dag.max_concurrent or orch.max_concurrent
    if parallel:
        orch.allow_concurrency(bound)
    engine = WorkflowEngine(
        DurableExecutor(orch, use_cache=spec.use_cache, refresh=spec.refresh),
        wait=DBOS.asyncio_wait,
    )
    return await engine.run(
        dag,
        spec.task,
        max_concurrent=bound,
        sequential=not parallel,
        timeout_seconds=spec.timeout_seconds,
        pass_outputs=spec.pass_outputs,
        run_id=DBOS.workflow_id,
    )
