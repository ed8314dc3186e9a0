"""``/api/v1``: run agents and workflows, analytics, anomalies, the live snapshot and event stream."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.sse import EventSourceResponse, ServerSentEvent

from ..clock import utcnow
from ..errors import ConfigurationError
from ..runner import RunOptions
from .broadcast import StreamClosed
from .schemas import (
    AgentsResponse,
    AnomaliesResponse,
    ErrorResponse,
    ExecuteRequest,
    ExecuteResponse,
    ModelsResponse,
    ProjectOut,
    SummaryResponse,
    TrendsResponse,
    WorkflowRunRequest,
    WorkflowRunResponse,
    WorkflowsResponse,
)
from .state import (
    ServerState,
    state_of,
    status_of_execution,
    status_of_workflow,
)

if TYPE_CHECKING:
    from ..metrics.analytics import Analytics
    from ..metrics.backend import Query as MetricsQuery
    from ..runner import Execution

T = TypeVar("T")

router = APIRouter(prefix="/api/v1")

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "A bad parameter (message names it)."},
    503: {"model": ErrorResponse, "description": "Metrics are off for this server."},
}
_RUN_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "Bearer token missing or wrong."},
    404: {"model": ErrorResponse, "description": "Unknown agent or workflow."},
    400: {"model": ErrorResponse, "description": "Unknown or retired model."},
}


async def require_token(
    request: Request, authorization: Annotated[str | None, Header()] = None
) -> None:
    """The bearer token, when the server has one (endpoints that run agents)."""
    state_of(request).check_token(authorization)


State = Annotated[ServerState, Depends(state_of)]
Since = Annotated[
    str | None, Query(description="7d, 24h, 30m, today, 2026-11-01 or an ISO time (UTC).")
]
Until = Annotated[str | None, Query(description="End (exclusive), same forms as since.")]
RealOnly = Annotated[bool, Query(description="Leave out SIMULATED executions.")]


# --- running ------------------------------------------------------------------------------------


@router.post(
    "/execute",
    response_model=ExecuteResponse,
    dependencies=[Depends(require_token)],
    responses={
        **_RUN_ERRORS,
        502: {"model": ExecuteResponse, "description": "The provider failed (success false)."},
        503: {"model": ExecuteResponse, "description": "Not sent: breaker open / rate limit."},
    },
)
async def execute(body: ExecuteRequest, state: State, response: Response) -> ExecuteResponse:
    """Run one agent on one task. A failed run is a normal answer with ``success: false``:
    HTTP 200, or 502 when the provider failed, or 503 when the call was not sent."""
    _check_run(body, state)
    if state.orchestrator.project.settings.cluster.database_url is not None:
        ex = await _in_cluster(body, state)  # a worker runs it
    else:
        ex = await state.orchestrator.execute(body.agent, body.task, _run_options(body))
    response.status_code = status_of_execution(ex)
    return ExecuteResponse.of(ex)


def _check_run(body: ExecuteRequest, state: ServerState) -> None:
    """Refuse an unknown agent (404, with suggestions) or a retired/malformed model (400)."""
    project = state.orchestrator.project
    project.agent(body.agent)
    if body.model:
        project.catalog.resolve(body.model, where="model")


async def checked_run(body: ExecuteRequest, state: State) -> ExecuteRequest:
    """:func:`_check_run` as a dependency: its errors are answered before a stream starts."""
    _check_run(body, state)
    return body


def _run_options(body: ExecuteRequest) -> RunOptions:
    return RunOptions(
        model=body.model,
        max_tokens=body.max_tokens,
        temperature=body.temperature,
        context=body.context,
        use_cache=body.use_cache,
        refresh=body.refresh,
        use_memory=body.use_memory,
    )


async def _in_cluster(body: ExecuteRequest, state: ServerState) -> Execution:
    from ._cluster import execute_in_cluster

    orch = state.orchestrator
    timeout = orch.timeout_seconds
    limit = timeout if timeout is not None else orch.project.settings.performance.timeout_seconds
    return await execute_in_cluster(orch.project, body, limit)


@router.post(
    "/execute/stream",
    response_class=EventSourceResponse,
    dependencies=[Depends(require_token)],
    responses=_RUN_ERRORS,
)
async def execute_stream(
    body: Annotated[ExecuteRequest, Depends(checked_run)], state: State
) -> AsyncIterator[ServerSentEvent]:
    """Run one agent on one task, its answer as Server-Sent Events while the model writes it:
    ``delta`` events (``{"text": ...}``; a cached answer is one delta), then one ``end`` event —
    the document ``POST /execute`` answers, plus the HTTP ``status`` it would have had. The same
    pipeline as ``/execute``: retries only before the first token, metrics once at the end, the
    cache stores only a whole answer. A client that disconnects cancels the call upstream."""
    if state.orchestrator.project.settings.cluster.database_url is not None:
        ex = await _in_cluster(body, state)  # a worker runs it: the answer comes whole
        if ex.success and ex.output:
            yield ServerSentEvent(event="delta", data={"text": ex.output})
        yield _end_event(ex)
        return
    from ..streaming import StreamEnd

    async for event in state.orchestrator.stream(body.agent, body.task, _run_options(body)):
        if isinstance(event, StreamEnd):
            yield _end_event(event.execution)
        else:
            yield ServerSentEvent(event="delta", data={"text": event.text})


def _end_event(ex: Execution) -> ServerSentEvent:
    document = ExecuteResponse.of(ex).model_dump(mode="json")
    return ServerSentEvent(event="end", data={**document, "status": status_of_execution(ex)})


@router.post(
    "/workflows/{name}/run",
    response_model=WorkflowRunResponse,
    dependencies=[Depends(require_token)],
    responses={
        **_RUN_ERRORS,
        502: {"model": WorkflowRunResponse, "description": "Failed: a step's provider failed."},
        503: {"model": WorkflowRunResponse, "description": "Failed: a step was not sent."},
    },
)
async def run_workflow(
    name: str, body: WorkflowRunRequest, state: State, response: Response
) -> WorkflowRunResponse:
    """Run a workflow of the project (list or DAG form). ``status``: succeeded, partial or
    failed; HTTP 200 unless it failed because of the provider (502) or an open breaker (503)."""
    from ..workflows.api import load_workflow

    orch = state.orchestrator
    dag = load_workflow(orch.project, name)  # unknown: 404; malformed: 400
    if orch.project.settings.cluster.database_url is not None:  # cluster mode: queued, durable
        from ._cluster import workflow_in_cluster

        result = await workflow_in_cluster(orch.project, name, body)
        response.status_code = status_of_workflow(result)
        return WorkflowRunResponse.of(result)
    result = await orch.execute_workflow(dag, body.task, **body.run_options())
    response.status_code = status_of_workflow(result)
    return WorkflowRunResponse.of(result)


@router.get("/project", response_model=ProjectOut)
async def project_info(state: State) -> ProjectOut:
    """The project this server runs: agents, workflows, provider."""
    orch = state.orchestrator
    project = orch.project
    s = project.settings
    provider = orch.provider
    agents = [
        {
            "name": n,
            "priority": a.priority,
            "domains": list(a.domains),
            "description": a.description,
        }
        for n, a in sorted(s.agents.items(), key=lambda kv: (kv[1].priority, kv[0]))
    ]
    workflows: dict[str, list[str]] = {}
    for name, entry in s.workflows.items():
        workflows[name] = (
            list(entry) if isinstance(entry, list) else [st.agent for st in entry.steps]
        )
    return ProjectOut(
        name=s.name,
        config_path=state.shown_path(project.config_path),
        provider=provider.name,
        simulated=provider.simulated,
        default_model=project.catalog.default,
        agents=agents,
        workflows=workflows,
        metrics_enabled=orch.metrics is not None,
        token_required=state.token is not None,
    )


# --- analytics ----------------------------------------------------------------------------------


def _query(
    since: str | None, until: str | None, state: ServerState, real_only: bool = False
) -> MetricsQuery:
    from ..metrics.analytics import make_query

    try:
        return make_query(
            since,
            until,
            now=lambda: utcnow(state.clock),
            simulated=False if real_only else None,
        )
    except ConfigurationError as exc:  # the CLI's option names → the query parameters' names
        key = exc.key or ""
        message = exc.message.removeprefix(f"{key}: ") if key else exc.message
        raise ConfigurationError(message, key=key.lstrip("-") or None, hint=exc.hint) from None


async def _ask(state: ServerState, question: Callable[[Analytics], T]) -> T:
    """Answer from the metrics store, off the event loop (flushes pending records first)."""
    return await state.ask_metrics(lambda tracker: question(tracker.analytics()))


def _period(q: MetricsQuery) -> dict[str, Any]:
    from ..metrics.record import from_us

    return {
        "since": None if q.since_us is None else from_us(q.since_us),
        "until": None if q.until_us is None else from_us(q.until_us),
    }


async def _grouped(
    state: ServerState,
    dimension: Literal["agent", "model", "workflow"],
    since: str | None,
    until: str | None,
    real_only: bool,
) -> dict[str, Any]:
    """The body of ``/agents``, ``/models`` and ``/workflows``: the period and its groups."""
    q = _query(since, until, state, real_only)
    groups = await _ask(state, lambda a: a.by(dimension, q))
    return {**_period(q), "groups": [g.to_dict(dimension) for g in groups]}


@router.get("/summary", response_model=SummaryResponse, responses=_ERRORS)
async def summary(
    state: State, since: Since = None, until: Until = None, real_only: RealOnly = False
) -> SummaryResponse:
    """Executions, success rate, tokens, cost, cache hit rate, savings, p50/p95/p99 latency."""
    q = _query(since, until, state, real_only)
    stats = await _ask(state, lambda a: a.summary(q))
    return SummaryResponse(**_period(q), **stats.to_dict())


@router.get("/agents", response_model=AgentsResponse, responses=_ERRORS)
async def agents(
    state: State, since: Since = None, until: Until = None, real_only: RealOnly = False
) -> AgentsResponse:
    """Figures per agent, most expensive first."""
    return AgentsResponse.model_validate(await _grouped(state, "agent", since, until, real_only))


@router.get("/models", response_model=ModelsResponse, responses=_ERRORS)
async def models(
    state: State, since: Since = None, until: Until = None, real_only: RealOnly = False
) -> ModelsResponse:
    """Figures per model, most expensive first."""
    return ModelsResponse.model_validate(await _grouped(state, "model", since, until, real_only))


@router.get("/workflows", response_model=WorkflowsResponse, responses=_ERRORS)
async def workflows(
    state: State, since: Since = None, until: Until = None, real_only: RealOnly = False
) -> WorkflowsResponse:
    """Figures per workflow; executions outside any workflow are ``(none)``."""
    return WorkflowsResponse.model_validate(
        await _grouped(state, "workflow", since, until, real_only)
    )


@router.get("/trends", response_model=TrendsResponse, responses=_ERRORS)
async def trends(
    state: State,
    interval: Literal["hour", "day"] = "day",
    since: Since = None,
    until: Until = None,
    real_only: RealOnly = False,
) -> TrendsResponse:
    """One point per hour or day that has executions (rolled-up days stay whole days)."""
    q = _query(since, until, state, real_only)
    points = await _ask(state, lambda a: a.trends(q, interval))
    return TrendsResponse.model_validate(
        {**_period(q), "interval": interval, "points": [p.to_dict() for p in points]}
    )


@router.get("/anomalies", response_model=AnomaliesResponse, responses=_ERRORS)
async def anomalies(state: State, since: Since = None, until: Until = None) -> AnomaliesResponse:
    """Anomalies of this server's detector: open now, and raised in the period (newest first).

    The detector sees every execution this server runs, seeded at start with the stored ones of
    the last ``server.warmup_hours``. For any stored period use ``claude-force analytics
    anomalies``."""
    q = _query(since, until, state)
    period = _period(q)
    if state.warming is not None:  # the baselines are still being seeded from the store
        await asyncio.shield(state.warming)
    monitor = state.monitor
    monitor.snapshot()  # resolves (and announces) stale anomalies
    detector = monitor.detector
    history = detector.history(since=period["since"], until=period["until"])
    return AnomaliesResponse.model_validate(
        {
            **period,
            "active": [a.to_dict() for a in detector.active()],
            "history": [a.to_dict() for a in history],
            "samples_seen": detector.samples_seen,
        }
    )


# --- live ---------------------------------------------------------------------------------------


def live_snapshot(state: ServerState) -> dict[str, Any]:
    """What the dashboard shows: live figures, anomalies, breakers and rate-limit headroom."""
    snap = state.monitor.snapshot()
    orch = state.orchestrator
    snap.update(orch.hub.snapshot())
    snap["provider"] = {"name": orch.provider.name, "simulated": orch.provider.simulated}
    snap["project"] = orch.project.settings.name
    return snap


@router.get("/live")
async def live(state: State) -> dict[str, Any]:
    """The dashboard's snapshot (also sent as the ``snapshot`` event of the stream)."""
    return live_snapshot(state)


@router.get("/events", response_class=EventSourceResponse)
async def events(state: State) -> AsyncIterator[ServerSentEvent]:
    """Server-Sent Events: a ``snapshot`` at once and every ``stats_interval_seconds``, and each
    event of the bus as it happens (``execution_started``, ``execution_finished``,
    ``retry_scheduled``, ``breaker_transition``, ``anomaly_raised`` …; see docs/dashboard.md)."""
    interval = state.settings.stats_interval_seconds
    loop = asyncio.get_running_loop()
    try:
        async with state.broadcaster.subscribe() as sub:
            yield ServerSentEvent(event="snapshot", data=live_snapshot(state), retry=2000)
            next_snapshot = loop.time() + interval
            while True:
                message = await sub.get(max(0.0, next_snapshot - loop.time()))
                if message is not None:
                    yield ServerSentEvent(
                        event=message.kind, data=message.data, id=str(message.seq)
                    )
                if loop.time() >= next_snapshot:
                    yield ServerSentEvent(event="snapshot", data=live_snapshot(state))
                    next_snapshot = loop.time() + interval
    except StreamClosed:
        return
