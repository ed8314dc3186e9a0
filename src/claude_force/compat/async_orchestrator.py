"""``AsyncAgentOrchestrator``: the 2.2 async API, a face over :class:`~claude_force.engine.AgentEngine`.

The face keeps 2.2's constructor, result type and hooks; the engine does the work. At the entry
of each public call the face checks whether a 2.2 test suite replaced a hook and, on a change,
inserts the adapter into its engine (see :mod:`claude_force.compat.hooks`). The
``_track_performance_async`` hook is called only when replaced: tracking itself has one path,
the event bus, so nothing is recorded twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import os
from collections.abc import AsyncGenerator, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict, Unpack

from .._closing import AsyncClosing
from ..config import Project, load_project
from ..engine.bound import ConcurrencyBound
from ..engine.service import AgentEngine, EngineOptions
from ..events import EventBus, ExecutionFinished
from ..inputs import check_run
from ..messages import ChatMessage, MessageRequest, MessageResponse
from ..providers.base import Provider, ProviderSlot
from ..providers.client import ClientProvider
from ..runner import Execution, RunOptions, finished_event
from .hooks import EngineAttribute, HookCallProvider, originals, replaced

if TYPE_CHECKING:
    from ..memory.service import MemoryService
    from ..metrics.tracker import MetricsTracker
    from ..resilience.hub import ResilienceHub
    from ..routing.strategy import RoutingStrategy
    from ..runner import AgentRunner
    from ..streaming import StreamEvent
    from ..workflows.api import WorkflowOptions
    from ..workflows.dag import WorkflowDAG
    from ..workflows.result import WorkflowResult

log = logging.getLogger("claude_force.async_orchestrator")  # the 2.2 module's logger name


class _Default(float):
    """A default argument value that can be told apart from the same number passed explicitly."""


_TTL_DEFAULT = _Default(24)
_SIZE_DEFAULT = _Default(100)


@dataclass
class AsyncAgentResult:
    """Result of :meth:`AsyncAgentOrchestrator.execute_agent` (shape kept from 2.2)."""

    agent_name: str
    success: bool
    output: str
    metadata: dict[str, Any] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_execution(cls, ex: Execution) -> AsyncAgentResult:
        return cls(ex.agent, ex.success, ex.output, ex.metadata(), list(ex.errors))


class FaceOptions(TypedDict, total=False):
    """The keyword-only options the sync faces pass to their async face (not in 2.2): run
    ``simulate``-d, on a given ``provider``, for an already loaded ``project``, with a bound of
    ``max_concurrent`` or on a given event ``bus``."""

    simulate: bool | None
    provider: Provider | None
    project: Project | None
    max_concurrent: int | None
    bus: EventBus | None


class AsyncAgentOrchestrator(AsyncClosing):
    """Runs agents of a ``.claude/`` project against Claude (or the simulated model)."""

    def __init__(
        self,
        config_path: str | os.PathLike[str] | None = None,
        api_key: str | None = None,
        max_concurrent: int | None = None,
        timeout_seconds: float | None = None,
        max_retries: int | None = None,
        enable_tracking: bool = True,
        enable_memory: bool = True,
        enable_cache: bool = True,
        cache_ttl_hours: float = _TTL_DEFAULT,
        cache_max_size_mb: float = _SIZE_DEFAULT,
        *,
        simulate: bool | None = None,
        provider: Provider | None = None,
        project: Project | None = None,
        bus: EventBus | None = None,
        routing: RoutingStrategy | None = None,
    ) -> None:
        project = project if project is not None else load_project(config_path)
        # 2.2 arguments given explicitly win over claude.json's cache section
        ttl = None if cache_ttl_hours is _TTL_DEFAULT else cache_ttl_hours
        size = None if cache_max_size_mb is _SIZE_DEFAULT else cache_max_size_mb
        self.engine = AgentEngine(
            project,
            EngineOptions(
                api_key=api_key,
                simulate=simulate,
                provider=provider,
                max_concurrent=max_concurrent,
                timeout_seconds=timeout_seconds,
                # 2.2 passed max_retries to tenacity's stop_after_attempt: it counts attempts
                max_attempts=max_retries,
                tracking=enable_tracking,
                memory=enable_memory,
                cache=enable_cache,
                cache_ttl_hours=ttl,
                cache_max_size_mb=size,
                routing=routing,
                bus=bus,
            ),
        )
        self.enable_tracking = enable_tracking
        self.enable_memory = enable_memory
        self.cache_ttl_hours = float(cache_ttl_hours)
        self.cache_max_size_mb = float(cache_max_size_mb)
        # where 2.2 sent finished executions; assigning another sink (with an async
        # ``record_event_async(event)``) makes the face send them there too
        self.tracker: Any = self.engine.metrics
        self._outer_client: Any = None  # a client the sync face was given (``client``)
        self._semaphore: ConcurrencyBound | None = None  # 2.2: set by ``_get_semaphore()``
        self._inserted: tuple[Any, Any, Any] = (None, None, None)

    # --- the engine's parts, under their 2.2 / 2.3 names ------------------------------------------

    project: EngineAttribute[Project] = EngineAttribute()
    bus: EngineAttribute[EventBus] = EngineAttribute()
    max_concurrent: EngineAttribute[int] = EngineAttribute(writable=True)
    timeout_seconds: EngineAttribute[float | None] = EngineAttribute(
        writable=True
    )  # 2.2 tests set it
    max_retries: EngineAttribute[int] = EngineAttribute("max_attempts")
    enable_cache: EngineAttribute[bool] = EngineAttribute("cache_enabled")
    metrics: EngineAttribute[MetricsTracker | None] = EngineAttribute()
    memory: EngineAttribute[MemoryService | None] = EngineAttribute()
    provider: EngineAttribute[ProviderSlot] = EngineAttribute()
    pipeline: EngineAttribute[Provider] = EngineAttribute()
    hub: EngineAttribute[ResilienceHub] = EngineAttribute()
    routing: EngineAttribute[RoutingStrategy | None] = EngineAttribute()
    runner: EngineAttribute[AgentRunner] = EngineAttribute()

    @property
    def config_path(self) -> Path:
        return self.engine.project.config_path

    def allow_concurrency(self, n: int) -> None:
        self.engine.allow_concurrency(n)

    @property
    def async_client(self) -> Any:
        """The SDK's ``AsyncAnthropic`` client when the real provider is in use, else ``None``.

        Patching this class-level property (as 2.2 test suites do) routes every call through the
        patched object's ``messages.create``.
        """
        if self._outer_client is not None:
            return self._outer_client
        return getattr(self.engine.provider.chosen, "client", None)

    @property
    def _async_client(self) -> Any:
        """2.2's private client slot: the SDK client once created (``None`` before, and after
        :meth:`close`), or the client a test assigned. Assigning one routes every call through its
        ``messages.create``, as patching ``async_client`` does; assigning ``None`` undoes it."""
        if self._outer_client is not None:
            return self._outer_client
        return getattr(self.engine.provider.chosen, "_client", None)

    @_async_client.setter
    def _async_client(self, client: Any) -> None:
        self._outer_client = client

    async def _get_semaphore(self) -> ConcurrencyBound:
        """The concurrency bound (2.2's private accessor, which test suites call or patch). A task
        holding a slot may enter it again (the runner takes a slot of the same bound)."""
        self._semaphore = self.engine.bound
        return self._semaphore

    # --- 2.2 hooks: replaced ones are put into the engine at the entry of each call ---------------

    def _sync_hooks(self) -> None:
        loader = replaced(self, "load_agent_definition", _HOOKS)
        call = replaced(self, "_call_api_with_retry", _HOOKS)
        client = self._outer_client
        if client is None:
            client = replaced(self, "async_client", _HOOKS)
        current = (loader, call, client)
        if all(a is b for a, b in zip(current, self._inserted, strict=True)):
            return
        engine = self.engine
        engine.insert_loader(loader)
        engine.insert_transport(HookCallProvider(call, engine.provider) if call else None)
        engine.insert_provider(ClientProvider(client) if client is not None else None)
        self._inserted = current

    async def load_agent_definition(self, agent_name: str) -> str:
        """The agent's system prompt: its definition and contract, read off the event loop."""
        return await self.engine.read_system(agent_name)

    async def system_prompt(self, agent_name: str) -> str:
        """The system prompt runs of ``agent_name`` send (a replaced hook's, if any)."""
        self._sync_hooks()
        return await self.engine.system_prompt(agent_name)

    async def _call_api_with_retry(
        self,
        model: str,
        max_tokens: int,
        temperature: float | None,
        messages: Sequence[Mapping[str, Any]],
        *,
        request: MessageRequest | None = None,
    ) -> MessageResponse:
        """Send one request through the call pipeline (retries live in the pipeline)."""
        if request is None:
            request = MessageRequest(
                model=model,
                messages=tuple(ChatMessage(m["role"], str(m["content"])) for m in messages),
                max_tokens=max_tokens,
                temperature=temperature,
            )
        return await self.engine.pipeline.send(request)

    def _outer_tracker(self) -> Any:
        """A 2.2 tracker sink assigned to ``tracker`` (not the engine's own metrics), if any."""
        tracker = self.tracker
        return None if tracker is None or tracker is self.engine.metrics else tracker

    async def _track_performance_async(self, **kw: Any) -> None:
        """Record one finished execution (2.2 hook) in a tracker sink assigned to ``tracker``.

        The engine's own metrics record every execution from the event bus; the face calls this
        hook only when a test suite replaced it or assigned another ``tracker``.
        """
        event = kw.get("event")
        tracker = self._outer_tracker()
        if tracker is not None and isinstance(event, ExecutionFinished):
            try:
                await tracker.record_event_async(event)
            except Exception as exc:  # as in 2.2: a run never fails because tracking did
                log.warning("execution %s not tracked: %s", event.execution_id, exc)

    async def _tracked(self, executions: Sequence[Execution]) -> None:
        if not self.enable_tracking:
            return
        track = replaced(self, "_track_performance_async", _HOOKS)
        if track is None:
            if self._outer_tracker() is None:
                return
            track = self._track_performance_async
        for ex in executions:
            await track(**_track_keywords(ex))

    # --- public API ------------------------------------------------------------------------------

    async def execute(
        self, agent_name: str, task: str, options: RunOptions | None = None
    ) -> Execution:
        """Run one agent and return the typed :class:`Execution`."""
        self._sync_hooks()
        ex = await self.engine.execute(agent_name, task, options)
        await self._tracked((ex,))
        return ex

    async def stream(
        self, agent_name: str, task: str, options: RunOptions | None = None
    ) -> AsyncGenerator[StreamEvent, None]:
        """Run one agent with its answer as it is written: ``TextDelta`` pieces, then one
        ``StreamEnd`` with the :class:`Execution` (see :mod:`claude_force.streaming`). Closing
        the iterator early (``break``, a cancelled task) cancels the call."""
        from ..streaming import StreamEnd

        self._sync_hooks()
        async with contextlib.aclosing(self.engine.stream(agent_name, task, options)) as events:
            async for event in events:
                if isinstance(event, StreamEnd):
                    await self._tracked((event.execution,))
                yield event

    async def execute_agent(
        self,
        agent_name: str,
        task: str,
        model: str | None = None,
        max_tokens: int = 4096,
        temperature: float | None = None,
        workflow_name: str | None = None,
        workflow_position: int | None = None,
        use_memory: bool = True,
    ) -> AsyncAgentResult:
        """Run one agent on a task. Failures come back as ``success=False`` with ``errors``.

        An agent name with characters other than letters, digits, ``-`` and ``_``, or a task over
        100,000 characters, raises a ``ValueError`` (as in 2.2) before anything is read or sent.
        """
        check_run(agent_name, task)
        # RunOptions' first fields are 2.2's run arguments, in 2.2's order
        opts = RunOptions(
            model, max_tokens, temperature, workflow_name, workflow_position, use_memory=use_memory
        )
        return AsyncAgentResult.from_execution(await self.execute(agent_name, task, opts))

    async def execute_many(
        self, items: Iterable[tuple[str, str]], options: RunOptions | None = None
    ) -> list[Execution]:
        """Run many (agent, task) pairs concurrently within ``max_concurrent``; order preserved.

        One bad item never aborts the others: an item that is not an ``(agent, task)`` pair of
        strings, or an unexpected error while running it, becomes that item's failed result.
        """
        self._sync_hooks()
        executions = await self.engine.execute_many(items, options)
        await self._tracked(executions)
        return executions

    async def execute_multiple(
        self, tasks: Iterable[tuple[str, str]], **kwargs: Any
    ) -> list[AsyncAgentResult]:
        """2.2 API: run (agent, task) pairs concurrently; one failure never aborts the others.

        Each pair goes through :meth:`execute_agent` (so a patched ``execute_agent`` sees every
        task) while holding a slot of the bound from :meth:`_get_semaphore`: at most
        ``max_concurrent`` at once. ``kwargs`` are ``execute_agent``'s (``model``,
        ``max_tokens``, ``temperature`` …) and apply to every task, as in 2.2. An item that is not
        an ``(agent, task)`` pair of strings, or whose ``execute_agent`` raises (an invalid agent
        name, a task too large …), is a failed result of its own.
        """
        # a keyword execute_agent does not take is the caller's bug: raised, as in 2.2 (a callable
        # without a signature to check raises ValueError here: then each call decides)
        with contextlib.suppress(ValueError):
            inspect.signature(self.execute_agent).bind("agent", "task", **kwargs)
        bound = await self._get_semaphore()
        model = kwargs.get("model")
        failed_opts = RunOptions(model=model if isinstance(model, str) else None)

        async def one(item: object) -> AsyncAgentResult:
            pair = item if isinstance(item, (tuple, list)) and len(item) == 2 else None
            if pair is None or not (isinstance(pair[0], str) and isinstance(pair[1], str)):
                shown = (
                    ("", "") if pair is None else tuple("" if x is None else str(x) for x in pair)
                )
                error = TypeError(
                    f"expected an (agent_name, task) pair of strings, got {item!r:.120}"
                )
                ex = self.engine.failed_execution(shown[0], shown[1], failed_opts, error)
                return AsyncAgentResult.from_execution(ex)
            async with bound:
                try:
                    result: AsyncAgentResult = await self.execute_agent(pair[0], pair[1], **kwargs)
                    return result
                except Exception as exc:  # not CancelledError: cancellation propagates
                    log.warning("agent %s failed: %s", pair[0], exc)
                    ex = self.engine.failed_execution(pair[0], pair[1], failed_opts, exc)
                    return AsyncAgentResult.from_execution(ex)

        return list(await asyncio.gather(*(one(item) for item in tasks)))

    async def run_workflow(
        self, workflow_name: str, task: str, pass_output_to_next: bool = True
    ) -> list[Execution]:
        """Run a workflow (list or DAG form); one execution per step that ran, in step order.

        The list form is a chain: each agent gets the previous one's output, and the run stops
        at the first failure. See :meth:`execute_workflow` for the full result.
        """
        result = await self.execute_workflow(workflow_name, task, pass_outputs=pass_output_to_next)
        return result.executions()

    async def execute_workflow(
        self, workflow: str | WorkflowDAG, task: str, **options: Unpack[WorkflowOptions]
    ) -> WorkflowResult:
        """Run a workflow of the project (by name) or a ``WorkflowDAG``: independent steps at
        the same time, within ``max_concurrent``. See :func:`claude_force.workflows.execute_workflow`.
        """
        from ..workflows.api import execute_workflow

        await self.engine.prepare()  # before the workflow's clock starts
        # the face is the step runner: each step enters through execute (and its hooks)
        return await execute_workflow(self, workflow, task, **options)

    async def prepare(self) -> None:
        """Load the provider before any clock starts (see :meth:`AgentEngine.prepare`)."""
        await self.engine.prepare()

    async def __aenter__(self) -> AsyncAgentOrchestrator:
        await self.engine.prepare()
        return self

    async def close(self) -> None:
        self._outer_client = None  # 2.2: ``_async_client`` is None after close()
        await self.engine.close()


_HOOKS = originals(
    AsyncAgentOrchestrator,
    "load_agent_definition",
    "_call_api_with_retry",
    "_track_performance_async",
    "async_client",
)


def _track_keywords(ex: Execution) -> dict[str, Any]:
    """The keyword arguments claude-force 2.2 passed to ``_track_performance_async`` (test
    suites assert on them), and the typed record (``event``, ``execution``)."""
    u = ex.usage
    legacy = (ex.agent, ex.task, ex.success, ex.duration_ms, ex.model, u.input_tokens)
    names = ("agent_name", "task", "success", "execution_time_ms", "model", "input_tokens")
    return dict(
        zip(names, legacy, strict=True),
        output_tokens=u.output_tokens,
        error_type=ex.error_type,
        workflow_name=ex.workflow_name,
        workflow_position=ex.workflow_position,
        event=finished_event(ex),
        execution=ex,
    )
