"""``MemoryService``: agent memory for the async core, never blocking the event loop.

Every call runs the blocking :class:`~claude_force.memory.store.MemoryStore` method as one job
on a private worker thread (one hop per call), except a context lookup that is cheap while
nothing is queued there (:meth:`MemoryService.context_now`): that one is answered on the event
loop, under the store's lock, because the hop would cost more than the lookup
(docs/memory.md, "Where a context lookup runs"). Why not aiosqlite: a context load is several statements plus the cache check, and
aiosqlite hops to its thread per statement; and the sync 2.2 face needs the same store without
an event loop, so there is one implementation, not a sync and an async twin.

The orchestrator uses :meth:`MemoryService.context_for` before a run and
:meth:`MemoryService.remember` after it; both log and swallow storage failures, because a
broken memory must never fail an agent run.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import weakref
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from ..clock import WALL_CLOCK, Clock
from ..errors import ClaudeForceError
from ..state.worker import Worker
from .backend import NewSession
from .location import cluster_memory_db, memory_path
from .pending import WaitingSessions
from .records import Hit, MemoryStats, SearchQuery, Session
from .settings import MemorySettings
from .sqlite_backend import WaitingMatch
from .store import INLINE_MAX_SCORED, MemoryStore

if TYPE_CHECKING:
    from ..config import Project
    from ..config.snapshot import MemoryView

log = logging.getLogger(__name__)

T = TypeVar("T")

# Queued sessions stored per transaction: a burst of 1,000 finished runs is 16 writes, not one
# holding 1,000 prepared sessions at once (docs/tuning.md, "Memory at 1,000 in flight").
SESSIONS_PER_WRITE = 64
WRITE_DELAY_S = 0.05
"""How long a finished run's session waits for its write job (unless something comes first,
see :meth:`MemoryService.remember_soon`). Runs that follow each other closely are then one
write, and the write does not hold the store while the next run looks its context up on the
event loop (docs/memory.md, "When a session is written")."""

INLINE_MAX_WRITE = 8
"""A context lookup on the event loop that may match sessions waiting for their write job
writes those sessions there first, without waiting for anything
(:meth:`MemoryStore.add_now`), when at most this many may match (the others go on waiting):
one session is ≈ 0.25 ms, while the hop to the worker, which writes them and searches there,
cost ≈ 0.8 ms more (issue #10: on an agent whose runs share words, a third of a sequence of
runs took that hop)."""

_Fields = tuple[str, tuple[Any, ...], dict[str, Any]]
_LIVE: weakref.WeakSet[MemoryService] = weakref.WeakSet()


@atexit.register
def _write_at_exit() -> None:
    """Sessions still waiting for their write job when the interpreter exits are written first
    (registered after the workers' own exit handler, so this one runs before it)."""
    for service in list(_LIVE):
        try:
            service.write_at_exit()
        except Exception:  # exit must never fail because of memory
            log.exception("memory: sessions not stored at exit")


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


def _nothing() -> None:
    """A job that does nothing (waiting for it waits for the jobs queued before it)."""


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
        self._writes: set[asyncio.Task[None]] = set()
        # jobs of this service queued on the worker and not settled yet (counted on the loop):
        # while there is one, a lookup is not answered on the loop (it may be a write to see)
        self._pending = 0
        self._lookups = 0  # of those, the context lookups (one may write waiting sessions)
        # sessions handed to remember_soon whose write job is not queued yet: it is queued
        # WRITE_DELAY_S after the first of them, at SESSIONS_PER_WRITE of them, or before any
        # other job of this service but a context lookup (jobs run in order: that job sees
        # them); a lookup on the worker writes them first when one may match its search
        self._waiting: WaitingSessions[_Fields] = WaitingSessions()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_loop: asyncio.AbstractEventLoop | None = None
        _LIVE.add(self)

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
    def settings(self) -> MemorySettings | MemoryView:
        return self.store.settings

    def allows(self, agent: str) -> bool:
        """Whether memory is used for ``agent`` (the agent's own ``memory`` setting)."""
        return self._allows is None or self._allows(agent)

    async def _run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await self._submit(fn, *args, **kwargs)

    def _submit(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> asyncio.Future[T]:
        """Queue ``fn`` on the store's worker thread now (jobs run in the order queued), after
        the write of any session still waiting for its write job (a context lookup does not
        wait for it: :meth:`_lookup` instead)."""
        self._write_now()
        return self._queue_job(fn, *args, **kwargs)

    def _queue_job(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> asyncio.Future[T]:
        future = self._worker.submit(fn, *args, **kwargs)
        self._track(future)
        return future

    def _track(self, future: asyncio.Future[Any]) -> None:
        """Count ``future``'s job as pending until the future is done (on the loop)."""
        self._pending += 1
        future.add_done_callback(self._settled)

    def _settled(self, _future: asyncio.Future[Any]) -> None:
        self._pending -= 1

    @property
    def idle(self) -> bool:
        """Whether no job of this service is queued or running on its worker thread (as far as
        the event loop knows: a job counts until its result has reached the loop)."""
        return self._pending == 0

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
            return await self._lookup(self._context_or_nothing, agent, task, simulated)
        except Exception as exc:  # storage errors and the unforeseen: a run must not fail
            log.warning("memory: no context for agent %s: %s: %s", agent, type(exc).__name__, exc)
        return "", ()

    async def context_along(
        self, agent: str, task: str, along: Callable[[], T], *, simulated: bool | None = None
    ) -> tuple[asyncio.Future[T], tuple[str, tuple[str, ...]]]:
        """:meth:`context_with_ids`, with ``along()`` (a blocking read the run needs too, such as
        the agent's definition) run first in the same job on the worker thread: one hop instead
        of two. Returns a future holding ``along()``'s result or error, and the context."""
        outcome: asyncio.Future[T] = asyncio.get_running_loop().create_future()

        def both() -> tuple[T | None, Exception | None, tuple[str, tuple[str, ...]]]:
            # the outcome travels back with the context (no second wake-up of the loop)
            try:
                value, error = along(), None
            except Exception as exc:
                value, error = None, exc
            return value, error, self._context_or_nothing(agent, task, simulated)

        try:
            value, error, found = await self._lookup(both)
        except Exception as exc:  # the worker itself failed: the read alone, without context
            log.warning("memory: no context for agent %s: %s: %s", agent, type(exc).__name__, exc)
            found = "", ()
            try:
                value, error = await asyncio.to_thread(along), None
            except Exception as read_error:
                value, error = None, read_error
        if error is not None:
            outcome.set_exception(error)
        else:
            outcome.set_result(value)  # type: ignore[arg-type]
        return outcome, found

    async def context_if(
        self, agent: str, task: str, along: Callable[[], T | None], *, simulated: bool | None = None
    ) -> tuple[T | None, tuple[str, tuple[str, ...]]]:
        """``along()`` and, unless it returns ``None`` (or raises), :meth:`context_with_ids`, in
        one job on the worker thread. ``(None, ("", ()))``: nothing was searched (also when
        the worker failed, logged); the caller takes its other way."""

        def both() -> tuple[T | None, tuple[str, tuple[str, ...]]]:
            try:
                value = along()
            except Exception:  # the caller's other way reports it
                value = None
            if value is None:
                return None, ("", ())
            return value, self._context_or_nothing(agent, task, simulated)

        try:
            return await self._lookup(both)
        except Exception as exc:
            log.warning("memory: no context for agent %s: %s: %s", agent, type(exc).__name__, exc)
        return None, ("", ())

    def context_now(
        self,
        agent: str,
        task: str,
        *,
        simulated: bool | None = None,
    ) -> tuple[str, tuple[str, ...]] | None:
        """:meth:`context_with_ids` answered here, on the event loop, without a hop to the
        worker thread and back, when that is cheap and changes nothing a run sees: no job of
        this service is queued or running (a session handed to :meth:`remember_soon` is
        stored first, and a lookup after it then sees it, as on the worker), and the store
        answers within :data:`~.store.INLINE_MAX_SCORED` sessions ranked
        (:meth:`MemoryStore.context_now`). ``None``: not answered here; ask
        :meth:`context_with_ids`. A storage error is logged and gives no context, as on the
        worker."""
        if not self.allows(agent):
            return "", ()
        if self._pending:
            return None
        waiting = len(self._waiting)
        try:
            return self.store.context_now(
                agent,
                task,
                simulated=simulated,
                max_scored=INLINE_MAX_SCORED,
                unwritten=self._waiting.may_match if waiting else None,
                write_waiting=self._write_here if waiting else None,
            )
        except Exception as exc:  # storage errors and the unforeseen: a run must not fail
            log.warning("memory: no context for agent %s: %s: %s", agent, type(exc).__name__, exc)
        return "", ()

    def search_soon(
        self, agent: str, task: str, *, simulated: bool | None = None
    ) -> tuple[asyncio.Future[tuple[str, tuple[str, ...]]], Callable[[], None]]:
        """:meth:`context_with_ids` as a future, and the function that starts its search: call
        it from any thread, as often as convenient (only the first call queues the job). A job
        that decides whether the context is needed at all — the response cache's lookup, on its
        own thread — starts the search there, without a round trip through the event loop; a
        future that is cancelled before its job starts never runs it."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[tuple[str, tuple[str, ...]]] = loop.create_future()
        self._track(future)  # from now: its job may be queued from another thread any time
        self._track_lookup(future)
        once = [True]

        def start() -> None:
            try:
                once.pop()  # atomic: the first caller, on whichever thread, queues the job
            except IndexError:
                return
            self._worker.submit_threadsafe(
                loop, future, self._context_or_nothing, agent, task, simulated
            )

        return future, start

    def _lookup(self, fn: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        """Queue the context lookup ``fn`` on the worker without the write of the sessions
        waiting for it queued first: the lookup (:meth:`_context_or_nothing`) writes them itself
        when one of them may match what it searches, and otherwise leaves them waiting."""
        future = self._queue_job(fn, *args)
        self._track_lookup(future)
        return future

    def _track_lookup(self, future: asyncio.Future[Any]) -> None:
        """Count ``future``'s lookup until it is done (:meth:`flush` waits for one that is
        writing sessions it took)."""
        self._lookups += 1
        future.add_done_callback(self._looked_up)

    def _looked_up(self, _future: asyncio.Future[Any]) -> None:
        self._lookups -= 1

    def _context_or_nothing(
        self, agent: str, task: str, simulated: bool | None
    ) -> tuple[str, tuple[str, ...]]:
        """On the worker thread: the context, or none when memory cannot be read (logged).

        A session waiting for its write job that may match the search is written here first
        (the lookup sees every session handed to memory before it that could be among its
        results, as a lookup queued after their write would); the others go on waiting."""
        if not self.allows(agent):
            return "", ()
        try:
            while True:  # (each round writes at least one waiting session)
                try:
                    return self.store.context_with_ids(
                        agent, task, simulated=simulated, unwritten=self._waiting.may_match
                    )
                except WaitingMatch as waiting:  # some may be among the results: store them
                    self._write_taken(waiting.agent, waiting.terms)
        except Exception as exc:  # storage errors and the unforeseen: a run must not fail
            log.warning("memory: no context for agent %s: %s: %s", agent, type(exc).__name__, exc)
        return "", ()

    async def remember(self, ex: ExecutionLike) -> str | None:
        """Store a finished run; returns the session id, or ``None`` when it is not stored:
        a failure, an answer from the response cache (nothing new), or an agent that opted out."""
        fields = self._session_of(ex)
        if fields is None:
            return None
        _, args, kwargs = fields
        return await self._settle(ex.agent, self._submit(self.store.add, *args, **kwargs))

    def remember_soon(self, ex: ExecutionLike) -> None:
        """:meth:`remember` in the background: the run returns without waiting for the write.

        The session joins the sessions waiting for a write job. That job is queued on the
        store's single worker thread :data:`WRITE_DELAY_S` after the first of them, once
        :data:`SESSIONS_PER_WRITE` wait, or before any other job of this service, whichever
        comes first; it stores them ``SESSIONS_PER_WRITE`` to a transaction (a burst of finished
        runs is a few writes, not one per run). Jobs run in order, so a lookup on the worker
        sees every session handed here before it; a lookup answered on the loop
        (:meth:`context_now`) while sessions wait is answered only when none of them shares a
        searched word with the task. :meth:`flush` (and :meth:`aclose`) write them at once."""
        fields = self._session_of(ex)
        if fields is None:
            return
        if self._waiting.add(fields[0], fields[1][1], fields) >= SESSIONS_PER_WRITE:
            self._write_now()
            return
        loop = asyncio.get_running_loop()
        if self._timer is None or self._timer_loop is not loop:
            # (a timer of a loop that has closed never fires: this loop's takes its sessions)
            self._timer = loop.call_later(WRITE_DELAY_S, self._write_now)
            self._timer_loop = loop

    def _write_now(self) -> None:
        """Queue the write job of the sessions waiting for one (on the loop; none: nothing)."""
        self._stop_timer()
        if not self._waiting:
            return
        batch = self._waiting.take()  # (empty if a lookup on the worker took them just now)
        if batch:
            self._queue_write(batch)

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = self._timer_loop = None

    def _queue_write(self, batch: list[_Fields]) -> None:
        task = asyncio.ensure_future(self._written(self._queue_job(self._write_batch, batch)))
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    def _write_here(self, agent: str | None, terms: Sequence[str]) -> bool:
        """On the event loop, in a lookup that may match a session waiting for its write job
        (:meth:`context_now`): store here, without waiting for anything
        (:meth:`MemoryStore.add_now`), the waiting sessions of ``agent`` that may hold one of
        the ``terms`` searched — at most :data:`INLINE_MAX_WRITE` of them; the others go on
        waiting for their write job. ``False``: none was written here (the lookup goes to the
        worker, which writes them; a batch taken here is queued first). Never loses one."""
        batch = self._waiting.take_matching(agent, terms, INLINE_MAX_WRITE)
        if not batch:  # too many for the loop (or none: never asked again): the worker's
            return False  # lookup writes them
        try:
            if self.store.add_now(self._prepared(batch)):
                if not self._waiting:
                    self._stop_timer()
                return True
        except Exception as exc:  # the worker's write job tries again, and reports a failure
            log.debug("memory: sessions not written on the event loop: %s", exc)
        self._queue_write(batch)
        return False

    @staticmethod
    async def _written(job: asyncio.Future[None]) -> None:
        try:
            await job
        except Exception as exc:  # a run must not fail because memory could not be written
            log.warning("memory: sessions not stored: %s", exc)

    def _write_batch(self, batch: list[_Fields]) -> None:
        """On the worker thread: store ``batch``, ``SESSIONS_PER_WRITE`` to a transaction (only
        that many sessions are prepared and held at once)."""
        batch.reverse()  # taken from the end, in the order queued: a written chunk leaves the list
        while batch:
            self._write_chunk([batch.pop() for _ in range(min(SESSIONS_PER_WRITE, len(batch)))])

    def write_at_exit(self) -> None:
        """At interpreter exit: store the sessions still waiting for a write job, here (their
        loop is gone, or no longer running its timers)."""
        batch = self._waiting.take()
        if batch:
            self._write_batch(batch)

    def _write_taken(self, agent: str | None, terms: Sequence[str]) -> None:
        """On the worker thread, in a lookup: store the sessions waiting for their write job
        that may hold one of ``terms`` (all of them, should none be found: the lookup then
        asks no more); the others go on waiting. A failure is logged as their write job's is,
        and the lookup goes on without them."""
        batch = self._waiting.take_matching(agent, terms) or []
        if not batch:
            batch = self._waiting.take()
        try:
            self._write_batch(batch)
        except Exception as exc:  # a run must not fail because memory could not be written
            log.warning("memory: sessions not stored: %s", exc)

    def _write_chunk(self, chunk: list[_Fields]) -> None:
        """One transaction of queued sessions (a method of its own: neither the runs' fields nor
        the prepared sessions outlive it, while the next chunk is written)."""
        sessions = self._prepared(chunk)
        if sessions:
            self.store.add_prepared(sessions)

    def _prepared(self, chunk: list[_Fields]) -> list[NewSession]:
        """The store's sessions for ``chunk`` (one that cannot be prepared is logged, left out)."""
        sessions: list[NewSession] = []
        for agent, args, kwargs in chunk:
            try:
                sessions.append(self.store.prepare(*args, **kwargs))
            except Exception as exc:
                log.warning("memory: session of agent %s not stored: %s", agent, exc)
        return sessions

    def _session_of(self, ex: ExecutionLike) -> tuple[str, tuple[Any, ...], dict[str, Any]] | None:
        """The store's arguments for ``ex``'s session (``None``: not to be stored)."""
        if not ex.success or ex.cached or not self.allows(ex.agent):
            return None
        metadata: dict[str, Any] = {
            "execution_id": ex.execution_id,
            "provider": ex.provider,
            "stop_reason": ex.stop_reason,
        }
        if ex.workflow_position is not None:
            metadata["workflow_position"] = ex.workflow_position
        kwargs: dict[str, Any] = {
            "model": ex.model,
            "input_tokens": ex.usage.input_tokens,
            "output_tokens": ex.usage.output_tokens,
            "execution_time_ms": ex.duration_ms,
            "workflow": ex.workflow_name,
            "simulated": ex.simulated,
            "metadata": metadata,
            "created_at": ex.started_at,
            # keyed by the execution: a durable step that runs again after a crash keeps
            # its execution id, so its session is stored once
            "session_id": ex.execution_id,
        }
        return ex.agent, (ex.agent, ex.task, ex.output, ex.success), kwargs

    @staticmethod
    async def _settle(agent: str, job: asyncio.Future[str]) -> str | None:
        try:
            return await job
        except Exception as exc:  # a run must not fail because memory could not be written
            log.warning("memory: session of agent %s not stored: %s", agent, exc)
            return None

    async def flush(self) -> None:
        """Wait until the sessions handed to :meth:`remember_soon` are stored."""
        self._write_now()
        if self._lookups:  # one may be writing sessions it took: jobs run in order, so every
            await self._queue_job(_nothing)  # job queued before this one is done when it is
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
