"""Browsing stored executions one by one: the newest rows, one execution's attempts, the rows
written since a cursor (to follow the store live), and each execution's *notes*.

A note is a small JSON object per execution with what the aggregate tables do not keep: the
retry, fallback, rate-limit and breaker events of its attempts, the (redacted) error message,
the routing decision, the request id — and the task and answer text only when the project opts
in (``metrics.keep_text``), redacted. Notes are merged key by key (RFC 7396), so a later writer
(the router, after the run) adds to what the tracker wrote.

:class:`SQLiteBrowse` is mixed into :class:`~claude_force.metrics.sqlite_backend.SQLiteMetricsStore`
(kept apart so that module stays about storage and aggregates).
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .backend import Query
    from .record import ExecutionRecord

NOTES_SCHEMA = """
CREATE TABLE IF NOT EXISTS notes (
    execution_id TEXT PRIMARY KEY,
    started_us INTEGER NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS notes_started ON notes (started_us);
"""


@dataclass(frozen=True, slots=True)
class ExecutionNote:
    """Details of one execution, merged (:func:`merge_note`) into what is stored already."""

    execution_id: str
    started_us: int
    data: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


def merge_note(old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    """Pure: RFC 7396 merge (SQLite's ``json_patch``): objects merge key by key, anything else
    replaces, ``None`` removes the key."""
    out = dict(old or {})
    for key, value in new.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge_note(out[key], value)
        else:
            out[key] = value
    return out


class SQLiteBrowse:
    """The browsing queries over the ``executions`` and ``notes`` tables."""

    _conn: sqlite3.Connection
    _lock: threading.RLock

    if TYPE_CHECKING:  # provided by the store

        def _write(self) -> contextlib.AbstractContextManager[sqlite3.Connection]: ...

        @staticmethod
        def _raw_where(query: Query) -> tuple[str, list[Any]]: ...

    def _records(self, sql: str, args: Sequence[Any]) -> list[ExecutionRecord]:
        from ._sqlite_rows import _record_of

        with self._lock:
            rows = self._conn.execute(sql, list(args)).fetchall()
        return [_record_of(r) for r in rows]

    def recent(
        self, query: Query, limit: int = 50, *, failed_only: bool = False
    ) -> list[ExecutionRecord]:
        """The final attempts of the newest executions in ``query``, newest first (an index
        range scan on ``started_us``, read backwards: cheap however many rows are stored)."""
        where, args = self._raw_where(query)
        where += (" AND " if where else " WHERE ") + "final = 1"
        if failed_only:
            where += " AND success = 0"
        sql = f"SELECT * FROM executions{where} ORDER BY started_us DESC, id DESC LIMIT ?"
        return self._records(sql, [*args, int(limit)])

    def attempts(self, execution_id: str) -> list[ExecutionRecord]:
        """Every stored attempt of one execution, first to last (empty: not stored, or rolled
        up into daily rows)."""
        sql = "SELECT * FROM executions WHERE execution_id = ? ORDER BY attempt"
        return self._records(sql, [execution_id])

    def tail(self, after: int, limit: int = 500) -> tuple[int, list[ExecutionRecord]]:
        """Rows written after the cursor ``after`` (a row id; 0: from the start), oldest first,
        and the new cursor. Rows upserted again keep their place (they are not returned twice)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT * FROM executions WHERE id > ? ORDER BY id LIMIT ?", (after, int(limit))
            ).fetchall()
        from ._sqlite_rows import _record_of

        cursor = int(rows[-1]["id"]) if rows else after
        return cursor, [_record_of(r) for r in rows]

    def tail_cursor(self) -> int:
        """The cursor of the newest row now (follow the store from here)."""
        with self._lock:
            row = self._conn.execute("SELECT MAX(id) FROM executions").fetchone()
        return int(row[0] or 0)

    def put_notes(self, notes: Sequence[ExecutionNote]) -> None:
        """Merge notes into the stored ones (one transaction)."""
        if not notes:
            return
        rows = [(n.execution_id, n.started_us, json.dumps(n.data, default=str)) for n in notes]
        with self._write() as conn:
            conn.executemany(
                "INSERT INTO notes (execution_id, started_us, data) VALUES (?, ?, json(?)) "
                "ON CONFLICT (execution_id) DO UPDATE SET data = json_patch(data, excluded.data)",
                rows,
            )

    def note(self, execution_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT data FROM notes WHERE execution_id = ?", (execution_id,)
            ).fetchone()
        if row is None:
            return None
        data: dict[str, Any] = json.loads(row[0])
        return data

    def _delete_notes_before(self, conn: sqlite3.Connection, cutoff_us: int) -> None:
        conn.execute("DELETE FROM notes WHERE started_us < ?", (cutoff_us,))


class MemoryBrowse:
    """The same over the in-memory store's rows (``_raw`` in insertion order, ``_seq``)."""

    _raw: dict[tuple[str, int], ExecutionRecord]
    _seq: dict[tuple[str, int], int]
    _notes: dict[str, tuple[int, dict[str, Any]]]
    _lock: threading.RLock

    if TYPE_CHECKING:  # provided by the store

        def _raw_matching(self, query: Query) -> list[ExecutionRecord]: ...

    def recent(
        self, query: Query, limit: int = 50, *, failed_only: bool = False
    ) -> list[ExecutionRecord]:
        with self._lock:
            rows = [
                r for r in self._raw_matching(query) if r.final and not (failed_only and r.success)
            ]
            rows.sort(key=lambda r: (r.started_us, self._seq[r.key]), reverse=True)
        return rows[: int(limit)]

    def attempts(self, execution_id: str) -> list[ExecutionRecord]:
        with self._lock:
            rows = [r for r in self._raw.values() if r.execution_id == execution_id]
        return sorted(rows, key=lambda r: r.attempt)

    def tail(self, after: int, limit: int = 500) -> tuple[int, list[ExecutionRecord]]:
        with self._lock:
            found = sorted(
                ((n, self._raw[k]) for k, n in self._seq.items() if n > after and k in self._raw),
                key=lambda pair: pair[0],
            )[: int(limit)]
        return (found[-1][0] if found else after), [r for _, r in found]

    def tail_cursor(self) -> int:
        with self._lock:
            return max(self._seq.values(), default=0)

    def put_notes(self, notes: Sequence[ExecutionNote]) -> None:
        with self._lock:
            for note in notes:
                old = self._notes.get(note.execution_id)
                data = merge_note(old[1] if old else None, note.data)
                # a JSON round trip, so a note reads back as the SQLite store gives it
                self._notes[note.execution_id] = (
                    old[0] if old else note.started_us,
                    json.loads(json.dumps(data, default=str)),
                )

    def note(self, execution_id: str) -> dict[str, Any] | None:
        with self._lock:
            found = self._notes.get(execution_id)
        return None if found is None else dict(found[1])

    def _delete_notes_before(self, cutoff_us: int) -> None:
        for key in [k for k, (at, _) in self._notes.items() if at < cutoff_us]:
            del self._notes[key]
