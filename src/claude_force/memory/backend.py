"""What a memory backend is: the :class:`SessionBackend` protocol, the rows it stores, and the
reads every SQL backend shares.

Two backends implement it — SQLite (:mod:`.sqlite_backend`, the default: FTS5 and BM25) and the
cluster's PostgreSQL (``claude_force.cluster.pg_memory``: ``tsvector`` and ``ts_rank``). They
differ in how they index and rank text; the plain reads (one session, the newest ones, the
filters, the summary) are the same SQL but for the placeholder and how a boolean is written, so
they are written once, in :class:`SessionReads`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, Protocol

from .records import Hit, SearchQuery, Session

COLUMNS = (
    "s.uid, s.agent, s.task, s.summary, s.success, s.simulated, s.model, s.input_tokens, "
    "s.output_tokens, s.execution_time_ms, s.workflow, s.created_at, s.metadata"
)
"""The columns :func:`session_of` reads, in its order (``s`` is the sessions table)."""


def utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def session_of(row: Sequence[Any]) -> Session:
    try:
        metadata = json.loads(row[12]) if row[12] else {}
    except (TypeError, ValueError):
        metadata = {}
    return Session(
        id=str(row[0]),
        agent=str(row[1]),
        task=str(row[2]),
        summary=str(row[3]),
        success=bool(row[4]),
        simulated=bool(row[5]),
        model=str(row[6]),
        input_tokens=int(row[7] or 0),
        output_tokens=int(row[8] or 0),
        execution_time_ms=float(row[9] or 0.0),
        workflow=row[10],
        created_at=utc(float(row[11])),
        metadata=metadata if isinstance(metadata, dict) else {},
    )


@dataclass(frozen=True, slots=True)
class NewSession:
    """A session ready to store: redacted, bounded, stamped."""

    agent: str
    task: str
    summary: str
    success: bool
    model: str
    created_at: float
    input_tokens: int = 0
    output_tokens: int = 0
    execution_time_ms: float = 0.0
    workflow: str | None = None
    simulated: bool = False
    redactions: int = 0
    metadata_json: str = "{}"
    uid: str = ""

    def row(self) -> tuple[Any, ...]:
        return (
            self.uid or uuid.uuid4().hex,
            self.agent,
            self.task,
            self.summary,
            int(self.success),
            int(self.simulated),
            self.model,
            self.input_tokens,
            self.output_tokens,
            self.execution_time_ms,
            self.workflow,
            self.created_at,
            self.redactions,
            self.metadata_json,
        )


@dataclass(frozen=True, slots=True)
class Changes:
    """Generations read from the database: per agent, and the epoch bumped by clears."""

    epoch: int
    agents: dict[str, int]


class SessionBackend(Protocol):
    """What the store needs of its database: SQLite's :class:`SessionDB` (the default) or the
    cluster's PostgreSQL tables (``claude_force.cluster.pg_memory.PgSessionDB``)."""

    @property
    def conn(self) -> object: ...

    def changed_elsewhere(self) -> bool: ...

    def changes(self) -> Changes: ...

    def add(self, sessions: Iterable[NewSession]) -> dict[str, int]: ...

    def delete(
        self, *, before: float | None = None, agent: str | None = None
    ) -> tuple[int, set[str]]: ...

    def search(self, q: SearchQuery, *, cutoff: float | None, budget: int) -> list[Hit]: ...

    def get(self, uid: str) -> Session | None: ...

    def recent(self, *, agent: str | None, limit: int) -> list[Session]: ...

    def summary(self, agent: str | None = None) -> dict[str, Any]: ...

    def legacy_rows(self, source: Path | None = None) -> list[tuple[Any, ...]] | None: ...

    def mark_legacy_imported(self) -> None: ...

    def close(self) -> None: ...


class SessionReads:
    """The reads both SQL backends share. A backend sets the dialect and implements ``_all``."""

    TABLE: ClassVar[str]
    """The sessions table."""
    P: ClassVar[str]
    """The parameter placeholder: ``?`` (SQLite) or ``%s`` (psycopg)."""
    SUCCESS: ClassVar[str]
    """``success`` as an integer (SQLite stores 0/1; PostgreSQL a boolean)."""

    def _all(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def _flag(self, value: bool) -> object:
        return int(value)

    def _filters(
        self, q: SearchQuery, cutoff: float | None, where: list[str], args: list[Any]
    ) -> tuple[list[str], list[Any]]:
        if q.success_only:
            where.append(f"{self.SUCCESS} = 1")
        if q.simulated is not None:
            where.append(f"s.simulated = {self.P}")
            args.append(self._flag(q.simulated))
        if cutoff is not None:
            where.append(f"s.created_at >= {self.P}")
            args.append(cutoff)
        return where, args

    def _recent(self, q: SearchQuery, cutoff: float | None) -> list[Hit]:
        where, args = self._filters(q, cutoff, [], [])
        if q.agent is not None:
            where.append(f"s.agent = {self.P}")
            args.append(q.agent)
        cond = (" WHERE " + " AND ".join(where)) if where else ""
        sql = (
            f"SELECT {COLUMNS} FROM {self.TABLE} AS s{cond} "
            f"ORDER BY s.created_at DESC, s.id DESC LIMIT {self.P}"
        )
        return [Hit(session_of(r), 0.0) for r in self._all(sql, [*args, q.limit])]

    def get(self, uid: str) -> Session | None:
        rows = self._all(f"SELECT {COLUMNS} FROM {self.TABLE} AS s WHERE s.uid = {self.P}", [uid])
        return session_of(rows[0]) if rows else None

    def recent(self, *, agent: str | None, limit: int) -> list[Session]:
        q = SearchQuery("", agent=agent, success_only=False, limit=limit)
        return [h.session for h in self._recent(q, None)]

    def _where(self, before: float | None, agent: str | None) -> tuple[str, list[Any]]:
        """The ``WHERE`` of a delete: sessions before ``before`` and/or of ``agent``."""
        where: list[str] = []
        args: list[Any] = []
        if before is not None:
            where.append(f"created_at < {self.P}")
            args.append(before)
        if agent is not None:
            where.append(f"agent = {self.P}")
            args.append(agent)
        return (" WHERE " + " AND ".join(where)) if where else "", args

    def summary(self, agent: str | None = None) -> dict[str, Any]:
        cond, args = (f"WHERE agent = {self.P}", [agent]) if agent is not None else ("", [])
        row = self._all(
            f"SELECT count(*), coalesce(sum({self.SUCCESS}), 0), min(created_at), "
            "max(created_at), coalesce(avg(execution_time_ms), 0), coalesce(sum(redactions), 0) "
            f"FROM {self.TABLE} AS s {cond}",
            args,
        )[0]
        by_agent = self._all(
            f"SELECT agent, count(*) FROM {self.TABLE} {cond} GROUP BY agent ORDER BY agent", args
        )
        return {
            "sessions": int(row[0]),
            "successful": int(row[1]),
            "oldest": utc(row[2]) if row[2] is not None else None,
            "newest": utc(row[3]) if row[3] is not None else None,
            "avg_execution_time_ms": float(row[4]),
            "redactions": int(row[5]),
            "agents": {str(n): int(c) for n, c in by_agent},
        }
