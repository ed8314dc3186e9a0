"""Request and response schemas of the HTTP API (pydantic at the edge)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from ..runner import Execution
    from ..workflows.result import StepResult, WorkflowResult


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


MAX_ERRORS_SHOWN = 20


def validation_details(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """Request validation problems without the inputs (never echoed: they may be huge, or
    hostile), at most ``MAX_ERRORS_SHOWN`` of them."""
    shown = []
    for err in list(errors)[:MAX_ERRORS_SHOWN]:
        loc = [p if isinstance(p, int) else str(p)[:100] for p in err.get("loc", ())][:10]
        shown.append({"loc": loc, "msg": str(err.get("msg", ""))[:300], "type": err.get("type")})
    return shown


# --- requests ------------------------------------------------------------------------------------


class ExecuteRequest(_Strict):
    """Run one agent on one task."""

    agent: str = Field(min_length=1, description="An agent of the project.")
    task: str = Field(min_length=1, max_length=2_000_000)
    model: str | None = Field(default=None, description="Model id or alias (default: agent's).")
    max_tokens: int = Field(default=4096, ge=1, le=1_000_000)
    temperature: float | None = Field(default=None, ge=0, le=1)
    context: str | None = Field(default=None, description="Text placed before the task.")
    use_cache: bool = Field(default=True, description="False: neither read nor write the cache.")
    refresh: bool = Field(default=False, description="Skip a cached answer, store the new one.")
    use_memory: bool = Field(default=True, description="Add relevant past sessions as context.")


class WorkflowRunRequest(_Strict):
    """Run a workflow of the project on one task."""

    task: str = Field(min_length=1, max_length=2_000_000)
    parallel: bool | None = Field(
        default=None, description="None: features.parallel_workflows_enabled."
    )
    max_concurrent: int | None = Field(default=None, ge=1, le=1000)
    timeout_seconds: float | None = Field(default=None, gt=0)
    pass_outputs: bool = True
    use_cache: bool = True
    refresh: bool = False

    def run_options(self) -> dict[str, Any]:
        """Everything but the task, as the keywords a workflow run takes (in this process or
        queued for the cluster)."""
        return self.model_dump(exclude={"task"})


# --- results -------------------------------------------------------------------------------------


class UsageOut(_Strict):
    input_tokens: int
    output_tokens: int
    cache_creation_input_tokens: int
    cache_read_input_tokens: int
    total_tokens: int


class ExecuteResponse(_Strict):
    """One execution. ``success`` false: ``errors`` and ``error_type`` say why."""

    execution_id: str
    agent: str
    success: bool
    output: str
    errors: list[str]
    error_type: str | None
    model: str
    provider: str
    simulated: bool
    cached: bool
    usage: UsageOut
    cost_usd: float | None = Field(description="None when the model has no known price.")
    cost_usd_exact: str | None
    saved_cost_usd: float | None
    duration_ms: float
    queue_wait_ms: float
    started_at: datetime
    request_id: str | None
    stop_reason: str | None
    workflow_name: str | None = None
    step_id: str | None = None

    @classmethod
    def of(cls, ex: Execution) -> ExecuteResponse:
        u = ex.usage
        return cls(
            execution_id=ex.execution_id,
            agent=ex.agent,
            success=ex.success,
            output=ex.output,
            errors=list(ex.errors),
            error_type=ex.error_type,
            model=ex.model,
            provider=ex.provider,
            simulated=ex.simulated,
            cached=ex.cached,
            usage=UsageOut(
                input_tokens=u.input_tokens,
                output_tokens=u.output_tokens,
                cache_creation_input_tokens=u.cache_creation_input_tokens,
                cache_read_input_tokens=u.cache_read_input_tokens,
                total_tokens=u.total_tokens,
            ),
            cost_usd=None if ex.cost_usd is None else float(ex.cost_usd),
            cost_usd_exact=None if ex.cost_usd is None else format(ex.cost_usd.normalize(), "f"),
            saved_cost_usd=None if ex.saved_cost_usd is None else float(ex.saved_cost_usd),
            duration_ms=round(ex.duration_ms, 3),
            queue_wait_ms=round(ex.queue_wait_ms, 3),
            started_at=ex.started_at,
            request_id=ex.request_id,
            stop_reason=ex.stop_reason,
            workflow_name=ex.workflow_name,
            step_id=ex.step_id,
        )


class WorkflowStepOut(_Strict):
    step_id: str
    agent: str
    status: Literal["succeeded", "failed", "skipped", "cancelled", "reused"]
    depends_on: list[str]
    start_offset_s: float | None
    end_offset_s: float | None
    duration_s: float
    error: str | None
    error_type: str | None
    reused: bool
    output: str
    execution: ExecuteResponse | None

    @classmethod
    def of(cls, step: StepResult) -> WorkflowStepOut:
        return cls(
            step_id=step.step_id,
            agent=step.agent,
            status=step.status,
            depends_on=list(step.depends_on),
            start_offset_s=step.start_offset_s,
            end_offset_s=step.end_offset_s,
            duration_s=round(step.duration_s, 6),
            error=step.error,
            error_type=step.error_type,
            reused=step.reused,
            output=step.output,
            execution=None if step.execution is None else ExecuteResponse.of(step.execution),
        )


class WorkflowTotalsOut(_Strict):
    input_tokens: int
    output_tokens: int
    cache_creation_input_tokens: int
    cache_read_input_tokens: int
    tokens: int
    cost_usd: float | None
    executed_steps: int
    cached_steps: int


class WorkflowRunResponse(_Strict):
    """A finished workflow run: ``status`` succeeded, partial or failed, every step, totals."""

    workflow_name: str
    run_id: str
    success: bool
    status: Literal["succeeded", "partial", "failed"]
    error: str | None
    error_type: str | None
    parallel: bool
    max_concurrent: int
    wall_s: float
    sequential_s: float
    critical_path: list[str]
    critical_path_s: float
    speedup: float | None
    totals: WorkflowTotalsOut
    steps: list[WorkflowStepOut]
    output: str

    @classmethod
    def of(cls, result: WorkflowResult) -> WorkflowRunResponse:
        return cls(
            workflow_name=result.workflow_name,
            run_id=result.run_id,
            success=result.success,
            status=result.status,
            error=result.error,
            error_type=result.error_type,
            parallel=result.parallel,
            max_concurrent=result.max_concurrent,
            wall_s=round(result.wall_s, 6),
            sequential_s=round(result.sequential_s, 6),
            critical_path=list(result.critical_path),
            critical_path_s=round(result.critical_path_s, 6),
            speedup=None if result.speedup is None else round(result.speedup, 6),
            totals=WorkflowTotalsOut(**result.totals.to_dict()),
            steps=[WorkflowStepOut.of(s) for s in result.steps.values()],
            output=result.output,
        )


# --- analytics -----------------------------------------------------------------------------------


class StatsOut(BaseModel):
    """The figures of a group of executions (see ``claude-force analytics summary --json``)."""

    model_config = ConfigDict(extra="allow")

    executions: int
    successes: int
    failures: int
    success_rate: float
    attempts: int
    retries: int
    input_tokens: int
    output_tokens: int
    cache_write_tokens: int
    cache_read_tokens: int
    total_tokens: int
    cost_usd: float
    cost_usd_exact: str
    cost_unknown_attempts: int
    cache_hits: int
    cache_hit_rate: float
    saved_usd: float
    saved_usd_exact: str
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    avg_duration_ms: float | None
    avg_queue_wait_ms: float | None


class Period(BaseModel):
    since: datetime | None
    until: datetime | None


class SummaryResponse(Period, StatsOut):
    pass


class AgentGroup(StatsOut):
    agent: str


class ModelGroup(StatsOut):
    model: str


class WorkflowGroup(StatsOut):
    workflow: str


class AgentsResponse(Period):
    groups: list[AgentGroup]


class ModelsResponse(Period):
    groups: list[ModelGroup]


class WorkflowsResponse(Period):
    groups: list[WorkflowGroup]


class TrendPointOut(StatsOut):
    start: datetime
    resolution: Literal["hour", "day"]


class TrendsResponse(Period):
    interval: Literal["hour", "day"]
    points: list[TrendPointOut]


class AnomalyOut(_Strict):
    id: str
    kind: Literal["latency", "error_rate", "cost", "cache_hit_rate"]
    metric: str
    agent: str
    model: str
    simulated: bool
    active: bool
    severity: Literal["warning", "critical"]
    observed: float | None
    baseline: float | None
    expected_low: float | None
    expected_high: float | None
    score: float | None
    peak_score: float | None
    threshold: float
    rule: Literal["robust_z", "binomial", "absolute"]
    samples: int
    baseline_samples: int
    since: datetime
    last_seen: datetime
    resolved_at: datetime | None
    resolution: Literal["recovered", "stale"] | None
    message: str


class AnomaliesResponse(Period):
    active: list[AnomalyOut]
    history: list[AnomalyOut] = Field(description="Raised in the period, newest first.")
    samples_seen: int


# --- operations ----------------------------------------------------------------------------------


class LivenessOut(_Strict):
    status: Literal["ok"]
    version: str
    uptime_s: float


class ReadinessOut(_Strict):
    ready: bool
    status: Literal["healthy", "degraded", "unreachable"]
    checked_at: str
    provider: dict[str, Any]
    breakers: list[dict[str, Any]]
    rate_limits: dict[str, Any]
    state_dir: dict[str, Any]


class ErrorDetail(_Strict):
    type: str
    message: str
    hint: str | None = None


class ErrorResponse(_Strict):
    error: ErrorDetail


class ProjectOut(_Strict):
    name: str | None
    config_path: str
    provider: str
    simulated: bool
    default_model: str
    agents: list[dict[str, Any]]
    workflows: dict[str, list[str]]
    metrics_enabled: bool
    token_required: bool
