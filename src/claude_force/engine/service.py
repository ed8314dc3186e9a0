"""The engine: one service that owns the runs of a project.

:class:`AgentEngine` owns the runner, the call pipeline (with its resilience hub), memory,
tracking, the concurrency bound and the routing strategy. It is assembled eagerly when opened:
the provider is chosen, the cache store and the resilience layers are built, memory and metrics
are set up (their files open at first use, off the request path). So every configuration error
— in any section — is raised by :meth:`AgentEngine.open`, before a run starts (the CLI's exit 2).

A request travels strictly downward: ``execute`` → memory context → runner → pipeline (cache →
fallback → rate limit → breaker → retry) → the provider slot → the provider. Its events leave
once, through the bus (the metrics tracker is a subscriber). The engine never calls back up into
a face and never asks whether something was patched: a 2.2 face that needs another system-prompt
loader, another transport or another provider inserts it (:meth:`insert_loader`,
:meth:`insert_transport`, :meth:`insert_provider`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
from collections.abc import AsyncGenerator, Callable, Coroutine, Iterable
from contextvars import ContextVar
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Unpack

from .. import _heap
from .._closing import AsyncClosing
from ..config import Project, load_project
from ..errors import BudgetExceededError, ClaudeForceError, ConfigurationError
from ..events import EventBus
from ..pipeline import project_spec, wrap
from ..providers.base import Provider, ProviderSlot
from ..providers.select import announce, choose_provider, simulation_notice
from ..resilience.hub import ResilienceHub
from ..runner import (
    AgentRunner,
    Execution,
    LoadFn,
    RunOptions,
    failed_execution,
    finished_event,
    system_text,
)
from ..telemetry.logs import log_finished_run
from .bound import ConcurrencyBound

if TYPE_CHECKING:
    from ..cache.layer import CacheProvider, LookedAhead, SureMiss
    from ..memory.service import MemoryService
    from ..messages import MessageRequest
    from ..metrics.tracker import MetricsTracker
    from ..routing.classifier import Complexity
    from ..routing.router import RouteDecision
    from ..routing.strategy import RouteOptions, RoutingStrategy
    from ..streaming import StreamEvent
    from ..workflows.api import WorkflowOptions
    from ..workflows.dag import WorkflowDAG
    from ..workflows.result import WorkflowResult

log = logging.getLogger(__name__)

# the options of a run given none (frozen: one instance serves every such run, rather than one
# per run held by its frame while the model answers)
_DEFAULT_OPTIONS = RunOptions()

# the system prompt a run already read (or the error reading it), or is loading, for the
# runner's loader (_system_for_run) to take: set just before the runner starts, taken (set back
# to None) when the runner reads it, so nothing of it is held while the model answers
_PREFETCHED: ContextVar[tuple[str, str | Exception | asyncio.Future[str]] | None] = ContextVar(
    "claude_force_prefetched_system", default=None
)


@dataclass(frozen=True, slots=True)
class EngineOptions:
    """How to assemble an engine; ``None`` means "as the project's settings say"."""

    api_key: str | None = None  # else ANTHROPIC_API_KEY as read when the project was loaded
    simulate: bool | None = None
    provider: Provider | None = None  # run on this provider instead of choosing one
    max_concurrent: int | None = None
    timeout_seconds: float | None = None
    max_attempts: int | None = None  # resilience.retry.max_attempts
    tracking: bool = True
    memory: bool = True
    cache: bool = True
    cache_ttl_hours: float | None = None  # override cache.ttl_hours
    cache_max_size_mb: float | None = None  # override cache.max_size_mb
    routing: RoutingStrategy | None = None  # choose the model of runs that name none
    bus: EventBus | None = None


class AgentEngine(AsyncClosing):
    """Runs agents and workflows of one project; see the module documentation."""

    def __init__(self, project: Project, options: EngineOptions | None = None) -> None:
        o = options or EngineOptions()
        s = project.settings
        self.project = project
        self.options = o
        self.bus = o.bus or EventBus()
        self.bus.subscribe(log_finished_run)  # failed runs are logged, with their ids
        limit = (
            o.max_concurrent
            if o.max_concurrent is not None
            else s.performance.max_concurrent_agents
        )
        if limit < 1:
            raise ConfigurationError(
                f"max_concurrent must be at least 1, got {limit}", key="max_concurrent"
            )
        timeout = (
            o.timeout_seconds if o.timeout_seconds is not None else s.performance.timeout_seconds
        )
        self.max_attempts = (
            max(1, o.max_attempts)
            if o.max_attempts is not None
            else s.resilience.retry.max_attempts
        )
        # --- the call pipeline, bottom up -------------------------------------------------------
        key = project.environment.key(o.api_key)
        self._notice: str | None = None
        chosen = o.provider
        if chosen is None:
            self._notice = simulation_notice(s.provider, api_key=key, simulate=o.simulate)
            chosen = choose_provider(s.provider, api_key=key, simulate=o.simulate, quiet=True)
        self.provider = ProviderSlot(chosen)
        self.hub = ResilienceHub.from_project(project, self.bus, max_attempts=self.max_attempts)
        self.cache_enabled = o.cache and s.cache.enabled and s.features.cache_enabled
        cache = None
        if self.cache_enabled:
            from ..cache.layer import cache_layer

            cache = cache_layer(
                project, ttl_hours=o.cache_ttl_hours, max_size_mb=o.cache_max_size_mb
            )
        spec = project_spec(project, self.hub, self.bus, cache=cache)
        self.pipeline: Provider = wrap(self.provider, spec)
        self._cache: CacheProvider | None = None  # the outermost layer: looks ahead (_run)
        if cache is not None:
            from ..cache.layer import CacheProvider

            if isinstance(self.pipeline, CacheProvider):
                self._cache = self.pipeline
        # --- state and observers ----------------------------------------------------------------
        self.memory: MemoryService | None = None
        if o.memory and s.memory.enabled:
            from ..memory.service import MemoryService

            self.memory = MemoryService.for_project(project)
        self.metrics: MetricsTracker | None = None
        if o.tracking and s.metrics.enabled:
            from ..metrics.tracker import MetricsTracker

            self.metrics = MetricsTracker.for_project(project, bus=self.bus)
        # --- the runner -------------------------------------------------------------------------
        self.routing = o.routing
        self._loader: LoadFn = self.read_system
        self._prepared_loop: asyncio.AbstractEventLoop | None = None
        # each agent's system prompt as last read: the key a sure cache miss is checked with
        self._prompts: dict[str, str] = {}
        self._ahead = 0  # runs in _run_looking_ahead now (a lone one may look memory up inline)
        self._heap_held = False
        self.bound = ConcurrencyBound(limit)
        self.runner = AgentRunner(
            catalog=project.catalog,
            resolve_model=self.model_for,
            load_system=self._system_for_run,
            call=self.pipeline.send,
            bus=self.bus,
            limit=self.bound,
            timeout_s=timeout,
            provider_name=lambda: self.provider.name,
            provider_simulated=lambda: self.provider.simulated,
            prompt_cache_ttl=s.models.prompt_cache_ttl,
        )

    @classmethod
    def open(
        cls,
        target: Project | str | os.PathLike[str] | None = None,
        options: EngineOptions | None = None,
        **overrides: Any,
    ) -> AgentEngine:
        """Load the project (``None``: the nearest one) and assemble its engine; ``overrides``
        are :class:`EngineOptions` fields. Every configuration error is raised here."""
        project = target if isinstance(target, Project) else load_project(target)
        opts = replace(options or EngineOptions(), **overrides)
        return cls(project, opts)

    # --- what the faces may insert ----------------------------------------------------------------

    def insert_provider(self, provider: Provider | None) -> None:
        """Answer from ``provider`` below every layer of the pipeline (``None``: the chosen one)."""
        self.provider.insert(provider)

    def insert_transport(self, transport: Provider | None) -> None:
        """Send the runner's requests to ``transport`` instead of the pipeline (``None``: the
        pipeline again)."""
        self.runner.call = transport.send if transport is not None else self.pipeline.send

    def insert_loader(self, load: LoadFn | None) -> None:
        """Take agents' system prompts from ``load`` (``None``: the project's files again)."""
        self._loader = load if load is not None else self.read_system

    # --- the project ------------------------------------------------------------------------------

    @property
    def max_concurrent(self) -> int:
        return self.bound.limit

    @max_concurrent.setter
    def max_concurrent(self, n: int) -> None:
        if n < 1:
            raise ConfigurationError(
                f"max_concurrent must be at least 1, got {n}", key="max_concurrent"
            )
        if n >= self.bound.limit:
            self.bound.raise_to(n)
        else:
            self.bound.reset(n)

    @property
    def timeout_seconds(self) -> float | None:
        """Each run's time limit (``None``: none); a workflow step's own may be shorter."""
        return self.runner.timeout_s

    @timeout_seconds.setter
    def timeout_seconds(self, value: float | None) -> None:
        self.runner.timeout_s = value

    def allow_concurrency(self, n: int) -> None:
        """Let at least ``n`` calls run at once from now on (never lowers the bound)."""
        self.bound.raise_to(n)

    def model_for(self, agent: str, override: str | None) -> str:
        """The agent's model. For a name the project does not define (a loader inserted by a face
        may know it), the default model; the loader decides whether the agent exists."""
        if agent in self.project.settings.agents or self.project.problem(agent):
            return self.project.model_for(agent, override)  # a broken agent: its problem
        models = self.project.settings.models
        chosen = override or models.agents.get(agent) or self.project.catalog.default
        return self.project.catalog.resolve(chosen, where="model", file=self.project.config_path)

    async def read_system(self, agent: str) -> str:
        """The agent's system prompt from the project: definition and contract, read off the loop."""
        return await asyncio.to_thread(self.read_system_blocking, agent)

    def read_system_blocking(self, agent: str) -> str:
        """:meth:`read_system` for a worker thread (re-read only when the files changed)."""
        docs = self.project.read_agent(agent)
        return system_text(docs.definition, docs.contract)

    async def system_prompt(self, agent: str) -> str:
        """The system prompt runs of ``agent`` send (through an inserted loader, if any)."""
        return await self._loader(agent)

    # --- running --------------------------------------------------------------------------------

    async def prepare(self) -> None:
        """Load the provider before the clock: import the SDK and build its client (in a worker
        thread, never on the event loop). Awaited when the engine is entered and before any
        execution or workflow starts its timer; a no-op once done on this event loop."""
        loop = asyncio.get_running_loop()
        if self._prepared_loop is loop:
            return
        from ..providers.preload import prepare

        # (the metrics tracker's Prometheus series are not built here: only when first asked
        # for — by the server, when it is created — so a run nobody scrapes never loads them)
        if self.memory is not None:  # its file opens now, not inside the first run
            await self.memory.open()
        await prepare(self.pipeline)  # the provider's client; the cache store opens too
        self._prepared_loop = loop
        if not self._heap_held:  # full collections skip start-up's objects while engines run
            self._heap_held = True
            _heap.hold()

    async def __aenter__(self) -> AgentEngine:
        await self.prepare()
        return self

    async def execute(
        self,
        agent: str,
        task: str,
        options: RunOptions | None = None,
        *,
        auto: bool | None = None,
        complexity: Complexity | None = None,
    ) -> Execution:
        """Run one agent; never raises for a failed run (only cancellation propagates). With a
        routing strategy, a run whose options name no model runs on the model it chooses."""
        opts = options or _DEFAULT_OPTIONS
        if self._notice is not None:
            announce(self._notice)
            self._notice = None
        if self._prepared_loop is not asyncio.get_running_loop():
            await self.prepare()  # before any timer: loading the SDK is nobody's latency
        if self.routing is None:
            return await self._run(agent, task, opts)
        try:
            decision = await self.route(
                agent,
                task,
                model=opts.model,
                max_tokens=opts.max_tokens,
                complexity=complexity,
                auto=auto,
            )
        except BudgetExceededError as exc:
            ex = self.failed_execution(agent, task, opts, exc)
            self.bus.emit(finished_event(ex))  # the metrics tracker records the refusal
            return ex
        except ClaudeForceError:
            # an unknown agent or a retired model: the run reports it as a failed result
            return await self._run(agent, task, opts)
        from ..routing.strategy import RoutedExecution

        ex = await self._run(agent, task, replace(opts, model=decision.model))
        if self.metrics is not None:  # the dashboard's execution view shows why this model
            self.metrics.add_note(
                ex.execution_id, ex.started_at, {"routing": decision.to_metadata()}
            )
        return RoutedExecution.of(ex, decision)

    def stream(
        self,
        agent: str,
        task: str,
        options: RunOptions | None = None,
        *,
        auto: bool | None = None,
        complexity: Complexity | None = None,
    ) -> AsyncGenerator[StreamEvent, None]:
        """:meth:`execute` with the answer as it is written: ``TextDelta`` pieces, then one
        ``StreamEnd`` with the execution (see :mod:`claude_force.streaming`). Closing the
        iterator early cancels the run."""
        from ..streaming import stream_execution

        return stream_execution(
            lambda: self.execute(agent, task, options, auto=auto, complexity=complexity)
        )

    def _run(
        self, agent: str, task: str, opts: RunOptions, *, caught: bool = False
    ) -> Coroutine[Any, Any, Execution]:
        """The run's coroutine: :meth:`_run_looking_ahead` when its lookup can be made ahead,
        else :meth:`_run_plain`. A plain function, not a coroutine of its own: the run's await
        chain holds no frame of it while the model answers. ``caught``: an unexpected error
        becomes the run's failed result (an item of :meth:`execute_many`)."""
        ahead = self._look_ahead_plan(agent, task, opts)
        if ahead is not None:
            return self._run_looking_ahead(agent, task, opts, *ahead, caught=caught)
        return self._run_plain(agent, task, opts, caught=caught)

    async def _run_plain(
        self, agent: str, task: str, opts: RunOptions, *, caught: bool = False
    ) -> Execution:
        """A run that looks memory up (if it uses it) before the runner takes over."""
        given = opts
        try:
            memory = self.memory
            system: asyncio.Future[str] | None = None
            try:
                if memory is not None and opts.use_memory:  # relevant past sessions first
                    simulated = self.provider.simulated
                    if self._loader == self.read_system and memory.allows(agent):
                        # the project's files are read in the memory search's job on its worker
                        # thread (one hop, not two); the runner takes the prompt from here
                        system, (past, ids) = await memory.context_along(
                            agent,
                            task,
                            functools.partial(self.read_system_blocking, agent),
                            simulated=simulated,
                        )
                        _PREFETCHED.set((agent, system))
                    else:
                        # the agent's system prompt loads meanwhile (both wait on a worker
                        # thread): the runner takes it from here instead of waiting for it
                        # after the search
                        system = asyncio.ensure_future(self._loader(agent))
                        _PREFETCHED.set((agent, system))
                        past, ids = await memory.context_with_ids(agent, task, simulated=simulated)
                    if past:  # the runner puts it before the context; the cache keys without it
                        opts = replace(opts, memory_context=past, memory_sessions=ids)
                ex = await self.runner.run(agent, task, opts)
            finally:
                if _PREFETCHED.get() is not None:  # not taken: the run failed before reading it
                    _PREFETCHED.set(None)
                if system is not None:  # unused when the run failed before loading it
                    if not system.done():
                        system.cancel()
                    elif not system.cancelled():
                        system.exception()  # retrieved: the runner reported it if it mattered
            if memory is not None:  # successful, uncached runs of agents that allow it
                memory.remember_soon(ex)  # written off the hot path; close() waits for it
            return ex
        except Exception as exc:  # not CancelledError (a BaseException): cancellation propagates
            if not caught:
                raise
            return self._failed_item(agent, task, given, exc)

    def _look_ahead_plan(
        self, agent: str, task: str, opts: RunOptions
    ) -> tuple[CacheProvider, Callable[[str], MessageRequest]] | None:
        """The cache layer and the run's request builder when the run's exact lookup can be
        made before its memory context is known (see :meth:`_run_looking_ahead`)."""
        cache = self._cache
        if (
            cache is None
            or self._loader != self.read_system  # a face's loader: its own way, its own time
            or self.runner.call != self.pipeline.send  # a face's transport: no cache of ours
            or not cache.can_look_ahead(agent, use_cache=opts.use_cache, refresh=opts.refresh)
        ):
            return None
        try:
            model = self.model_for(agent, opts.model)
        except ClaudeForceError:  # the runner reports it
            return None
        return cache, self.runner.request_builder(task, model, opts)

    async def _run_looking_ahead(
        self,
        agent: str,
        task: str,
        opts: RunOptions,
        cache: CacheProvider,
        build: Callable[[str], MessageRequest],
        *,
        caught: bool = False,
    ) -> Execution:
        """A run whose exact-cache lookup does not wait for its memory context.

        The response cache keys a request without its memory context (unless
        ``cache.key_includes_memory``), so the lookup needs only the agent's system prompt: one
        job on the cache's worker thread reads the prompt, builds the request and looks its key
        up. On a hit, memory is never searched. On a miss, that job queues the memory search on
        memory's thread itself (no round trip through the event loop in between), the run goes
        on with the context, and the cache layer uses the lookup already made (single-flight,
        the semantic cache and the store after the answer as always). A miss the key filter is
        sure of takes :meth:`_sure_miss`'s way.

        The lookup and the search are :meth:`_look_ahead`'s (a coroutine that is done before
        the runner starts): what only they need — the search's future and the function that
        starts it, the prompt's reader — is not held by this frame while the model answers.
        """
        given = opts
        try:
            memory = self.memory
            self._ahead += 1
            try:
                looked, past, ids = await self._look_ahead(memory, agent, task, opts, cache, build)
                del build  # the request is built: the runner builds its own
                if isinstance(looked.system, str):
                    self._prompts[agent] = looked.system
                if past:  # the runner puts it before the context; the cache keys without it
                    opts = replace(opts, memory_context=past, memory_sessions=ids)
                _PREFETCHED.set((agent, looked.system))  # taken by the runner (_system_for_run)
                with cache.ahead(looked):
                    ex = await self.runner.run(agent, task, opts)
            finally:
                if _PREFETCHED.get() is not None:  # not taken: the run failed before reading it
                    _PREFETCHED.set(None)
                self._ahead -= 1
            if memory is not None:  # successful, uncached runs of agents that allow it
                memory.remember_soon(ex)
            return ex
        except Exception as exc:  # not CancelledError (a BaseException): cancellation propagates
            if not caught:
                raise
            return self._failed_item(agent, task, given, exc)

    async def _look_ahead(
        self,
        memory: MemoryService | None,
        agent: str,
        task: str,
        opts: RunOptions,
        cache: CacheProvider,
        build: Callable[[str], MessageRequest],
    ) -> tuple[LookedAhead, str, tuple[str, ...]]:
        """:meth:`_run_looking_ahead`'s lookup, and its memory context on a miss (``""`` and
        ``()``: none, or not searched). A memory search queued but not needed (a hit), or not
        waited for (cancelled), is cancelled here: its job does not run."""
        read = functools.partial(self.read_system_blocking, agent)
        if memory is None or not opts.use_memory or not memory.allows(agent):
            # no memory to search: a sure miss needs only the prompt (two ``stat`` calls while
            # the agent's files are unchanged) and the key filter, here; else the lookup job
            sure = self._sure_miss_of(agent, cache, build)
            if sure is not None:
                taken = self._confirmed_here(*sure, read, build)
                if taken is not None:
                    return taken, "", ()
            return await cache.look_ahead(read, build, None), "", ()
        looked, past, ids = await self._sure_miss(memory, agent, task, read, cache, build)
        if looked is not None:
            return looked, past, ids
        search, start = memory.search_soon(agent, task, simulated=self.provider.simulated)
        try:
            looked = await cache.look_ahead(read, build, start)
            if looked.found.hit is None:
                start()  # queued by the lookup's job already (then a no-op)
                past, ids = await search
            return looked, past, ids
        finally:
            if not search.done():
                search.cancel()  # a hit (never started), or cancelled: its job does not run

    async def _sure_miss(
        self,
        memory: MemoryService,
        agent: str,
        task: str,
        read: Callable[[], str],
        cache: CacheProvider,
        build: Callable[[str], MessageRequest],
    ) -> tuple[LookedAhead | None, str, tuple[str, ...]]:
        """A run the exact cache surely cannot answer skips the lookup job: its key (from the
        agent's prompt as last read) is absent from the store's key filter, so the prompt is
        read and memory searched in one job on memory's thread (one hop, not two), where the
        prompt read now is checked against the one keyed. ``None``: look it up as usual.

        When this is the only run in flight and memory has no job queued or running, there is
        no hop at all: the prompt is read here (two ``stat`` calls while the agent's files are
        unchanged), and the memory search is answered here when it is cheap
        (:meth:`MemoryService.context_now`); a costlier one is the one job on memory's thread.
        Among concurrent runs the job keeps the loop free for the others (a burst's lookups
        done on the loop one after another cost throughput; docs/memory.md, "Where a context
        lookup runs")."""
        found = self._sure_miss_of(agent, cache, build)
        if found is None:
            return None, "", ()
        sure, hint = found

        def along() -> tuple[str, MessageRequest, str] | None:
            system = read()
            confirmed = sure.confirm(system, hint, build)
            return None if confirmed is None else (system, *confirmed)

        simulated = self.provider.simulated
        if self._ahead == 1 and memory.idle:
            taken = self._confirmed_here(sure, hint, read, build)
            if taken is None:
                return None, "", ()
            now = memory.context_now(agent, task, simulated=simulated)
            if now is None:
                now = await memory.context_with_ids(agent, task, simulated=simulated)
            return taken, *now
        value, (past, ids) = await memory.context_if(agent, task, along, simulated=simulated)
        if value is None:
            return None, "", ()
        return sure.taken(*value), past, ids

    def _sure_miss_of(
        self, agent: str, cache: CacheProvider, build: Callable[[str], MessageRequest]
    ) -> tuple[SureMiss, str] | None:
        """The exact cache's sure miss for the run's request built on the agent's prompt as
        last read, and that prompt; ``None``: no prompt read yet, or not sure."""
        hint = self._prompts.get(agent)
        if hint is None:
            return None
        try:
            sure = cache.sure_miss(build(hint))
        except (TypeError, ValueError):
            return None
        return None if sure is None else (sure, hint)

    @staticmethod
    def _confirmed_here(
        sure: SureMiss,
        hint: str,
        read: Callable[[], str],
        build: Callable[[str], MessageRequest],
    ) -> LookedAhead | None:
        """``sure`` taken on the prompt read now, here (it must be the one keyed); ``None``:
        the prompt changed or could not be read — look it up as usual (which reports it)."""
        try:
            system = read()
            confirmed = sure.confirm(system, hint, build)
        except Exception:  # the lookup's own way reports it
            return None
        return None if confirmed is None else sure.taken(system, *confirmed)

    async def _system_for_run(self, agent: str) -> str:
        """The runner's loader: the prompt :meth:`_run` already read (or started loading) for
        this agent, taken once (the run holds it from here), else the current loader's (the
        project's files, or one a face inserted)."""
        prefetched = _PREFETCHED.get()
        if prefetched is None or prefetched[0] != agent:
            return await self._loader(agent)
        _PREFETCHED.set(None)
        system = prefetched[1]
        if isinstance(system, str):
            return system
        if isinstance(system, Exception):
            raise system  # reading it failed: the runner reports it
        return await system

    async def route(self, agent: str, task: str, **options: Unpack[RouteOptions]) -> RouteDecision:
        """The routing strategy's decision for one run (reads the system prompt off the loop).

        Raises ``BudgetExceededError`` when the cost threshold refuses it (``budget=False``
        ignores the threshold), or the configuration error of an unknown agent.
        """
        if self.routing is None:
            raise ConfigurationError("this engine has no routing strategy", key="routing")
        from ..routing.strategy import RouteRequest

        system = await self.system_prompt(agent)
        return self.routing.decide(RouteRequest(agent, task, system, options))

    async def execute_many(
        self, items: Iterable[tuple[str, str]], options: RunOptions | None = None
    ) -> list[Execution]:
        """Run many (agent, task) pairs concurrently within the bound; order preserved.

        One bad item never aborts the others: an item that is not an ``(agent, task)`` pair of
        strings, or an unexpected error while running it, becomes that item's failed result.
        """
        await self.prepare()  # once, before the items' clocks start
        return list(await asyncio.gather(*(self._execute_item(item, options) for item in items)))

    def _execute_item(
        self, item: object, options: RunOptions | None
    ) -> Coroutine[Any, Any, Execution]:
        """The coroutine of one item of :meth:`execute_many`. A pair of strings, on an engine
        prepared on this loop that has nothing to do before a run (no routing, no notice to
        show, :meth:`execute` not replaced), is its run's coroutine itself, which turns an
        unexpected error into the item's failed result: while the model answers, the item's
        task holds no frame of this method, of :meth:`execute` or of :meth:`_run`. Anything
        else goes the general way (:meth:`_execute_item_awaiting`)."""
        with contextlib.suppress(Exception):  # the general way reports it as the item's failure
            if (
                isinstance(item, (tuple, list))
                and len(item) == 2
                and isinstance(item[0], str)
                and isinstance(item[1], str)
                and self.routing is None
                and self._notice is None
                and "execute" not in vars(self)
                and type(self).execute is AgentEngine.execute
                and self._prepared_loop is asyncio.get_running_loop()
            ):
                return self._run(item[0], item[1], options or _DEFAULT_OPTIONS, caught=True)
        return self._execute_item_awaiting(item, options)

    async def _execute_item_awaiting(self, item: object, options: RunOptions | None) -> Execution:
        opts = options or _DEFAULT_OPTIONS
        pair = item if isinstance(item, (tuple, list)) and len(item) == 2 else None
        if pair is None or not (isinstance(pair[0], str) and isinstance(pair[1], str)):
            shown = ("", "") if pair is None else tuple("" if x is None else str(x) for x in pair)
            error = TypeError(f"expected an (agent_name, task) pair of strings, got {item!r:.120}")
            return self.failed_execution(shown[0], shown[1], opts, error)
        try:
            return await self.execute(pair[0], pair[1], options)
        except Exception as exc:  # not CancelledError (a BaseException): cancellation propagates
            return self._failed_item(pair[0], pair[1], opts, exc)

    def _failed_item(self, agent: str, task: str, opts: RunOptions, exc: Exception) -> Execution:
        """An item of :meth:`execute_many` whose run raised unexpectedly: logged, and its
        failed result."""
        log.warning("agent %s failed unexpectedly: %s", agent, exc, exc_info=True)
        return self.failed_execution(agent, task, opts, exc)

    def failed_execution(
        self, agent: str, task: str, opts: RunOptions, exc: Exception
    ) -> Execution:
        """A failed execution that sent nothing (costs $0)."""
        return failed_execution(
            agent,
            task,
            opts.model or "unknown",
            opts,
            exc,
            provider=self.provider.name,
            simulated=self.provider.simulated,
            cost_usd=Decimal(0),  # nothing was sent
        )

    async def execute_workflow(
        self, workflow: str | WorkflowDAG, task: str, **options: Unpack[WorkflowOptions]
    ) -> WorkflowResult:
        """Run a workflow of the project (by name) or a ``WorkflowDAG``: independent steps at
        the same time, within the bound. See :func:`claude_force.workflows.execute_workflow`."""
        from ..workflows.api import execute_workflow

        await self.prepare()  # before the workflow's clock starts
        return await execute_workflow(self, workflow, task, **options)

    async def run_workflow(
        self, workflow_name: str, task: str, pass_output_to_next: bool = True
    ) -> list[Execution]:
        """Run a workflow; one execution per step that ran, in step order (the list form is a
        chain that stops at the first failure)."""
        result = await self.execute_workflow(workflow_name, task, pass_outputs=pass_output_to_next)
        return result.executions()

    # --- lifecycle --------------------------------------------------------------------------------

    async def close(self) -> None:
        if self.memory is not None:
            await self.memory.aclose()
        if self.metrics is not None:
            await self.metrics.aclose()  # writes what is still queued
        await self.pipeline.aclose()
        if self._heap_held:
            self._heap_held = False
            _heap.release()

    aclose = close
