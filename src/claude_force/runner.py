"""One agent step: project definition + task → request → call pipeline → typed result.

The runner never raises for a failed run: it returns an :class:`Execution` with ``success=False``
and the error, and emits events. Cancellation propagates.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from . import callctx
from .catalog import ModelCatalog
from .errors import ClaudeForceError, ProviderTimeoutError
from .events import EventBus, ExecutionFinished, ExecutionStarted
from .messages import CacheTTL, ChatMessage, MessageRequest, MessageResponse, SystemBlock, Usage
from .providers.base import call_at_once
from .results import AgentResult
from .telemetry import tracing

log = logging.getLogger(__name__)

CallFn = Callable[[MessageRequest], Awaitable[MessageResponse]]
LoadFn = Callable[[str], Awaitable[str]]


@dataclass(frozen=True, slots=True)
class RunOptions:
    model: str | None = None
    max_tokens: int = 4096
    temperature: float | None = None
    workflow_name: str | None = None
    workflow_position: int | None = None
    context: str | None = None
    use_cache: bool = True
    refresh: bool = False
    workflow_run_id: str | None = None
    step_id: str | None = None
    use_memory: bool = True  # inject relevant past sessions as context (when memory is on)
    # the memory context found for this run (set by the orchestrator) and the sessions it shows
    memory_context: str | None = None
    memory_sessions: tuple[str, ...] = ()
    # this call's own timeout (a workflow step's timeout_seconds); the shorter of it and the
    # runner's applies, and becomes the call's deadline for the retry and rate-limit layers
    timeout_s: float | None = None
    # a fixed id for this execution (a durable step re-run after a crash keeps its id, so the
    # metrics and memory it records stay exactly-once); None: a fresh random id
    execution_id: str | None = None


@dataclass(frozen=True, slots=True)
class Execution:
    """Everything known about one agent execution."""

    execution_id: str
    agent: str
    task: str
    model: str
    provider: str
    success: bool
    output: str
    started_at: datetime
    duration_ms: float  # service time: from admission (a concurrency slot) to the answer
    queue_wait_ms: float = 0.0  # time spent waiting for a slot, never part of duration_ms
    usage: Usage = field(default_factory=Usage)
    cost_usd: Decimal | None = None
    cached: bool = False
    simulated: bool = False
    errors: tuple[str, ...] = ()
    error_type: str | None = None
    request_id: str | None = None
    stop_reason: str | None = None
    workflow_name: str | None = None
    workflow_position: int | None = None
    workflow_run_id: str | None = None
    step_id: str | None = None
    saved_cost_usd: Decimal | None = None  # a cached answer: what the call would have cost
    semantic_similarity: float | None = None  # a semantic cache hit: similarity to the cached task

    def metadata(self) -> dict[str, Any]:
        """The metadata dict of the public result types (keys kept from claude-force 2.2)."""
        u = self.usage
        return {
            "execution_id": self.execution_id,
            "model": self.model,
            "provider": self.provider,
            "input_tokens": u.input_tokens,
            "output_tokens": u.output_tokens,
            "cache_creation_input_tokens": u.cache_creation_input_tokens,
            "cache_read_input_tokens": u.cache_read_input_tokens,
            "tokens_used": u.total_tokens,
            "execution_time_ms": round(self.duration_ms, 3),
            "queue_wait_ms": round(self.queue_wait_ms, 3),
            "cost_usd": float(self.cost_usd) if self.cost_usd is not None else None,
            "estimated_cost": float(self.cost_usd) if self.cost_usd is not None else None,  # 2.2
            "cached": self.cached,
            "cache_match": (
                None if not self.cached else "semantic" if self.semantic_similarity else "exact"
            ),
            "semantic_similarity": self.semantic_similarity,
            "simulated": self.simulated,
            "request_id": self.request_id,
            "stop_reason": self.stop_reason,
            "started_at": self.started_at.isoformat(),
            "workflow_name": self.workflow_name,
            "workflow_position": self.workflow_position,
            "error_type": self.error_type,
        }

    def to_agent_result(self) -> AgentResult:
        return AgentResult(
            success=self.success,
            output=self.output,
            errors=list(self.errors),
            metadata=self.metadata(),
            agent_name=self.agent,
        )


def system_text(definition: str, contract: str | None) -> str:
    """The system prompt of an agent: its definition, then its contract (verbatim)."""
    if not contract:
        return definition
    return f"{definition.rstrip()}\n\n---\n\n# Agent contract\n\n{contract.strip()}\n"


def build_request(
    system: str,
    task: str,
    model: str,
    *,
    max_tokens: int = 4096,
    temperature: float | None = None,
    context: str | None = None,
    cache_ttl: CacheTTL = "5m",
) -> MessageRequest:
    """The Messages request for one step. The system prompt is a prompt-cache breakpoint
    (kept for ``cache_ttl``: ``models.prompt_cache_ttl``)."""
    return MessageRequest(
        model=model,
        messages=(user_turn(task, context),),
        max_tokens=max_tokens,
        system=(SystemBlock(system, cache=True, cache_ttl=cache_ttl),),
        temperature=temperature,
    )


def user_turn(task: str, context: str | None) -> ChatMessage:
    """The user message of a step: the task, after its context when there is one."""
    return ChatMessage("user", task if not context else f"{context.rstrip()}\n\n# Task\n\n{task}")


@dataclass(frozen=True, slots=True)
class RequestBuilder:
    """``build_request`` with everything but the system prompt fixed (a run's request without
    memory context). A slotted object rather than a ``functools.partial`` with keywords: the
    engine holds it for the whole run, and a partial with its keyword dict is four times the
    size (0.36 KB against 0.09)."""

    task: str
    model: str
    max_tokens: int
    temperature: float | None
    context: str | None
    cache_ttl: CacheTTL

    def __call__(self, system: str) -> MessageRequest:
        return build_request(
            system,
            self.task,
            self.model,
            max_tokens=self.max_tokens,
            temperature=self.temperature,
            context=self.context,
            cache_ttl=self.cache_ttl,
        )


class AgentRunner:
    """Runs one agent on one task, bounded by ``limit`` (a slot held per run) and ``timeout_s``."""

    def __init__(
        self,
        *,
        catalog: ModelCatalog,
        resolve_model: Callable[[str, str | None], str],
        load_system: LoadFn,
        call: CallFn,
        bus: EventBus,
        limit: AbstractAsyncContextManager[Any],
        timeout_s: float | None,
        provider_name: Callable[[], str],
        provider_simulated: Callable[[], bool] = lambda: False,
        prompt_cache_ttl: CacheTTL = "5m",
    ) -> None:
        self.catalog = catalog
        self._resolve_model = resolve_model
        # the engine's seams: what a 2.2 face inserts lands here (see AgentEngine.insert_*)
        self.load_system = load_system
        self.call = call
        self.bus = bus
        self._limit = limit
        self.timeout_s = timeout_s
        self._provider_name = provider_name
        self._provider_simulated = provider_simulated
        self.prompt_cache_ttl = prompt_cache_ttl

    async def run(self, agent: str, task: str, opts: RunOptions) -> Execution:
        """Run ``agent`` on ``task``: never raises for a failed run (cancellation propagates).

        One coroutine for the whole run, the span, the slot, the call context and the timeout
        entered here rather than in helper coroutines: every call in flight holds each
        coroutine of its chain, with its frame, for as long as it waits for the model."""
        # one OpenTelemetry span per execution (a no-op without a tracer provider); the model
        # calls made inside are its children
        with tracing.execution_span(agent, opts.model) as span:
            execution_id = opts.execution_id or uuid.uuid4().hex
            started_at = datetime.now(UTC)
            t0 = time.perf_counter()
            t_admitted: float | None = None  # set once a slot is taken: service time starts there
            model = opts.model or "unknown"
            try:
                model = self._resolve_model(agent, opts.model)
                async with self._limit:
                    t_admitted = time.perf_counter()
                    self.bus.emit(
                        ExecutionStarted(
                            execution_id,
                            agent,
                            model,
                            started_at,
                            opts.workflow_name,
                            opts.workflow_position,
                        )
                    )
                    system = await self.load_system(agent)
                    request, ctx, timeout = self._call_of(
                        agent, task, model, system, execution_id, opts
                    )
                    try:
                        # the call context and the deadline (asyncio.timeout's behaviour, one
                        # timer for all calls; None: no limit) in one with block
                        with callctx.calling(ctx, timeout):
                            response = await call_at_once(self.call, request)
                    except TimeoutError:
                        if timeout is None:  # not ours: reported as the unexpected error it is
                            raise
                        raise ProviderTimeoutError(
                            f"timed out after {timeout:g}s without a response"
                        ) from None
                ex = self._finish(
                    execution_id, agent, task, model, opts, started_at, t0, t_admitted, response
                )
            except ClaudeForceError as exc:
                times = _times(t0, t_admitted)
                ex = self._fail(execution_id, agent, task, model, opts, started_at, times, exc)
            except Exception as exc:  # unexpected: still a result, never a crash of the caller
                log.exception("agent %s failed unexpectedly", agent)
                times = _times(t0, t_admitted)
                ex = self._fail(execution_id, agent, task, model, opts, started_at, times, exc)
            tracing.finish_execution(span, ex)
            return ex

    def _call_of(
        self,
        agent: str,
        task: str,
        model: str,
        system: str,
        execution_id: str,
        opts: RunOptions,
    ) -> tuple[MessageRequest, callctx.CallContext, float | None]:
        """The request a run sends, the call context it is sent with and its timeout."""
        temperature = opts.temperature
        if temperature is not None and not self.catalog.sampling_allowed(model):
            log.warning("model %s rejects non-default temperature; sending without it", model)
            temperature = None
        request, keyed = self._requests(system, task, model, temperature, opts)
        timeout = _shorter(self.timeout_s, opts.timeout_s)
        ctx = callctx.CallContext(
            agent=agent,
            execution_id=execution_id,
            workflow_name=opts.workflow_name,
            workflow_run_id=opts.workflow_run_id,
            step_id=opts.step_id,
            use_cache=opts.use_cache,
            refresh=opts.refresh,
            deadline=time.monotonic() + timeout if timeout is not None else None,
            memory_keyed=keyed,
            memory_sessions=opts.memory_sessions,
            task=task,
        )
        return request, ctx, timeout

    def request_builder(self, task: str, model: str, opts: RunOptions) -> RequestBuilder:
        """From a system prompt to the request a run of ``task`` on ``model`` sends without
        memory context — the request the response cache keys (pure: the engine looks it up
        before the run, in a worker job, while memory is searched)."""
        temperature = opts.temperature
        if temperature is not None and not self.catalog.sampling_allowed(model):
            temperature = None
        return RequestBuilder(
            task, model, opts.max_tokens, temperature, opts.context, self.prompt_cache_ttl
        )

    def _requests(
        self,
        system: str,
        task: str,
        model: str,
        temperature: float | None,
        opts: RunOptions,
    ) -> tuple[MessageRequest, tuple[MessageRequest, MessageRequest] | None]:
        """The request to send and, when memory context is part of it, the pair (sent request,
        the same request without memory) the response cache keys on."""

        def request(context: str | None) -> MessageRequest:
            return build_request(
                system,
                task,
                model,
                max_tokens=opts.max_tokens,
                temperature=temperature,
                context=context,
                cache_ttl=self.prompt_cache_ttl,
            )

        memory = opts.memory_context
        if not memory:
            return request(opts.context), None
        both = f"{memory}\n\n{opts.context}" if opts.context else memory
        sent = request(both)
        # the same request without memory shares the sent one's system blocks: the call
        # context holds both for as long as the call waits
        bare = replace(sent, messages=(user_turn(task, opts.context),))
        return sent, (sent, bare)

    def _finish(
        self,
        execution_id: str,
        agent: str,
        task: str,
        model: str,
        opts: RunOptions,
        started_at: datetime,
        t0: float,
        t_admitted: float,
        response: MessageResponse,
    ) -> Execution:
        queue_wait_ms, duration_ms = _times(t0, t_admitted)
        cached = response.cached
        # a cached answer costs nothing; what it would have cost is its saving (for metrics)
        cost = self.catalog.prices.cost(
            response.model or model,
            response.usage,
            started_at.date(),
            cache_ttl=self.prompt_cache_ttl,
        )
        ex = Execution(
            execution_id=execution_id,
            agent=agent,
            task=task,
            model=response.model or model,
            provider=response.provider,
            success=True,
            output=response.text,
            started_at=started_at,
            duration_ms=duration_ms,
            queue_wait_ms=queue_wait_ms,
            usage=response.usage,
            cost_usd=Decimal(0) if cached else cost,
            saved_cost_usd=cost if cached else None,
            cached=cached,
            semantic_similarity=response.semantic_similarity if cached else None,
            simulated=response.simulated,
            request_id=response.request_id,
            stop_reason=response.stop_reason,
            **_workflow_fields(opts),
        )
        self._emit_finished(ex)
        return ex

    def _fail(
        self,
        execution_id: str,
        agent: str,
        task: str,
        model: str,
        opts: RunOptions,
        started_at: datetime,
        times: tuple[float, float],
        exc: BaseException,
    ) -> Execution:
        ex = failed_execution(
            agent,
            task,
            model,
            opts,
            exc,
            provider=self._provider_name(),
            simulated=self._provider_simulated(),
            execution_id=execution_id,
            started_at=started_at,
            times=times,
        )
        self._emit_finished(ex)
        return ex

    def _emit_finished(self, ex: Execution) -> None:
        self.bus.emit(finished_event(ex))


def _times(t0: float, t_admitted: float | None) -> tuple[float, float]:
    """(queue wait, service time) in ms of a call that arrived at ``t0`` and got its slot at
    ``t_admitted`` (``None``: it never got one, so all of its time was waiting)."""
    now = time.perf_counter()
    if t_admitted is None:
        return (now - t0) * 1000, 0.0
    return (t_admitted - t0) * 1000, (now - t_admitted) * 1000


def _workflow_fields(opts: RunOptions) -> dict[str, Any]:
    """The :class:`Execution` fields that say which workflow run and step it belongs to."""
    return {
        "workflow_name": opts.workflow_name,
        "workflow_position": opts.workflow_position,
        "workflow_run_id": opts.workflow_run_id,
        "step_id": opts.step_id,
    }


def failed_execution(
    agent: str,
    task: str,
    model: str,
    opts: RunOptions,
    exc: BaseException,
    *,
    provider: str,
    simulated: bool,
    execution_id: str | None = None,
    started_at: datetime | None = None,
    times: tuple[float, float] = (0.0, 0.0),
    cost_usd: Decimal | None = None,
) -> Execution:
    """A failed execution: the error's message and type; ``times`` are (queue wait, duration) ms."""
    return Execution(
        execution_id=execution_id or uuid.uuid4().hex,
        agent=agent,
        task=task,
        model=model,
        provider=provider,
        simulated=simulated,
        success=False,
        output="",
        started_at=started_at or datetime.now(UTC),
        duration_ms=times[1],
        queue_wait_ms=times[0],
        errors=(str(exc) or type(exc).__name__,),
        error_type=type(exc).__name__,
        cost_usd=cost_usd,
        **_workflow_fields(opts),
    )


def _shorter(a: float | None, b: float | None) -> float | None:
    """The shorter of two optional timeouts (``None``: no limit)."""
    return b if a is None else a if b is None else min(a, b)


_SHARED_FIELDS = tuple(
    f.name for f in fields(ExecutionFinished) if f.name not in ("error", "output")
)


def finished_event(ex: Execution) -> ExecutionFinished:
    """The event that announces a finished execution: the execution's fields of the same name,
    its first error as ``error`` and its answer (if any) as ``output``."""
    shared = {name: getattr(ex, name) for name in _SHARED_FIELDS}
    return ExecutionFinished(
        **shared, error=ex.errors[0] if ex.errors else None, output=ex.output or None
    )
