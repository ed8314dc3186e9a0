"""The scheduler (pure) and the engine (driver) with fake executors: ordering, bounds,
cancellation, policies, timeouts, timing structure on a virtual clock, templates, resume."""

from __future__ import annotations

import asyncio
import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from claude_force.messages import Usage
from claude_force.runner import Execution
from claude_force.workflows import (
    CheckpointStore,
    Scheduler,
    Step,
    StepCall,
    StepEvent,
    WorkflowDAG,
    WorkflowEngine,
    WorkflowResult,
)
from claude_force.workflows.checkpoint import StepRecord

# --- helpers -------------------------------------------------------------------------------------


def execution(call: StepCall, output: str, *, success: bool = True, error: str = "") -> Execution:
    return Execution(
        execution_id=f"ex-{call.step.id}",
        agent=call.step.agent,
        task=call.task,
        model="m",
        provider="fake",
        success=success,
        output=output if success else "",
        started_at=datetime.now(UTC),
        duration_ms=0.0,
        usage=Usage(10, 5),
        cost_usd=Decimal("0.001"),
        errors=() if success else (error,),
        error_type=None if success else "FakeError",
    )


def digest(*parts: object) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:10]


@dataclass
class RecordingExecutor:
    """Deterministic outputs (a function of the inputs); yields ``work[id]`` times while running;
    records order, in-flight count and which steps fail."""

    work: dict[str, int] = field(default_factory=dict)
    fail: set[str] = field(default_factory=set)
    finished: set[str] = field(default_factory=set)
    order: list[str] = field(default_factory=list)
    calls: dict[str, StepCall] = field(default_factory=dict)
    inflight: int = 0
    max_inflight: int = 0
    violations: list[str] = field(default_factory=list)
    dag: WorkflowDAG | None = None
    cancelled: list[str] = field(default_factory=list)

    async def run_step(self, call: StepCall) -> Execution:
        sid = call.step.id
        if self.dag is not None:
            missing = [d for d in self.dag.step(sid).depends_on if d not in self.finished]
            if missing:
                self.violations.append(f"{sid} started before {missing}")
        if sid in self.calls:
            self.violations.append(f"{sid} ran twice")
        self.calls[sid] = call
        self.order.append(sid)
        self.inflight += 1
        self.max_inflight = max(self.max_inflight, self.inflight)
        try:
            for _ in range(self.work.get(sid, 0)):
                await asyncio.sleep(0)
        except asyncio.CancelledError:
            self.cancelled.append(sid)
            raise
        finally:
            self.inflight -= 1
        self.finished.add(sid)
        if sid in self.fail:
            return execution(call, "", success=False, error=f"{sid} broke")
        return execution(call, f"out:{sid}:{digest(call.task, call.context)}")

    async def identity(self, step: Step) -> str:
        return f"id:{step.agent}"


@st.composite
def random_dags(draw: st.DrawFn, max_steps: int = 10) -> tuple[WorkflowDAG, dict[str, int]]:
    """A random DAG whose definition order is shuffled (so it is not already topological)."""
    n = draw(st.integers(1, max_steps))
    deps = [draw(st.sets(st.integers(0, i - 1), max_size=3)) if i else set() for i in range(n)]
    order = draw(st.permutations(list(range(n))))
    dag = WorkflowDAG("random")
    for i in order:
        dag.add_step(f"s{i}", f"agent{i % 3}", [f"s{j}" for j in sorted(deps[i])])
    work = {f"s{i}": draw(st.integers(0, 4)) for i in range(n)}
    return dag, work


def run(coro_factory: Callable[[], object]) -> WorkflowResult:
    return asyncio.run(coro_factory())  # type: ignore[arg-type]


# --- scheduler (pure) ----------------------------------------------------------------------------


def dag_of(edges: dict[str, list[str]], **kw: object) -> WorkflowDAG:
    dag = WorkflowDAG("wf", **kw)  # type: ignore[arg-type]
    for sid, deps in edges.items():
        dag.add_step(sid, "agent", deps)
    return dag


def test_scheduler_starts_steps_as_soon_as_their_own_dependencies_are_done() -> None:
    # no stage barrier: 'c' (after 'a') starts while the slow 'b' is still running
    sched = Scheduler(dag_of({"a": [], "b": [], "c": ["a"], "d": ["b", "c"]}), max_concurrent=5)
    assert sched.take_ready() == ["a", "b"] and sched.running == 2
    assert sched.take_ready() == []
    assert sched.finish("a", ok=True).abort is False
    assert sched.take_ready() == ["c"]
    sched.finish("c", ok=True)
    assert sched.take_ready() == []  # d waits for b
    sched.finish("b", ok=True)
    assert sched.take_ready() == ["d"]
    sched.finish("d", ok=True)
    assert sched.finished and sched.count("succeeded") == 4


def test_scheduler_bound_and_definition_order() -> None:
    sched = Scheduler(dag_of({"z": [], "y": [], "x": [], "w": []}), max_concurrent=2)
    assert sched.take_ready() == ["z", "y"]
    sched.finish("y", ok=True)
    assert sched.take_ready() == ["x"]
    with pytest.raises(ValueError, match="not running"):
        sched.finish("y", ok=True)
    with pytest.raises(ValueError, match="at least 1"):
        Scheduler(dag_of({"a": []}), max_concurrent=0)


def test_scheduler_policies() -> None:
    edges = {"a": [], "b": [], "c": ["a"], "d": ["c"], "e": ["b"]}
    # fail: everything pending is skipped; running steps are left for the engine to cancel
    sched = Scheduler(dag_of(edges), max_concurrent=5)
    sched.take_ready()
    decision = sched.finish("a", ok=False)
    assert decision.abort and set(decision.skipped) == {"c", "d", "e"}
    assert sched.take_ready() == [] and dict(sched.state)["b"] == "running"
    sched.cancelled("b")
    assert sched.finished and dict(sched.state)["b"] == "cancelled"
    assert sched.skip_reason["d"] == "step 'a' failed"
    # skip_dependents: only what is downstream of the failed step
    sched = Scheduler(dag_of(edges, on_failure="skip_dependents"), max_concurrent=5)
    sched.take_ready()
    decision = sched.finish("a", ok=False)
    assert not decision.abort and decision.skipped == ("c", "d")
    sched.finish("b", ok=True)
    assert sched.take_ready() == ["e"]
    assert sched.skip_reason["d"] == "upstream step 'a' failed"
    # continue: dependents run anyway
    sched = Scheduler(dag_of(edges, on_failure="continue"), max_concurrent=5)
    sched.take_ready()
    assert sched.finish("a", ok=False) == type(decision)()
    assert sched.take_ready() == ["c"]


@settings(max_examples=150, deadline=None)
@given(random_dags(), st.integers(1, 4), st.randoms(use_true_random=False))
def test_scheduler_random_completion_orders(
    case: tuple[WorkflowDAG, dict[str, int]], bound: int, rnd: random.Random
) -> None:
    dag, _ = case
    sched = Scheduler(dag, max_concurrent=bound)
    running: list[str] = []
    done: set[str] = set()
    started: list[str] = []
    while not sched.finished:
        for sid in sched.take_ready():
            assert set(dag.step(sid).depends_on) <= done
            running.append(sid)
            started.append(sid)
        assert 0 < len(running) <= bound
        sid = running.pop(rnd.randrange(len(running)))
        sched.finish(sid, ok=True)
        done.add(sid)
    assert sorted(started) == sorted(dag.ids) and len(started) == len(set(started))


# --- engine: properties on random DAGs ------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(random_dags(), st.integers(1, 4))
def test_engine_runs_every_step_once_after_its_dependencies_within_the_bound(
    case: tuple[WorkflowDAG, dict[str, int]], bound: int
) -> None:
    dag, work = case
    par = RecordingExecutor(work=work, dag=dag)
    result = run(lambda: WorkflowEngine(par).run(dag, "task", max_concurrent=bound))
    assert par.violations == []
    assert sorted(par.order) == sorted(dag.ids)
    assert 1 <= par.max_inflight <= bound
    assert result.status == "succeeded" and result.success
    # recorded offsets agree: a step starts no earlier than each dependency ended
    for sid, res in result.steps.items():
        for d in dag.step(sid).depends_on:
            start, dep_end = res.start_offset_s, result.steps[d].end_offset_s
            assert start is not None and dep_end is not None and start >= dep_end

    seq = RecordingExecutor(work=work, dag=dag)
    sequential = run(lambda: WorkflowEngine(seq).run(dag, "task", sequential=True))
    assert seq.violations == [] and seq.max_inflight == 1
    assert seq.order == dag.topological_order()
    assert not sequential.parallel and sequential.max_concurrent == 1
    assert {s: r.output for s, r in sequential.steps.items()} == {
        s: r.output for s, r in result.steps.items()
    }
    assert {s: (c.task, c.context) for s, c in seq.calls.items()} == {
        s: (c.task, c.context) for s, c in par.calls.items()
    }


def test_independent_steps_are_all_in_flight_together() -> None:
    dag = dag_of({"a": [], "b": [], "c": [], "sum": ["a", "b", "c"]})
    ex = RecordingExecutor(work={"a": 3, "b": 3, "c": 3}, dag=dag)
    result = run(lambda: WorkflowEngine(ex).run(dag, "t"))
    assert ex.max_inflight == 3 and ex.order[-1] == "sum"
    ctx = ex.calls["sum"].context or ""
    assert all(f"## Output of step '{s}' (agent agent)" in ctx for s in "abc")
    assert ex.calls["a"].context is None and ex.calls["a"].task == "t"
    assert result.sinks == ["sum"] and result.output == result.steps["sum"].output
    assert result.totals.executed_steps == 4 and result.totals.tokens == 60
    assert result.totals.cost_usd == Decimal("0.004")
    assert [r.agent_name for r in result.agent_results] == ["agent"] * 4
    assert result.agent_results[3].metadata["step_id"] == "sum"
    assert len(result.executions()) == 4


# --- engine: timing structure on a virtual clock ---------------------------------------------------


class VirtualClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@dataclass
class GateExecutor:
    """Each step waits until the test releases it; the test moves the virtual clock."""

    started: dict[str, asyncio.Event] = field(default_factory=dict)
    release: dict[str, asyncio.Event] = field(default_factory=dict)

    def gate(self, sid: str) -> tuple[asyncio.Event, asyncio.Event]:
        return self.started.setdefault(sid, asyncio.Event()), self.release.setdefault(
            sid, asyncio.Event()
        )

    async def run_step(self, call: StepCall) -> Execution:
        started, release = self.gate(call.step.id)
        started.set()
        await release.wait()
        return execution(call, f"out:{call.step.id}")

    async def identity(self, step: Step) -> str:
        return step.agent


def test_timing_structure_three_reviewers_then_a_summary() -> None:
    dag = WorkflowDAG("cq")
    for sid in ("python", "review", "security"):
        dag.add_step(sid, sid)
    dag.add_step("summary", "writer", ["python", "review", "security"])
    clock = VirtualClock()
    ex = GateExecutor()

    async def scenario() -> WorkflowResult:
        running = asyncio.create_task(WorkflowEngine(ex, clock=clock).run(dag, "t"))
        for sid in ("python", "review", "security"):
            await ex.gate(sid)[0].wait()  # all three are running at t=0
        assert not ex.gate("summary")[0].is_set()
        clock.now = 1.0
        for sid in ("python", "review", "security"):
            ex.gate(sid)[1].set()
        await ex.gate("summary")[0].wait()
        clock.now = 2.0
        ex.gate("summary")[1].set()
        return await running

    result = asyncio.run(scenario())
    offsets = {s: (r.start_offset_s, r.end_offset_s) for s, r in result.steps.items()}
    assert offsets == {
        "python": (0.0, 1.0),
        "review": (0.0, 1.0),
        "security": (0.0, 1.0),
        "summary": (1.0, 2.0),
    }
    assert result.wall_s == 2.0 and result.sequential_s == 4.0
    assert result.critical_path == ["python", "summary"] and result.critical_path_s == 2.0
    assert result.speedup == 2.0 and result.efficiency == 1.0
    data = result.to_dict()
    assert data["speedup"] == 2.0 and data["critical_path"] == ["python", "summary"]
    assert data["steps"][3]["start_offset_s"] == 1.0 and data["status"] == "succeeded"
    assert result.metadata["speedup"] == 2.0


# --- engine: failure policies, cancellation, timeouts ---------------------------------------------


@dataclass
class BlockingExecutor:
    """'bad' fails once the others are in flight; every other step blocks until cancelled."""

    fast: set[str] = field(default_factory=set)
    bad: str = "bad"
    siblings: int = 2
    inflight: set[str] = field(default_factory=set)
    requests: list[str] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    swallow: bool = False

    async def run_step(self, call: StepCall) -> Execution:
        sid = call.step.id
        self.requests.append(sid)
        if sid in self.fast:
            return execution(call, f"out:{sid}")
        if sid == self.bad:
            while len(self.inflight) < self.siblings:  # noqa: ASYNC110 (a fake: poll its state)
                await asyncio.sleep(0)
            return execution(call, "", success=False, error="bad request")
        self.inflight.add(sid)
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled.append(sid)
            raise
        finally:
            self.inflight.discard(sid)
        raise AssertionError("unreachable")

    async def identity(self, step: Step) -> str:
        return step.agent


def workflow_tasks() -> list[asyncio.Task[object]]:
    return [t for t in asyncio.all_tasks() if t.get_name().startswith("workflow:")]


def test_fail_fast_cancels_and_awaits_running_siblings() -> None:
    dag = dag_of({"x": [], "bad": [], "y": [], "sum": ["x", "bad", "y"], "later": ["sum"]})
    ex = BlockingExecutor()
    events: list[StepEvent] = []

    async def scenario() -> WorkflowResult:
        result = await WorkflowEngine(ex, observer=events.append).run(dag, "t")
        assert workflow_tasks() == []  # nothing of this run is still scheduled
        before = list(ex.requests)
        for _ in range(20):
            await asyncio.sleep(0)
        assert ex.requests == before  # and nothing new starts afterwards
        return result

    result = asyncio.run(scenario())
    assert sorted(ex.cancelled) == ["x", "y"] and ex.inflight == set()
    assert "sum" not in ex.requests and "later" not in ex.requests
    assert result.status == "failed" and not result.success
    assert result.error == "step 'bad' failed: bad request" and result.error_type == "FakeError"
    assert result.by_status("cancelled") == ["x", "y"]
    assert result.by_status("skipped") == ["sum", "later"]
    assert result.steps["x"].error == "cancelled: step 'bad' failed: bad request"
    assert result.steps["sum"].error == "step 'bad' failed"
    assert [r.agent_name for r in result.agent_results] == ["agent"] * 3
    assert result.agent_results[0].errors == ["cancelled: step 'bad' failed: bad request"]
    assert [e.status for e in events if e.step_id == "x"] == ["running", "cancelled"]
    assert {e.step_id for e in events if e.status == "skipped"} == {"sum", "later"}
    assert result.output == ""  # the sink never ran


def test_skip_dependents_keeps_other_branches_running() -> None:
    dag = dag_of({"bad": [], "ok": [], "after_bad": ["bad"], "after_ok": ["ok"]})
    dag.add_step("join", "agent", ["after_bad", "after_ok"])
    ex = RecordingExecutor(fail={"bad"}, work={"ok": 2})
    result = run(
        lambda: WorkflowEngine(ex).run(
            WorkflowDAG("wf", dag.steps, on_failure="skip_dependents"), "t"
        )
    )
    assert result.status == "partial" and result.success
    assert result.by_status("skipped") == ["after_bad", "join"]
    assert result.by_status("succeeded") == ["ok", "after_ok"]
    assert result.steps["join"].error == "upstream step 'bad' failed"


def test_continue_gives_dependents_the_error() -> None:
    dag = WorkflowDAG("wf")
    dag.add_step("bad", "agent", on_failure="continue")
    dag.add_step("sum", "agent", ["bad"])
    ex = RecordingExecutor(fail={"bad"})
    result = run(lambda: WorkflowEngine(ex).run(dag, "t"))
    assert result.status == "partial" and result.by_status("succeeded") == ["sum"]
    assert "## Step 'bad' (agent agent) FAILED — its error\n\nbad broke" in (
        ex.calls["sum"].context or ""
    )
    assert result.steps["bad"].error == "bad broke" and not result.steps["bad"].ok


def test_step_timeout_is_a_step_failure() -> None:
    dag = WorkflowDAG("wf")
    dag.add_step("slow", "agent", timeout_seconds=0.01, on_failure="continue")
    dag.add_step("next", "agent", ["slow"])
    ex = BlockingExecutor(fast={"next"}, bad="none", siblings=0)
    result = run(lambda: WorkflowEngine(ex).run(dag, "t"))
    slow = result.steps["slow"]
    assert slow.status == "failed" and slow.error_type == "StepTimeoutError"
    assert slow.error == "step 'slow' timed out after 0.01s"
    assert slow.execution is not None and not slow.execution.success
    assert ex.cancelled == ["slow"] and result.steps["next"].ok


def test_workflow_deadline_cancels_everything() -> None:
    dag = dag_of({"a": [], "b": [], "c": ["a"]}, timeout_seconds=0.01)
    ex = BlockingExecutor(bad="none", siblings=0)
    result = run(lambda: WorkflowEngine(ex).run(dag, "t"))
    assert result.status == "failed" and result.error_type == "WorkflowTimeoutError"
    assert result.error == "workflow 'wf' exceeded its deadline of 0.01s"
    assert sorted(ex.cancelled) == ["a", "b"] and result.by_status("skipped") == ["c"]
    # the run's own argument wins over the DAG's
    ex2 = BlockingExecutor(fast={"a", "b", "c"})
    assert run(lambda: WorkflowEngine(ex2).run(dag, "t", timeout_seconds=60)).success


def test_cancelling_the_run_cancels_its_steps() -> None:
    dag = dag_of({"a": [], "b": []})
    ex = BlockingExecutor(bad="none", siblings=0)

    async def scenario() -> None:
        task = asyncio.create_task(WorkflowEngine(ex).run(dag, "t"))
        while len(ex.inflight) < 2:  # noqa: ASYNC110
            await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert workflow_tasks() == [] and ex.inflight == set()

    asyncio.run(scenario())
    assert sorted(ex.cancelled) == ["a", "b"]


def test_an_executor_that_raises_fails_only_its_step() -> None:
    class Broken(RecordingExecutor):
        async def run_step(self, call: StepCall) -> Execution:
            if call.step.id == "a":
                raise RuntimeError("executor bug")
            return await super().run_step(call)

    dag = WorkflowDAG("wf", on_failure="continue")
    dag.add_step("a", "agent")
    dag.add_step("b", "agent")
    result = run(lambda: WorkflowEngine(Broken()).run(dag, "t"))
    assert result.steps["a"].error == "executor bug"
    assert result.steps["a"].error_type == "RuntimeError" and result.steps["b"].ok


def test_a_broken_observer_never_fails_the_run() -> None:
    def observer(event: StepEvent) -> None:
        raise ValueError("display broke")

    dag = dag_of({"a": []})
    assert run(lambda: WorkflowEngine(RecordingExecutor(), observer=observer).run(dag, "t")).success


# --- inputs: templates, budgets, pass_outputs, the list form --------------------------------------


def test_templates_render_inputs_and_named_outputs_within_the_budget() -> None:
    dag = WorkflowDAG("wf", context_budget_chars=40)
    dag.add_step("a", "agent")
    dag.add_step("b", "agent", ["a"])
    dag.add_step("c", "agent", ["b"], task="{workflow}/{step}: {task} | {output:a} | {inputs}")
    ex = RecordingExecutor()
    run(lambda: WorkflowEngine(ex).run(dag, "T"))
    text = ex.calls["c"].task
    assert text.startswith("wf/c: T | out:a:") and ex.calls["c"].context is None
    assert "## Output of step 'b' (agent agent)" in text
    out_a = f"out:a:{digest('T', None)}"
    assert out_a in text  # 16 chars each: within the 40-char budget, nothing cut
    assert "cut to fit" not in text
    plain = WorkflowDAG("wf", context_budget_chars=4)
    plain.add_step("a", "agent")
    plain.add_step("b", "agent", ["a"])
    ex2 = RecordingExecutor()
    run(lambda: WorkflowEngine(ex2).run(plain, "T"))
    assert "out:\n\n[… " in (ex2.calls["b"].context or "")


def test_pass_outputs_false_and_the_list_form_prompt() -> None:
    chain = WorkflowDAG.from_chain("c", ["p", "r"])
    ex = RecordingExecutor()
    run(lambda: WorkflowEngine(ex).run(chain, "T"))
    first = ex.calls["p"]
    assert (
        ex.calls["r"].task
        == f"T\n\n## Output of the previous step (p)\n\nout:p:{digest('T', None)}"
    )
    assert first.task == "T" and ex.calls["r"].context is None
    ex2 = RecordingExecutor()
    run(lambda: WorkflowEngine(ex2).run(chain, "T", pass_outputs=False))
    assert ex2.calls["r"].task == "T"
    dag = dag_of({"a": [], "b": ["a"]})
    ex3 = RecordingExecutor()
    run(lambda: WorkflowEngine(ex3).run(dag, "T", pass_outputs=False))
    assert ex3.calls["b"].context is None


# --- resume from the checkpoint --------------------------------------------------------------------


def test_resume_reexecutes_only_failed_steps_and_their_dependents(tmp_path: Path) -> None:
    dag = WorkflowDAG("wf", on_failure="skip_dependents")
    dag.add_step("a", "agent")
    dag.add_step("b", "agent")
    dag.add_step("c", "agent", ["b"])
    dag.add_step("d", "agent", ["a"])
    store = CheckpointStore(tmp_path / "workflows")

    first = RecordingExecutor(fail={"b"})
    r1 = run(
        lambda: WorkflowEngine(first, checkpoints=store).run(dag, "task-text-QZX", resume=True)
    )
    assert r1.status == "partial" and r1.by_status("skipped") == ["c"]
    files = list((tmp_path / "workflows").glob("wf-*.jsonl"))
    assert len(files) == 1 and files[0].stat().st_mode & 0o777 == 0o600
    assert "task-text-QZX" not in files[0].read_text()  # only the task's hash is kept
    recorded = [
        StepRecord.model_validate_json(x).step_id for x in files[0].read_text().splitlines()
    ]
    assert sorted(recorded) == ["a", "d"]

    second = RecordingExecutor()
    r2 = run(
        lambda: WorkflowEngine(second, checkpoints=store).run(dag, "task-text-QZX", resume=True)
    )
    assert sorted(second.order) == ["b", "c"]  # a and d reused
    assert r2.status == "succeeded" and r2.by_status("reused") == ["a", "d"]
    assert r2.steps["a"].reused and r2.steps["a"].output == r1.steps["a"].output
    assert r2.totals.executed_steps == 2  # reused steps are not billed again
    assert not files[0].exists()  # a successful run leaves no checkpoint

    third = RecordingExecutor()
    run(lambda: WorkflowEngine(third, checkpoints=store).run(dag, "task-text-QZX", resume=True))
    assert sorted(third.order) == ["a", "b", "c", "d"]  # nothing left to resume


def test_resume_only_with_the_same_task_and_inputs(tmp_path: Path) -> None:
    dag = dag_of({"a": [], "b": ["a"]})
    store = CheckpointStore(tmp_path)
    run(lambda: WorkflowEngine(RecordingExecutor(fail={"b"}), checkpoints=store).run(dag, "T"))
    other_task = RecordingExecutor()
    run(lambda: WorkflowEngine(other_task, checkpoints=store).run(dag, "U", resume=True))
    assert other_task.order == ["a", "b"]
    fresh = RecordingExecutor()
    run(lambda: WorkflowEngine(fresh, checkpoints=store).run(dag, "T", resume=False))
    assert fresh.order == ["a", "b"]  # --fresh: the old checkpoint is dropped

    # a changed agent identity (definition or model) invalidates a recorded step
    run(lambda: WorkflowEngine(RecordingExecutor(fail={"b"}), checkpoints=store).run(dag, "V"))

    class Edited(RecordingExecutor):
        async def identity(self, step: Step) -> str:
            return "edited"

    edited = Edited()
    run(lambda: WorkflowEngine(edited, checkpoints=store).run(dag, "V", resume=True))
    assert edited.order == ["a", "b"]


def test_unreadable_checkpoint_lines_are_ignored(tmp_path: Path) -> None:
    dag = dag_of({"a": [], "b": ["a"]})
    store = CheckpointStore(tmp_path)
    run(lambda: WorkflowEngine(RecordingExecutor(fail={"b"}), checkpoints=store).run(dag, "T"))
    path = store.path_for("wf", "T", "outputs")
    path.write_text(path.read_text() + '{"step_id": "b", "trunc\n\n')
    again = RecordingExecutor()
    run(lambda: WorkflowEngine(again, checkpoints=store).run(dag, "T", resume=True))
    assert again.order == ["b"]
