"""``MemoryStore``: sessions in SQLite behind an LRU query cache, redacted, with retention.

Blocking and thread-safe (one lock around the connection and the cache). Async callers use
:class:`~claude_force.memory.service.MemoryService`, which runs these methods on a private
worker thread; the 2.2 ``AgentMemory`` face calls them directly.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..clock import WALL_CLOCK, Clock, utcnow
from .backend import Changes, NewSession, SessionBackend
from .context import build_context_with_ids, select
from .qcache import QueryCache, QueryCacheStats
from .records import MAX_TASK_CHARS, Hit, MemoryStats, SearchQuery, Session
from .redact import redact, redact_value
from .sqlite_backend import SessionDB, TooCostly, Unwritten, WaitingMatch, WriteBusy

if TYPE_CHECKING:
    from ..config.snapshot import MemoryView
    from .settings import MemorySettings

log = logging.getLogger(__name__)

SEARCH_BUDGET = 4000
"""About how many sessions one query may score (see :func:`~.records.plan_match`)."""
INLINE_MAX_SCORED = 1000
"""A context lookup is answered on the caller's thread (the event loop) only when it ranks at
most this many sessions: about 1 ms of BM25 scoring at ~1.1 µs a session (measured,
docs/memory.md). The event loop asks only for the run alone in flight, which waits for the
ranking wherever it runs; the worker would add its hop to the same work (issue #10, ninth
pass: 200 sent a sixth of a sequence's lookups there, +0.6 ms each). The bound keeps the loop
from being held much longer than that for whatever else it serves."""
PRUNE_EVERY = timedelta(days=1)
"""Automatic retention runs at open and then at most this often, on a write."""


def bound_summary(text: str, max_chars: int) -> str:
    """``text`` cut to ``max_chars``: its beginning (two thirds) and its end (one third), since
    answers tend to state the approach first and the conclusion last."""
    text = text.strip()
    if len(text) <= max_chars:
        return text
    gap = "\n[…]\n"
    room = max_chars - len(gap)
    head, tail = text[: room * 2 // 3], text[len(text) - room // 3 :]
    space = head.rfind(" ")
    if space > len(head) * 0.8:
        head = head[:space]
    space = tail.find(" ")
    if 0 <= space < len(tail) * 0.2:
        tail = tail[space + 1 :]
    return head.rstrip() + gap + tail.lstrip()


@dataclass(frozen=True, slots=True)
class _Cached:
    hits: tuple[Hit, ...]
    cutoff: float | None  # the age filter's cutoff the query ran with

    def nbytes(self) -> int:
        return sum(h.nbytes() for h in self.hits)


class MemoryStore:
    """Agent memory in one SQLite file (see the package documentation)."""

    def __init__(
        self,
        path: str | Path,
        settings: MemorySettings | MemoryView | None = None,
        *,
        clock: Clock = WALL_CLOCK,
        search_budget: int = SEARCH_BUDGET,
        import_legacy: bool = True,
        legacy_source: Path | None = None,
        db: SessionBackend | None = None,
    ) -> None:
        if settings is None:
            from .settings import MemorySettings

            settings = MemorySettings()
        self.settings = settings
        self.path = Path(path)
        self.search_budget = search_budget
        self.clock = clock
        self._db: SessionBackend = db if db is not None else SessionDB(self.path)
        self.location = str(getattr(self._db, "location", self.path))
        self._cache: QueryCache[_Cached] = QueryCache(
            self.settings.query_cache_size, int(self.settings.query_cache_max_mb * 1024 * 1024)
        )
        self._lock = threading.RLock()
        self._seen: Changes | None = None
        self._last_prune: datetime | None = None
        self._import_legacy = import_legacy
        self._legacy_source = legacy_source

    # --- opening and change tracking -------------------------------------------------------------

    def _ready(self) -> SessionBackend:
        """The database, opened (schema, legacy import, retention) on first use."""
        if self._seen is None:
            db = self._db
            db.conn  # noqa: B018 - opens and creates the schema
            self._seen = db.changes()
            if self._import_legacy:
                self._import_from_legacy()
            self._retain(force=True)
        return self._db

    def open(self) -> None:
        """Open the database now (schema, legacy import, retention) instead of at first use."""
        with self._lock:
            self._ready()

    def _sync(self) -> None:
        """Drop cached queries that another process's writes made stale (exactly those)."""
        db = self._ready()
        if not db.changed_elsewhere():
            return
        now = db.changes()
        seen = self._seen or Changes(-1, {})
        if now.epoch != seen.epoch:
            self._cache.invalidate_all()
        else:
            for agent, gen in now.agents.items():
                if seen.agents.get(agent) != gen:
                    self._cache.invalidate(agent)
        self._seen = now

    def _written(self, gens: Mapping[str, int], *, epoch_changed: bool = False) -> None:
        assert self._seen is not None
        for agent, gen in gens.items():
            self._cache.invalidate(agent)
            self._seen.agents[agent] = gen
        if epoch_changed:
            self._cache.invalidate_all()
            self._seen = self._db.changes()

    # --- writing ---------------------------------------------------------------------------------

    def prepare(
        self,
        agent: str,
        task: str,
        output: str,
        success: bool,
        *,
        model: str = "",
        input_tokens: int = 0,
        output_tokens: int = 0,
        execution_time_ms: float = 0.0,
        workflow: str | None = None,
        simulated: bool = False,
        metadata: Mapping[str, Any] | None = None,
        created_at: datetime | None = None,
        session_id: str | None = None,
    ) -> NewSession:
        """A session ready to store: secrets redacted first, then task and output bounded."""
        counts: Counter[str] = Counter()
        r_task, r_out = redact(task), redact(output)
        for found in (r_task.counts, r_out.counts):
            if found:
                counts.update(found)
        # (redact_value builds a new dict: no copy of a dict first)
        meta = redact_value(metadata if type(metadata) is dict else dict(metadata or {}), counts)
        when = created_at or utcnow(self.clock)
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return NewSession(
            agent=agent,
            task=r_task.text[:MAX_TASK_CHARS],
            summary=bound_summary(r_out.text, self.settings.summary_max_chars),
            success=bool(success),
            model=model or "unknown",
            created_at=when.timestamp(),
            input_tokens=int(input_tokens),
            output_tokens=int(output_tokens),
            execution_time_ms=float(execution_time_ms),
            workflow=workflow,
            simulated=simulated,
            redactions=sum(counts.values()),
            metadata_json=json.dumps(meta, default=str, sort_keys=True),
            uid=session_id or "",
        )

    def add(self, agent: str, task: str, output: str, success: bool, **fields: Any) -> str:
        """Store one session; returns its id."""
        session = self.prepare(agent, task, output, success, **fields)
        if not session.uid:
            session = replace(session, uid=uuid.uuid4().hex)
        self.add_prepared([session])
        return session.uid

    def add_prepared(self, sessions: Iterable[NewSession]) -> None:
        """Store prepared sessions in one transaction (bulk imports, benchmarks)."""
        with self._lock:
            db = self._ready()
            self._sync()
            self._written(db.add(sessions))
            self._retain()

    def add_now(self, sessions: Iterable[NewSession]) -> bool:
        """:meth:`add_prepared` without waiting for anything: only into the local SQLite file,
        already open, when no other thread holds the store, the file's write lock is free at
        once and no automatic retention is due (a prune is the worker's). ``False``: nothing
        was written; write them the usual way. Other errors propagate (nothing written)."""
        if not self._lock.acquire(blocking=False):
            return False
        try:
            db = self._db
            if self._seen is None or not isinstance(db, SessionDB) or self._prune_due():
                return False
            self._sync()
            try:
                self._written(db.add(sessions, wait=False))
            except WriteBusy:
                return False
            return True
        finally:
            self._lock.release()

    # --- reading ---------------------------------------------------------------------------------

    def search(self, q: SearchQuery) -> list[Hit]:
        """The most relevant sessions for ``q`` — from the query cache when it is current.

        A query of ``informative_only`` without a single search term (only stop words, such as
        "do it again") finds nothing, in every backend, without asking the database: no word
        of it says what the task is about, as no common word does. Without the rule, such a
        query lists the newest sessions (``memory search``)."""
        return self._search(q, None)

    def _search(
        self, q: SearchQuery, max_scored: int | None, unwritten: Unwritten | None = None
    ) -> list[Hit]:
        if q.informative_only and not q.terms:
            return []
        with self._lock:
            db = self._ready()
            self._sync()
            cutoff = (
                None
                if q.max_age_days is None
                else (utcnow(self.clock) - timedelta(days=q.max_age_days)).timestamp()
            )
            key = (*q.cache_key(), q.max_age_days)

            def usable(entry: _Cached) -> bool:
                return _exact_under(entry, cutoff, q.limit)

            # (with sessions unwritten that may match the query's words, a cached answer may
            # miss one: the search below, which knows which words it searches, decides)
            if unwritten is None or not unwritten(q.agent, q.terms):
                cached = self._cache.get(key, q.agent, usable)
                if cached is not None:
                    return _within(cached.hits, cutoff)
            token = self._cache.token(q.agent)
            if isinstance(db, SessionDB):
                found = db.search(
                    q,
                    cutoff=cutoff,
                    budget=self.search_budget,
                    max_scored=max_scored,
                    unwritten=unwritten,
                )
            elif max_scored is not None:  # a database elsewhere (the cluster's): never on the
                raise TooCostly  # caller's thread
            elif unwritten is not None and unwritten(q.agent, q.terms):
                # (it cannot tell which words it matches on: any of the task's)
                raise WaitingMatch(q.agent, q.terms)
            else:
                found = db.search(q, cutoff=cutoff, budget=self.search_budget)
            hits = tuple(found)
            entry = _Cached(hits, cutoff)
            self._cache.put(key, q.agent, token, entry, entry.nbytes())
            return list(hits)

    def context_for(self, agent: str, task: str, *, simulated: bool | None = None) -> str:
        """The context block of relevant past successes of ``agent`` for ``task`` (or ``""``)."""
        return self.context_with_ids(agent, task, simulated=simulated)[0]

    def context_with_ids(
        self,
        agent: str,
        task: str,
        *,
        simulated: bool | None = None,
        unwritten: Unwritten | None = None,
    ) -> tuple[str, tuple[str, ...]]:
        """:meth:`context_for` and the ids of the sessions it shows.

        ``unwritten(agent, terms)``: whether a session handed to memory but not written yet
        may match any of ``terms``; :class:`TooCostly` is raised when one may be among the
        results (write it, then ask again)."""
        return self._context(agent, task, simulated, None, unwritten)

    def context_now(
        self,
        agent: str,
        task: str,
        *,
        simulated: bool | None = None,
        max_scored: int = INLINE_MAX_SCORED,
        unwritten: Unwritten | None = None,
        write_waiting: Callable[[str | None, Sequence[str]], bool] | None = None,
    ) -> tuple[str, tuple[str, ...]] | None:
        """:meth:`context_with_ids` when it is cheap, without waiting: ranking at most
        ``max_scored`` sessions (``0``: only what needs no ranking — a query cache hit, an
        agent without sessions, a task without words) in the local SQLite file, already open,
        whose lock no other thread holds. ``None``: not answered; ask
        :meth:`context_with_ids` (on a worker thread). The answer is the one
        :meth:`context_with_ids` gives (the same query, cache and invalidation).

        ``unwritten(agent, terms)``: whether a session handed to memory but not written yet
        may match any of ``terms``; the lookup is then not answered here (the worker's,
        queued after that write, is the one that sees it) unless ``write_waiting(agent, terms)``,
        called then, writes here every waiting session of ``agent`` that may hold one of the
        ``terms`` searched and returns ``True`` (:meth:`add_now`): the lookup is then made
        again (and so on, while a session still waiting may match)."""
        if not self._lock.acquire(blocking=False):
            return None  # a job on another thread holds the store: it may be a write
        try:
            if self._seen is None:  # not opened yet: opening is the worker's
                return None
            while True:  # (each round writes at least one waiting session, or gives up)
                try:
                    return self._context(agent, task, simulated, max_scored, unwritten)
                except WaitingMatch as waiting:
                    # (asked again after the write: a word that was common before it may not
                    # be after it, and a session still waiting may hold that word)
                    if write_waiting is None or not write_waiting(waiting.agent, waiting.terms):
                        return None
        except TooCostly:
            return None
        finally:
            self._lock.release()

    def _context(
        self,
        agent: str,
        task: str,
        simulated: bool | None,
        max_scored: int | None,
        unwritten: Unwritten | None = None,
    ) -> tuple[str, tuple[str, ...]]:
        s = self.settings
        if s.context_token_budget <= 0:
            return "", ()
        n = s.context_max_sessions
        hits = self._search(
            SearchQuery(
                task,
                agent=agent,
                success_only=True,
                simulated=simulated,
                limit=3 * n + 1,
                informative_only=True,  # a session sharing only common words is no context
            ),
            max_scored,
            unwritten,
        )
        return build_context_with_ids(select(hits, task, n), s.context_token_budget)

    def get(self, session_id: str) -> Session | None:
        with self._lock:
            return self._ready().get(session_id)

    def recent(self, agent: str | None = None, limit: int = 20) -> list[Session]:
        with self._lock:
            return self._ready().recent(agent=agent, limit=limit)

    def stats(self, agent: str | None = None) -> MemoryStats:
        with self._lock:
            data = self._ready().summary(agent)
            return MemoryStats(
                location=self.location,
                retention_days=self.settings.retention_days,
                query_cache=self._cache.stats().to_dict(),
                **data,
            )

    def cache_stats(self) -> QueryCacheStats:
        with self._lock:
            return self._cache.stats()

    def clear_query_cache(self) -> None:
        """Empty the query cache (its statistics stay): the next queries go to SQLite."""
        with self._lock:
            self._cache.clear()

    # --- retention and removal -------------------------------------------------------------------

    def prune(self, days: float | None = None) -> int:
        """Remove sessions older than ``days`` days; returns how many.

        Without ``days``, the configured ``retention_days`` (where 0 means keep everything).
        """
        if days is None:
            days = self.settings.retention_days
            if days <= 0:
                return 0
        if days < 0:
            raise ValueError(f"days must not be negative, got {days}")
        with self._lock:
            db = self._ready()
            self._sync()
            before = (utcnow(self.clock) - timedelta(days=days)).timestamp()
            removed, agents = db.delete(before=before)
            self._written({a: g for a, g in db.changes().agents.items() if a in agents})
            self._last_prune = utcnow(self.clock)
            return removed

    def clear(self, agent: str | None = None) -> int:
        """Remove every session (or one agent's); returns how many."""
        with self._lock:
            db = self._ready()
            self._sync()
            removed, agents = db.delete(agent=agent)
            gens = db.changes().agents
            self._written({a: gens[a] for a in agents if a in gens}, epoch_changed=agent is None)
            return removed

    def _prune_due(self) -> bool:
        if self.settings.retention_days <= 0:
            return False
        last = self._last_prune
        return last is None or utcnow(self.clock) - last >= PRUNE_EVERY

    def _retain(self, *, force: bool = False) -> None:
        days = self.settings.retention_days
        if days <= 0 or not (force or self._prune_due()):
            return
        removed = self.prune(days)
        if removed:
            log.info("memory: pruned %d sessions older than %d days", removed, days)

    def _import_from_legacy(self) -> None:
        rows = self._db.legacy_rows(self._legacy_source)
        if rows is None:
            return
        sessions = []
        for sid, agent, task, output, success, ts, ms, model, tin, tout, meta in rows:
            try:
                when = datetime.fromisoformat(str(ts)).astimezone(UTC)  # naive: local time
                metadata = json.loads(meta) if meta else {}
            except (TypeError, ValueError):
                continue
            sessions.append(
                self.prepare(
                    str(agent),
                    str(task),
                    str(output),
                    bool(success),
                    model=str(model or ""),
                    input_tokens=int(tin or 0),
                    output_tokens=int(tout or 0),
                    execution_time_ms=float(ms or 0.0),
                    metadata=metadata if isinstance(metadata, dict) else {},
                    created_at=when,
                    session_id=str(sid),
                )
            )
        self._written(self._db.add(sessions))
        self._db.mark_legacy_imported()
        if sessions:
            log.info("memory: imported %d sessions from claude-force 2.2", len(sessions))

    def close(self) -> None:
        with self._lock:
            self._db.close()
            self._seen = None


def _within(hits: Iterable[Hit], cutoff: float | None) -> list[Hit]:
    if cutoff is None:
        return list(hits)
    return [h for h in hits if h.session.created_at.timestamp() >= cutoff]


def _exact_under(entry: _Cached, cutoff: float | None, limit: int) -> bool:
    """Whether a cached result, filtered to a (later) age cutoff, equals a fresh query's.

    A later cutoff only removes sessions. When it removes none, the result is unchanged; when
    the cached result was short of ``limit`` (it held every match), the filtered result still
    holds every match. Only a full result that lost sessions might miss the ones ranked after it.
    """
    if cutoff is None or entry.cutoff is None:
        return cutoff == entry.cutoff
    if entry.cutoff > cutoff:
        return False  # the clock went back: the fresh query could reach older sessions
    kept = len(_within(entry.hits, cutoff))
    return kept == len(entry.hits) or len(entry.hits) < limit
