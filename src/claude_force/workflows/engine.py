"""The workflow engine: drives a :class:`Scheduler` with real tasks (the I/O side).

Each ready step starts at once as its own asyncio task, up to ``max_concurrent``; the engine
waits for the first to finish, tells the scheduler, and starts whatever became ready. Where a
step *runs* is behind the :class:`StepExecutor` seam (in-process through the orchestrator by
default; a distributed executor can plug in without touching scheduling).

Guarantees: a step starts only after all of its dependencies finished; when the run fails
(``on_failure: fail`` or the workflow deadline) every running step is cancelled *and awaited*
before :meth:`WorkflowEngine.run` returns, so nothing keeps running or billing; if the caller
cancels the run, the same happens before the cancellation propagates.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from ..runner import Execution
from ..telemetry import tracing
from . import _context, _template
from .checkpoint import CheckpointStore, RunCheckpoint, StepRecord, fingerprint
from .dag import Step, WorkflowDAG
from .errors import StepTimeoutError, WorkflowTimeoutError
from .result import RunStatus, StepResult, Totals, WorkflowResult
from .scheduler import Scheduler

log = logging.getLogger(__name__)

EventStatus = Literal["running", "succeeded", "failed", "skipped", "cancelled", "reused"]


@dataclass(frozen=True, slots=True)
class StepCall:
    """Everything an executor needs to run one step."""

    workflow: str
    run_id: str
    step: Step
    position: int  # the step's index in definition order
    task: str  # what the agent is asked: the workflow task, or the step's rendered template
    context: str | None  # the labelled outputs of its dependencies (None: none, or a template)


class StepExecutor(Protocol):
    """Where a step runs. ``run_step`` returns a failed :class:`Execution` rather than raising."""

    async def run_step(self, call: StepCall) -> Execution: ...

    async def identity(self, step: Step) -> str:
        """A digest of what decides the agent's behaviour (definition, model): for checkpoints."""
        ...


@dataclass(frozen=True, slots=True)
class StepEvent:
    """A step changed state (for live displays). ``at_s``: seconds since the run started."""

    run_id: str
    workflow: str
    step_id: str
    agent: str
    status: EventStatus
    at_s: float
    duration_s: float | None = None
    error: str | None = None


Observer = Callable[[StepEvent], None]
# ``asyncio.wait``'s shape (FIRST_COMPLETED with a timeout). A durable executor passes a
# checkpointed wait (DBOS.asyncio_wait) so that a recovered run sees the same completion order.
WaitFn = Callable[..., Awaitable[tuple[set[Any], set[Any]]]]


class WorkflowEngine:
    """Runs :class:`WorkflowDAG` objects through a :class:`StepExecutor`."""

    def __init__(
        self,
        executor: StepExecutor,
        *,
        checkpoints: CheckpointStore | None = None,
        observer: Observer | None = None,
        clock: Callable[[], float] = time.perf_counter,
        wait: WaitFn = asyncio.wait,
    ) -> None:
        self.executor = executor
        self.checkpoints = checkpoints
        self.observer = observer
        self.clock = clock
        self.wait = wait

    async def run(
        self,
        dag: WorkflowDAG,
        task: str,
        *,
        max_concurrent: int | None = None,
        sequential: bool = False,
        timeout_seconds: float | None = None,
        pass_outputs: bool = True,
        resume: bool = False,
        run_id: str | None = None,
    ) -> WorkflowResult:
        """Run ``dag`` on ``task``.

        ``max_concurrent``: the bound on running steps (default: the DAG's, else 10);
        ``sequential``: one step at a time in topological order; ``timeout_seconds``: the
        workflow deadline (default: the DAG's); ``pass_outputs``: give dependents their
        dependencies' outputs; ``resume``: reuse matching steps from this (workflow, task)'s
        checkpoint (needs ``checkpoints``).
        """
        dag.validate()
        bound = 1 if sequential else (max_concurrent or dag.max_concurrent or 10)
        run = _Run(
            self,
            dag,
            task,
            Scheduler(dag, bound),
            run_id or uuid.uuid4().hex,
            timeout_seconds if timeout_seconds is not None else dag.timeout_seconds,
            pass_outputs,
        )
        if self.checkpoints is not None:
            variant = "outputs" if pass_outputs else "no-outputs"
            run.checkpoint = await self.checkpoints.open(dag.name, task, variant, resume=resume)
        with tracing.workflow_span(dag.name, run.run_id) as span:
            result = await run.drive()
            tracing.finish_workflow(span, result)
            return result


class _Run:
    """The mutable state of one run."""

    def __init__(
        self,
        engine: WorkflowEngine,
        dag: WorkflowDAG,
        task: str,
        sched: Scheduler,
        run_id: str,
        timeout_s: float | None,
        pass_outputs: bool,
    ) -> None:
        self.engine = engine
        self.dag = dag
        self.task = task
        self.sched = sched
        self.run_id = run_id
        self.timeout_s = timeout_s
        self.pass_outputs = pass_outputs
        self.checkpoint: RunCheckpoint | None = None
        self.results: dict[str, StepResult] = {}
        self.started: dict[str, float] = {}
        self.running: dict[asyncio.Task[StepResult], str] = {}
        self.position = {s: i for i, s in enumerate(dag.ids)}
        self.fatal: Exception | None = None
        self.t0 = 0.0

    def now(self) -> float:
        return self.engine.clock() - self.t0

    def emit(
        self,
        sid: str,
        status: EventStatus,
        *,
        duration_s: float | None = None,
        error: str | None = None,
    ) -> None:
        obs = self.engine.observer
        if obs is None:
            return
        agent = self.dag.step(sid).agent
        event = StepEvent(
            self.run_id, self.dag.name, sid, agent, status, self.now(), duration_s, error
        )
        try:
            obs(event)
        except Exception:  # a broken display must never fail a run
            log.exception("workflow observer %r failed", obs)

    # --- driving ---------------------------------------------------------------------------------

    async def drive(self) -> WorkflowResult:
        loop = asyncio.get_running_loop()
        self.t0 = self.engine.clock()
        end_at = None if self.timeout_s is None else loop.time() + self.timeout_s
        try:
            while True:
                for sid in self.sched.take_ready():
                    self.launch(sid)
                if not self.running:
                    break
                remaining = None if end_at is None else max(0.0, end_at - loop.time())
                done, _ = await self.engine.wait(
                    list(self.running), timeout=remaining, return_when=asyncio.FIRST_COMPLETED
                )
                if not done:
                    assert self.timeout_s is not None
                    self.fatal = WorkflowTimeoutError(self.dag.name, self.timeout_s)
                    self.skip(self.sched.abort(str(self.fatal)))
                    await self.cancel_running(str(self.fatal))
                    break
                for t in sorted(done, key=lambda t: self.position[self.running[t]]):
                    sid = self.running.pop(t)
                    self.record(sid, t.result())
                if self.fatal is not None:
                    await self.cancel_running(f"cancelled: {self.fatal}")
                    break
        except BaseException:
            # Cancelled from outside (or a bug): stop every step before letting it propagate.
            await self.cancel_running("cancelled: the workflow run was cancelled")
            raise
        return await self.finish()

    def record(self, sid: str, res: StepResult) -> None:
        self.results[sid] = res
        self.emit(sid, res.status, duration_s=res.duration_s, error=res.error)
        decision = self.sched.finish(sid, res.ok)
        self.skip(decision.skipped)
        if decision.abort and self.fatal is None:
            self.fatal = _StepFailed(sid, res.error or "failed", res.error_type)

    def skip(self, ids: tuple[str, ...]) -> None:
        for s in ids:
            self.emit(s, "skipped", error=self.sched.skip_reason.get(s))

    def launch(self, sid: str) -> None:
        self.started[sid] = self.now()
        task = asyncio.create_task(self.run_step(sid), name=f"workflow:{self.dag.name}:{sid}")
        self.running[task] = sid

    async def cancel_running(self, reason: str) -> None:
        """Cancel every running step and wait until each has really stopped."""
        if not self.running:
            return
        tasks = list(self.running)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for t in tasks:
            sid = self.running.pop(t)
            if t.cancelled() or t.exception() is not None:
                self.sched.cancelled(sid)
                step = self.dag.step(sid)
                self.results[sid] = StepResult(
                    sid,
                    step.agent,
                    "cancelled",
                    step.depends_on,
                    start_offset_s=self.started.get(sid),
                    end_offset_s=self.now(),
                    error=reason,
                    error_type="Cancelled",
                )
                self.emit(sid, "cancelled", error=reason)
            else:  # it finished in the same instant: keep its real result
                self.record(sid, t.result())

    # --- one step --------------------------------------------------------------------------------

    def call_for(self, step: Step) -> StepCall:
        """The step's task and context from the workflow task and its dependencies' results."""
        needed: list[str] = []
        if step.template is None:
            if self.pass_outputs:
                needed = list(step.depends_on)
        else:
            if _template.uses_inputs(step.template):
                needed = list(step.depends_on)
            needed += [r for r in _template.referenced_steps(step.template) if r not in needed]
        items = [self.upstream(d) for d in needed]
        texts = dict(zip(needed, _context.fit(items, self.dag.budget(step.id)), strict=True))
        direct = [u for u in items if u.step_id in step.depends_on]
        if step.template is None and self.dag.chain:
            # The list form keeps the prompt of claude-force 2.2: the task, then the previous
            # step's output under this heading (existing prompts and cache entries stay valid).
            text = self.task
            for u in direct:
                text += f"\n\n## Output of the previous step ({u.agent})\n\n{texts[u.step_id]}"
            return StepCall(self.dag.name, self.run_id, step, self.position[step.id], text, None)
        if step.template is None:
            block = _context.inputs_block(direct, self.dag.budget(step.id))
            return StepCall(
                self.dag.name, self.run_id, step, self.position[step.id], self.task, block or None
            )
        inputs = (
            "\n\n".join(f"{_context.label(u)}\n\n{texts[u.step_id]}" for u in direct)
            if direct
            else ""
        )
        text = _template.render(
            step.template,
            task=self.task,
            inputs=inputs,
            outputs=texts,
            workflow=self.dag.name,
            step=step.id,
        )
        return StepCall(self.dag.name, self.run_id, step, self.position[step.id], text, None)

    def upstream(self, sid: str) -> _context.Upstream:
        res = self.results.get(sid)
        agent = self.dag.step(sid).agent
        if res is None:  # cannot happen for a resolved dependency; say so rather than crash
            return _context.Upstream(sid, agent, False, "(no result)")
        if res.ok:
            return _context.Upstream(sid, agent, True, res.output)
        return _context.Upstream(sid, agent, False, res.error or "failed")

    async def run_step(self, sid: str) -> StepResult:
        step = self.dag.step(sid)
        start = self.started[sid]
        started_at = datetime.now(UTC)
        self.emit(sid, "running")
        call = self.call_for(step)
        fp = ""
        if self.checkpoint is not None:
            identity = await self.engine.executor.identity(step)
            fp = fingerprint(
                identity, step.agent, step.model, step.max_tokens, call.task, call.context
            )
            rec = self.checkpoint.reusable(sid, fp)
            if rec is not None:
                ex = rec.to_execution(call.task, self.dag.name, call.position)
                return StepResult(
                    sid, step.agent, "reused", step.depends_on, ex, start, self.now(), reused=True
                )
        timeout = step.timeout_seconds
        cm = asyncio.timeout(timeout)
        try:
            async with cm:
                ex = await self.engine.executor.run_step(call)
        except TimeoutError as exc:
            err: Exception = StepTimeoutError(sid, timeout or 0.0) if cm.expired() else exc
            ex = self.synthetic(call, started_at, start, err)
        except Exception as exc:  # an executor bug is this step's failure, not the run's crash
            log.exception("workflow %s step %s: executor raised", self.dag.name, sid)
            ex = self.synthetic(call, started_at, start, exc)
        end = self.now()
        if ex.success:
            if self.checkpoint is not None:
                await self.checkpoint.save(StepRecord.of(sid, fp, ex))
            return StepResult(sid, step.agent, "succeeded", step.depends_on, ex, start, end)
        error = ex.errors[0] if ex.errors else "failed"
        return StepResult(
            sid, step.agent, "failed", step.depends_on, ex, start, end, error, ex.error_type
        )

    def synthetic(
        self, call: StepCall, started_at: datetime, start: float, exc: Exception
    ) -> Execution:
        """A failed :class:`Execution` for a step the engine itself stopped (timeout, crash)."""
        return Execution(
            execution_id=uuid.uuid4().hex,
            agent=call.step.agent,
            task=call.task,
            model=call.step.model or "",
            provider="",
            success=False,
            output="",
            started_at=started_at,
            duration_ms=(self.now() - start) * 1000,
            errors=(str(exc) or type(exc).__name__,),
            error_type=type(exc).__name__,
            workflow_name=self.dag.name,
            workflow_position=call.position,
        )

    # --- the result ------------------------------------------------------------------------------

    async def finish(self) -> WorkflowResult:
        wall = self.now()
        steps: dict[str, StepResult] = {}
        for step in self.dag:
            res = self.results.get(step.id)
            if res is None:
                reason = self.sched.skip_reason.get(step.id, "not started")
                res = StepResult(step.id, step.agent, "skipped", step.depends_on, error=reason)
            steps[step.id] = res
        durations = {sid: r.service_s for sid, r in steps.items()}  # waiting is not on the path
        path, path_s = self.dag.critical_path(durations)
        status: RunStatus
        if self.fatal is not None:
            status = "failed"
        elif all(r.ok for r in steps.values()):
            status = "succeeded"
        else:
            status = "partial"
        if status == "succeeded" and self.checkpoint is not None:
            await self.checkpoint.discard()
        fatal = self.fatal
        needed = {d for s in self.dag for d in s.depends_on}
        sinks = [s.id for s in self.dag if s.id not in needed]
        ordered = list(steps.values())
        result = WorkflowResult(
            success=status != "failed",
            agent_results=[r.to_agent_result() for r in ordered if r.status != "skipped"],
            workflow_name=self.dag.name,
            run_id=self.run_id,
            status=status,
            steps=steps,
            wall_s=wall,
            critical_path=path,
            critical_path_s=path_s,
            parallel=self.sched.max_concurrent > 1,
            max_concurrent=self.sched.max_concurrent,
            totals=Totals.of(ordered),
            error=str(fatal) if fatal is not None else None,
            error_type=_error_type(fatal),
            sinks=sinks,
        )
        result.metadata.update(
            run_id=self.run_id,
            status=status,
            wall_s=round(wall, 6),
            critical_path_s=round(path_s, 6),
            sequential_s=round(result.sequential_s, 6),
            speedup=None if result.speedup is None else round(result.speedup, 4),
        )
        return result


class _StepFailed(Exception):
    """Why a run failed: a step under ``on_failure: fail`` failed."""

    def __init__(self, step_id: str, error: str, error_type: str | None) -> None:
        self.step_id = step_id
        self.error_type = error_type
        super().__init__(f"step '{step_id}' failed: {error}")


def _error_type(exc: Exception | None) -> str | None:
    if exc is None:
        return None
    if isinstance(exc, _StepFailed):
        return exc.error_type or "StepFailed"
    return type(exc).__name__
