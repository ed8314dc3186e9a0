"""``MemoryService``: agent memory for the async core, never blocking the event loop.

Every call runs the blocking :class:`~claude_force.memory.store.MemoryStore` method as one job
on a private single-thread executor (one hop per call, the SQLite connection stays on one
thread). Why not aiosqlite: a context load is several statements plus the cache check, and
aiosqlite hops to its thread per statement; and the sync 2.2 face needs the same store without
an event loop, so there is one implementation, not a sync and an async twin.

The orchestrator uses :meth:`MemoryService.context_for` before a run and
:meth:`MemoryService.remember` after it; both log and swallow storage failures, because a
broken memory must never fail an agent run.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from ..clock import WALL_CLOCK, Clock
from ..errors import ClaudeForceError
from ..state.worker import Worker
from .location import cluster_memory_db, memory_path
from .records import Hit, MemoryStats, SearchQuery, Session
from .settings import MemorySettings
from .store import MemoryStore

if TYPE_CHECKING:
    from ..config import Project

log = logging.getLogger(__name__)

T = TypeVar("T")


class _UsageLike(Protocol):
    @property
    def input_tokens(self) -> int: ...
    @property
    def output_tokens(self) -> int: ...


class ExecutionLike(Protocol):
    """What :meth:`MemoryService.remember` reads of a finished run (``runner.Execution``)."""

    @property
    def execution_id(self) -> str: ...
    @property
    def agent(self) -> str: ...
    @property
    def task(self) -> str: ...
    @property
    def output(self) -> str: ...
    @property
    def success(self) -> bool: ...
    @property
    def cached(self) -> bool: ...
    @property
    def simulated(self) -> bool: ...
    @property
    def model(self) -> str: ...
    @property
    def provider(self) -> str: ...
    @property
    def started_at(self) -> datetime: ...
    @property
    def duration_ms(self) -> float: ...
    @property
    def usage(self) -> _UsageLike: ...
    @property
    def stop_reason(self) -> str | None: ...
    @property
    def workflow_name(self) -> str | None: ...
    @property
    def workflow_position(self) -> int | None: ...


LEGACY_FILE = "sessions.db"


class MemoryService:
    """Async access to one :class:`MemoryStore`."""

    def __init__(
        self,
        store: MemoryStore,
        *,
        allows: Callable[[str], bool] | None = None,
    ) -> None:
        self.store = store
        self._allows = allows
        self._worker = Worker("claude-force-memory")
        self._writes: set[asyncio.Task[str | None]] = set()

    @classmethod
    def for_project(cls, project: Project, *, clock: Clock = WALL_CLOCK) -> MemoryService:
        """The memory of ``project`` (``memory`` settings; agents with ``"memory": false`` are
        neither given context nor remembered)."""
        settings: MemorySettings = project.settings.memory
        agents = project.settings.agents

        def allows(agent: str) -> bool:
            spec = agents.get(agent)
            return spec is None or spec.memory

        store = MemoryStore(
            memory_path(project),
            settings,
            clock=clock,
            legacy_source=project.claude_dir / LEGACY_FILE,  # where 2.2 kept its sessions
            db=cluster_memory_db(project),
        )
        return cls(store, allows=allows)

    @property
    def settings(self) -> MemorySettings:
        return self.store.settings

    def allows(self, agent: str) -> bool:
        """Whether memory is used for ``agent`` (the agent's own ``memory`` setting)."""
        return self._allows is None or self._allows(agent)

    async def _run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await self._submit(fn, *args, **kwargs)

    def _submit(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> asyncio.Future[T]:
        """Queue ``fn`` on the store's worker thread now (jobs run in the order queued)."""
        return self._worker.submit(fn, *args, **kwargs)

    # --- what the orchestrator calls (never raises for a storage problem) -----------------------

    async def open(self) -> None:
        """Open the store ahead of the first run (the engine's ``prepare``, before the clock);
        a failure is logged and left for the first run, which runs without memory context."""
        try:
            await self._run(self.store.open)
        except Exception as exc:
            log.debug("memory not opened ahead of the first run: %s", exc)

    async def context_for(self, agent: str, task: str, *, simulated: bool | None = None) -> str:
        """Context of relevant past sessions for ``agent`` on ``task``; ``""`` when there is none,
        the agent opted out, or memory cannot be read (logged)."""
        if not self.allows(agent):
            return ""
        try:
            return await self._run(self.store.context_for, agent, task, simulated=simulated)
        except (ClaudeForceError, OSError, ValueError) as exc:
            log.warning("memory: no context for agent %s: %s", agent, exc)
        except Exception as exc:  # sqlite3 errors and the unforeseen: a run must not fail
            log.warning("memory: no context for agent %s: %s: %s", agent, type(exc).__name__, exc)
        return ""

    async def context_with_ids(
        self, agent: str, task: str, *, simulated: bool | None = None
    ) -> tuple[str, tuple[str, ...]]:
        """:meth:`context_for` and the ids of the sessions it shows (``("", ())`` on failure)."""
        if not self.allows(agent):
            return "", ()
        try:
            return await self._run(self.store.context_with_ids, agent, task, simulated=simulated)
        except Exception as exc:  # storage errors and the unforeseen: a run must not fail
            log.warning("memory: no context for agent %s: %s: %s", agent, type(exc).__name__, exc)
        return "", ()

    async def remember(self, ex: ExecutionLike) -> str | None:
        """Store a finished run; returns the session id, or ``None`` when it is not stored:
        a failure, an answer from the response cache (nothing new), or an agent that opted out."""
        job = self._add_job(ex)
        return None if job is None else await self._settle(ex.agent, job)

    def remember_soon(self, ex: ExecutionLike) -> None:
        """:meth:`remember` in the background: the run returns without waiting for the write.

        The job is queued at once on the store's single worker thread, which runs jobs in order,
        so a later context lookup of this orchestrator sees the session; :meth:`flush` (and
        :meth:`aclose`) wait for the writes."""
        job = self._add_job(ex)
        if job is None:
            return
        task = asyncio.ensure_future(self._settle(ex.agent, job))
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    def _add_job(self, ex: ExecutionLike) -> asyncio.Future[str] | None:
        """Queue the write of ``ex``'s session (``None``: not to be stored)."""
        if not ex.success or ex.cached or not self.allows(ex.agent):
            return None
        metadata: dict[str, Any] = {
            "execution_id": ex.execution_id,
            "provider": ex.provider,
            "stop_reason": ex.stop_reason,
        }
        if ex.workflow_position is not None:
            metadata["workflow_position"] = ex.workflow_position
        return self._submit(
            self.store.add,
            ex.agent,
            ex.task,
            ex.output,
            ex.success,
            model=ex.model,
            input_tokens=ex.usage.input_tokens,
            output_tokens=ex.usage.output_tokens,
            execution_time_ms=ex.duration_ms,
            workflow=ex.workflow_name,
            simulated=ex.simulated,
            metadata=metadata,
            created_at=ex.started_at,
            # keyed by the execution: a durable step that runs again after a crash keeps
            # its execution id, so its session is stored once
            session_id=ex.execution_id,
        )

    @staticmethod
    async def _settle(agent: str, job: asyncio.Future[str]) -> str | None:
        try:
            return await job
        except Exception as exc:  # a run must not fail because memory could not be written
            log.warning("memory: session of agent %s not stored: %s", agent, exc)
            return None

    async def flush(self) -> None:
        """Wait until the sessions handed to :meth:`remember_soon` are stored."""
        while self._writes:
            await asyncio.gather(*list(self._writes), return_exceptions=True)

    # --- the rest of the API (errors propagate) -------------------------------------------------

    async def store_session(
        self, agent: str, task: str, output: str, success: bool, **fields: Any
    ) -> str:
        return await self._run(self.store.add, agent, task, output, success, **fields)

    async def search(self, query: SearchQuery) -> list[Hit]:
        return await self._run(self.store.search, query)

    async def get(self, session_id: str) -> Session | None:
        return await self._run(self.store.get, session_id)

    async def stats(self, agent: str | None = None) -> MemoryStats:
        return await self._run(self.store.stats, agent)

    async def prune(self, days: float | None = None) -> int:
        return await self._run(self.store.prune, days)

    async def clear(self, agent: str | None = None) -> int:
        return await self._run(self.store.clear, agent)

    async def aclose(self) -> None:
        await self.flush()
        await self._worker.aclose(self.store.close)
