"""Worker heartbeats in PostgreSQL, and the sweep that adopts the runs of dead workers.

DBOS recovers a worker's unfinished runs only when a worker with the *same* executor id starts
again; it does not decide on its own that another executor is dead. So every worker records a
heartbeat (``claude_force.workers.last_seen``) and, on the same timer, sweeps: the ``PENDING``
runs of executors whose heartbeat is older than ``dead_after_seconds`` are resumed
(``DBOS.resume_workflow``), which puts them back on the queue for any live worker; they continue
from their last completed step. The sweep is idempotent (a resumed run is ``ENQUEUED``, no
longer ``PENDING``) and one worker sweeps at a time (a PostgreSQL advisory lock).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg

from . import pgschema

log = logging.getLogger(__name__)

_SWEEP_LOCK = 0x63_66_5F_73_77  # "cf_sw": the advisory lock of the sweep

MIGRATIONS = [
    """
CREATE TABLE IF NOT EXISTS claude_force.workers (
    executor_id TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    concurrency INTEGER NOT NULL,
    app_version TEXT NOT NULL,
    started_at TIMESTAMPTZ NOT NULL,
    last_seen TIMESTAMPTZ NOT NULL,
    stopped BOOLEAN NOT NULL DEFAULT FALSE
)
""",
]


def conninfo(database_url: str) -> str:
    """A libpq URL from a SQLAlchemy-style one (``postgresql+psycopg://`` → ``postgresql://``)."""
    scheme, sep, rest = database_url.partition("://")
    return f"{scheme.split('+')[0]}{sep}{rest}"


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    executor_id: str
    host: str
    pid: int
    concurrency: int
    app_version: str
    started_at: datetime
    last_seen: datetime
    stopped: bool

    def alive(self, now: datetime, dead_after_s: float) -> bool:
        return not self.stopped and (now - self.last_seen).total_seconds() <= dead_after_s


class Heartbeats:
    """The ``claude_force.workers`` table (one row per executor id)."""

    def __init__(self, database_url: str) -> None:
        self.url = conninfo(database_url)
        self._conn: psycopg.AsyncConnection[Any] | None = None

    async def _connect(self) -> psycopg.AsyncConnection[Any]:
        return await psycopg.AsyncConnection.connect(self.url, autocommit=True, connect_timeout=10)

    async def _beat_conn(self) -> psycopg.AsyncConnection[Any]:
        """One connection kept for the heartbeats (re-opened after PostgreSQL went away)."""
        if self._conn is None or self._conn.closed:
            self._conn = await self._connect()
        return self._conn

    async def aclose(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    async def ensure_schema(self) -> None:
        await asyncio.to_thread(pgschema.migrate, self.url, "workers", MIGRATIONS)

    async def beat(
        self, executor_id: str, *, concurrency: int, app_version: str, stopped: bool = False
    ) -> None:
        conn = await self._beat_conn()
        try:
            await conn.execute(
                "INSERT INTO claude_force.workers (executor_id, host, pid, concurrency, "
                "app_version, started_at, last_seen, stopped) "
                "VALUES (%s, %s, %s, %s, %s, now(), now(), %s) "
                "ON CONFLICT (executor_id) DO UPDATE SET host = EXCLUDED.host, "
                "pid = EXCLUDED.pid, concurrency = EXCLUDED.concurrency, "
                "app_version = EXCLUDED.app_version, last_seen = now(), stopped = EXCLUDED.stopped, "
                "started_at = CASE WHEN claude_force.workers.stopped "
                "OR claude_force.workers.pid <> EXCLUDED.pid "
                "THEN now() ELSE claude_force.workers.started_at END",
                (executor_id, socket.gethostname(), os.getpid(), concurrency, app_version, stopped),
            )
        except psycopg.OperationalError:
            await self.aclose()  # next beat reconnects
            raise

    async def workers(self) -> tuple[datetime, list[WorkerInfo]]:
        """The database's clock and every worker row (clock skew between hosts cannot matter:
        both sides of every comparison come from PostgreSQL)."""
        async with await self._connect() as conn:
            cur = await conn.execute(
                "SELECT now(), executor_id, host, pid, concurrency, app_version, started_at, "
                "last_seen, stopped FROM claude_force.workers ORDER BY executor_id"
            )
            rows = await cur.fetchall()
            if not rows:
                cur = await conn.execute("SELECT now()")
                one = await cur.fetchone()
                assert one is not None
                return one[0], []
        return rows[0][0], [WorkerInfo(*r[1:]) for r in rows]

    async def try_sweep_lock(self, conn: psycopg.AsyncConnection[Any]) -> bool:
        cur = await conn.execute("SELECT pg_try_advisory_lock(%s)", (_SWEEP_LOCK,))
        row = await cur.fetchone()
        return bool(row and row[0])


@dataclass(frozen=True, slots=True)
class PendingRun:
    run_id: str
    executor_id: str | None
    updated_at_ms: int | None


ListPending = Callable[[], Awaitable[Iterable[PendingRun]]]
Resume = Callable[[str], Awaitable[None]]


def orphans(
    pending: Iterable[PendingRun],
    workers: Iterable[WorkerInfo],
    now: datetime,
    dead_after_s: float,
) -> list[PendingRun]:
    """The pending runs whose executor is not alive (pure: the sweep's decision).

    An executor is alive when its heartbeat is fresh and it has not stopped. A run of an
    executor that never sent a heartbeat is an orphan only once the run itself has not been
    updated for ``dead_after_s`` (a worker that has just started may not have beaten yet).
    """
    known = {w.executor_id: w for w in workers}
    now_ms = now.timestamp() * 1000
    chosen: list[PendingRun] = []
    for run in pending:
        worker = known.get(run.executor_id or "")
        if worker is not None:
            if not worker.alive(now, dead_after_s):
                chosen.append(run)
        elif run.updated_at_ms is None or now_ms - run.updated_at_ms > dead_after_s * 1000:
            chosen.append(run)
    return chosen


async def sweep(
    beats: Heartbeats, list_pending: ListPending, resume: Resume, dead_after_s: float
) -> list[str]:
    """Resume the pending runs of dead executors; returns their run ids. One sweeper at a time:
    a worker that does not get the advisory lock does nothing this round."""
    async with await beats._connect() as conn:
        if not await beats.try_sweep_lock(conn):
            return []
        try:
            now, workers = await beats.workers()
            adopted = orphans(await list_pending(), workers, now, dead_after_s)
            for run in adopted:
                log.warning(
                    "worker %s is silent for more than %.0f s: resuming its run %s here",
                    run.executor_id,
                    dead_after_s,
                    run.run_id,
                )
                await resume(run.run_id)
            return [r.run_id for r in adopted]
        finally:
            await conn.execute("SELECT pg_advisory_unlock(%s)", (_SWEEP_LOCK,))


async def prune_history(beats: Heartbeats, admin: Any, history_days: float) -> int:
    """Delete finished runs older than ``history_days`` (see :mod:`.retention`); one worker at
    a time (an advisory lock), the database's clock. Returns how many were deleted."""
    from .retention import _PRUNE_LOCK, cutoff, prune

    async with await beats._connect() as conn:
        cur = await conn.execute("SELECT pg_try_advisory_lock(%s), now()", (_PRUNE_LOCK,))
        row = await cur.fetchone()
        if not (row and row[0]):
            return 0
        try:
            before = cutoff(row[1], history_days)
            if before is None:
                return 0
            deleted = await prune(admin, before)
            if deleted:
                log.info("pruned %d finished run(s) older than %g day(s)", deleted, history_days)
            return deleted
        finally:
            await conn.execute("SELECT pg_advisory_unlock(%s)", (_PRUNE_LOCK,))


def utcnow() -> datetime:
    return datetime.now(UTC)
