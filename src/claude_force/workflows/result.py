"""The result of a workflow run: every step with its timing, the critical path, totals, speedup.

:class:`WorkflowResult` extends :class:`claude_force.base.WorkflowResult` (``success``,
``agent_results``, ``metadata``, ``workflow_name``, ``to_dict()``), so code written against
claude-force 2.2 keeps working with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from .._fields import fields_dict
from ..messages import Usage
from ..results import AgentResult
from ..results import WorkflowResult as _BaseWorkflowResult
from ..runner import Execution
from ..speedup import speedup_of

StepStatus = Literal["succeeded", "failed", "skipped", "cancelled", "reused"]
RunStatus = Literal["succeeded", "partial", "failed"]


@dataclass(frozen=True, slots=True)
class StepResult:
    """One step of a run. Offsets are seconds from the start of the run."""

    step_id: str
    agent: str
    status: StepStatus
    depends_on: tuple[str, ...] = ()
    execution: Execution | None = None  # None for skipped steps
    start_offset_s: float | None = None
    end_offset_s: float | None = None
    error: str | None = None
    error_type: str | None = None
    reused: bool = False  # taken from the run checkpoint, not executed again

    @property
    def duration_s(self) -> float:
        if self.start_offset_s is None or self.end_offset_s is None:
            return 0.0
        return max(0.0, self.end_offset_s - self.start_offset_s)

    @property
    def ok(self) -> bool:
        return self.status in ("succeeded", "reused")

    @property
    def service_s(self) -> float:
        """The step's service time: its span minus the time its execution waited for a
        concurrency slot (waiting is not work). A reused step did no work in this run (0)."""
        if self.reused:
            return 0.0
        wait_s = self.execution.queue_wait_ms / 1000 if self.execution is not None else 0.0
        return max(0.0, self.duration_s - wait_s)

    @property
    def output(self) -> str:
        return self.execution.output if self.execution is not None and self.ok else ""

    def to_agent_result(self) -> AgentResult:
        """The step as a 2.2-style :class:`AgentResult` (metadata gains ``step_id``, ``status``)."""
        if self.execution is not None:
            result = self.execution.to_agent_result()
        else:
            result = AgentResult(success=False, output="", agent_name=self.agent)
        if not self.ok and self.error and self.error not in result.errors:
            result.errors.append(self.error)
        result.metadata.update(
            step_id=self.step_id,
            step_status=self.status,
            start_offset_s=self.start_offset_s,
            end_offset_s=self.end_offset_s,
            reused=self.reused,
        )
        return result

    def to_dict(self) -> dict[str, Any]:
        ex = self.execution
        return {
            "step_id": self.step_id,
            "agent": self.agent,
            "status": self.status,
            "depends_on": list(self.depends_on),
            "start_offset_s": _r(self.start_offset_s),
            "end_offset_s": _r(self.end_offset_s),
            "duration_s": _r(self.duration_s),
            "service_s": _r(self.service_s),
            "error": self.error,
            "error_type": self.error_type,
            "reused": self.reused,
            "output": self.output,
            "execution": ex.metadata() if ex is not None else None,
        }


@dataclass(frozen=True, slots=True)
class Totals(Usage):
    """Tokens (the four counts of a :class:`Usage`, summed) and cost of what this run executed
    (reused steps cost nothing again)."""

    cost_usd: Decimal | None = Decimal(0)  # None when a price was unknown
    executed_steps: int = 0
    cached_steps: int = 0

    @property
    def tokens(self) -> int:
        return self.total_tokens

    @classmethod
    def of(cls, steps: list[StepResult]) -> Totals:
        inp = out = write = read = executed = cached = 0
        cost: Decimal | None = Decimal(0)
        for s in steps:
            ex = s.execution
            if ex is None or s.reused:
                continue
            executed += 1
            cached += ex.cached
            inp += ex.usage.input_tokens
            out += ex.usage.output_tokens
            write += ex.usage.cache_creation_input_tokens
            read += ex.usage.cache_read_input_tokens
            if ex.success:
                cost = None if cost is None or ex.cost_usd is None else cost + ex.cost_usd
        return cls(inp, out, write, read, cost, executed, cached)

    def to_dict(self) -> dict[str, Any]:
        cost = float(self.cost_usd) if self.cost_usd is not None else None
        return fields_dict(self, cost_usd=cost, tokens=self.tokens)


@dataclass
class WorkflowResult(_BaseWorkflowResult):
    """A finished workflow run.

    ``status`` is ``succeeded`` (every step succeeded or was reused), ``partial`` (some steps
    failed under ``on_failure: continue | skip_dependents``, nothing fatal) or ``failed`` (a step
    failed under ``on_failure: fail``, or the deadline passed). ``success`` is
    ``status != "failed"``.
    """

    run_id: str = ""
    status: RunStatus = "succeeded"
    steps: dict[str, StepResult] = field(default_factory=dict)
    wall_s: float = 0.0
    critical_path: list[str] = field(default_factory=list)
    critical_path_s: float = 0.0
    parallel: bool = True
    max_concurrent: int = 1
    totals: Totals = field(default_factory=Totals)
    error: str | None = None
    error_type: str | None = None
    sinks: list[str] = field(default_factory=list)  # steps nothing depends on

    @property
    def sequential_s(self) -> float:
        """The sum of the steps' service times: what one-at-a-time execution would have taken
        (time a step waited for a concurrency slot is not work, so it is not counted)."""
        return sum(s.service_s for s in self.steps.values())

    @property
    def speedup(self) -> float | None:
        """``sequential_s / wall_s``, only for a run that succeeded (``None`` for a failed or
        partial run, or one that took no measurable time)."""
        return speedup_of(self.sequential_s, self.wall_s, ok=self.status == "succeeded")

    @property
    def efficiency(self) -> float | None:
        """``critical_path_s / wall_s``: 1.0 means the run sat exactly on the physical limit."""
        return self.critical_path_s / self.wall_s if self.wall_s > 0 else None

    @property
    def output(self) -> str:
        """The final output: the output of the step(s) nothing depends on, labelled if several."""
        done = [self.steps[s] for s in self.sinks if self.steps[s].ok]
        if len(done) == 1:
            return done[0].output
        return "\n\n".join(f"## {s.step_id} ({s.agent})\n\n{s.output}" for s in done)

    def executions(self) -> list[Execution]:
        """Every step that started, in definition order."""
        return [s.execution for s in self.steps.values() if s.execution is not None]

    def by_status(self, status: StepStatus) -> list[str]:
        return [sid for sid, s in self.steps.items() if s.status == status]

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out.update(
            run_id=self.run_id,
            status=self.status,
            error=self.error,
            error_type=self.error_type,
            parallel=self.parallel,
            max_concurrent=self.max_concurrent,
            wall_s=_r(self.wall_s),
            sequential_s=_r(self.sequential_s),
            critical_path=list(self.critical_path),
            critical_path_s=_r(self.critical_path_s),
            speedup=_r(self.speedup),
            efficiency=_r(self.efficiency),
            totals=self.totals.to_dict(),
            steps=[s.to_dict() for s in self.steps.values()],
            output=self.output,
        )
        return out


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 6)
