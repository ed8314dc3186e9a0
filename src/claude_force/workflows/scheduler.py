"""The scheduling policy of a workflow run (pure: state in, decisions out; no I/O, no clock).

The engine asks :meth:`Scheduler.take_ready` which steps to start, and reports each finished
step with :meth:`Scheduler.finish`. A step becomes ready as soon as all of its own dependencies
are resolved — there are no stage barriers. Among ready steps, the earlier-defined starts first,
so with ``max_concurrent=1`` the run follows :meth:`WorkflowDAG.topological_order`.

A dependency is *resolved* when it succeeded, or failed under ``on_failure: continue``. A failed
step's policy decides the rest:

- ``fail``: the run is aborted; pending steps are skipped and the engine cancels running ones.
- ``skip_dependents``: every step downstream of it is skipped; other branches go on.
- ``continue``: its dependents run anyway (they are told that it failed).

Hand-written rather than on ``graphlib.TopologicalSorter.get_ready()/done()``: that API cannot
mark a node as never going to run (``skip_dependents``, aborts), has no concurrency bound and
returns ready nodes in no defined order; the remaining bookkeeping here is a counter per step.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Literal

from .dag import WorkflowDAG

StepState = Literal["pending", "running", "succeeded", "failed", "skipped", "cancelled"]
FINAL_STATES: frozenset[StepState] = frozenset({"succeeded", "failed", "skipped", "cancelled"})


@dataclass(frozen=True, slots=True)
class Decision:
    """What the engine must do after a step finished."""

    abort: bool = False  # cancel every running step; the run has failed
    skipped: tuple[str, ...] = ()  # steps that will never run because of this finish


@dataclass
class Scheduler:
    dag: WorkflowDAG
    max_concurrent: int = 10
    state: dict[str, StepState] = field(init=False)
    skip_reason: dict[str, str] = field(init=False, default_factory=dict)
    aborted_by: str | None = field(init=False, default=None)
    _waiting: dict[str, int] = field(init=False)
    _children: dict[str, list[str]] = field(init=False)
    _index: dict[str, int] = field(init=False)
    _ready: list[int] = field(init=False)
    _running: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        if self.max_concurrent < 1:
            raise ValueError(f"max_concurrent must be at least 1, got {self.max_concurrent}")
        self.dag.topological_order()  # raises WorkflowCycleError: a cycle would never finish
        ids = self.dag.ids
        self._index = {s: i for i, s in enumerate(ids)}
        self.state = dict.fromkeys(ids, "pending")
        self._children = {s: [] for s in ids}
        self._waiting = {}
        for step in self.dag:
            deps = [d for d in step.depends_on if d in self._index]
            self._waiting[step.id] = len(deps)
            for d in deps:
                self._children[d].append(step.id)
        self._ready = [self._index[s] for s, n in self._waiting.items() if n == 0]
        heapq.heapify(self._ready)

    # --- queries ---------------------------------------------------------------------------------

    @property
    def running(self) -> int:
        return self._running

    @property
    def finished(self) -> bool:
        """No step is pending or running."""
        return all(s in FINAL_STATES for s in self.state.values())

    def count(self, state: StepState) -> int:
        return sum(1 for s in self.state.values() if s == state)

    # --- transitions -----------------------------------------------------------------------------

    def take_ready(self) -> list[str]:
        """Steps to start now (marked running): ready ones, earliest-defined first, within the bound."""
        out: list[str] = []
        ids = self.dag.ids
        while self._ready and self._running < self.max_concurrent and self.aborted_by is None:
            sid = ids[heapq.heappop(self._ready)]
            if self.state[sid] != "pending":
                continue
            self.state[sid] = "running"
            self._running += 1
            out.append(sid)
        return out

    def finish(self, step_id: str, ok: bool) -> Decision:
        """Record that a running step ended; returns what the engine must do next."""
        self._leave_running(step_id)
        if ok:
            self.state[step_id] = "succeeded"
            self._release(step_id)
            return Decision()
        self.state[step_id] = "failed"
        policy = self.dag.policy(step_id)
        if policy == "continue":
            self._release(step_id)
            return Decision()
        if policy == "skip_dependents":
            downstream = self.dag.descendants(step_id)
            skipped = [s for s in self.dag.ids if s in downstream and self.state[s] == "pending"]
            for s in skipped:
                self.state[s] = "skipped"
                self.skip_reason[s] = f"upstream step '{step_id}' failed"
            return Decision(skipped=tuple(skipped))
        return Decision(abort=True, skipped=self.abort(f"step '{step_id}' failed", step_id))

    def abort(self, reason: str, by: str | None = None) -> tuple[str, ...]:
        """Stop the run: every pending step is skipped; returns them. Running steps stay running
        until the engine reports them with :meth:`cancelled` (or :meth:`finish`)."""
        if self.aborted_by is None:
            self.aborted_by = by or reason
        skipped = tuple(s for s in self.dag.ids if self.state[s] == "pending")
        for s in skipped:
            self.state[s] = "skipped"
            self.skip_reason[s] = reason
        self._ready.clear()
        return skipped

    def cancelled(self, step_id: str) -> None:
        """A running step was cancelled by the engine."""
        self._leave_running(step_id)
        self.state[step_id] = "cancelled"

    def _leave_running(self, step_id: str) -> None:
        if self.state.get(step_id) != "running":
            raise ValueError(f"step '{step_id}' is not running (state {self.state.get(step_id)})")
        self._running -= 1

    def _release(self, step_id: str) -> None:
        for child in self._children[step_id]:
            self._waiting[child] -= 1
            if self._waiting[child] == 0 and self.state[child] == "pending":
                heapq.heappush(self._ready, self._index[child])
