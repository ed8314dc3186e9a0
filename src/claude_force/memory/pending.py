"""Sessions handed to memory and not written yet: could a search find one of them? (pure I/O-free
SQLite in memory; used on the event loop by :class:`~.service.MemoryService`).

A context lookup may be answered on the event loop while finished runs' sessions wait for their
write job (see ``MemoryService.remember_soon``), but only when none of those sessions could be
among its results: when none matches the search's terms. "Matches" is what the store's full-text
index says — the Porter stemmer and Unicode folding of :data:`~.sqlite_backend.TOKENIZER` — so
the question goes to an FTS5 table in memory with the same tokenizer rather than to a
hand-written approximation of the stemmer (one that errs would show a stale context). Only the
words of the task are indexed, as in the store; a task is matched as given (redaction happens at
the write and only replaces words, by marks whose words are added to every task here).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from .records import match_expression
from .redact import KINDS
from .sqlite_backend import TOKENIZER

# the words a redaction mark "[REDACTED:<kind>]" puts into a stored task
_MARKS = "redacted " + " ".join(KINDS)


class PendingSessions:
    """The tasks of the sessions waiting for their write, by agent."""

    def __init__(self) -> None:
        self._tasks: list[tuple[str, str]] = []
        self._indexed = 0  # how many of them the table holds
        self._conn: sqlite3.Connection | None = None

    def __bool__(self) -> bool:
        return bool(self._tasks)

    def add(self, agent: str, task: str) -> None:
        self._tasks.append((agent, task))

    def clear(self) -> None:
        """Their write job is queued: from now on the worker's lookups see them in order."""
        self._tasks.clear()
        if self._indexed:
            assert self._conn is not None
            self._conn.execute("DELETE FROM pending")
            self._indexed = 0

    def may_match(self, agent: str | None, terms: Sequence[str]) -> bool:
        """Whether a session of ``agent`` (``None``: any) among them matches any of ``terms``."""
        if not self._tasks or not terms:
            return False
        conn = self._table()
        if self._indexed < len(self._tasks):
            new = self._tasks[self._indexed :]
            conn.executemany(
                "INSERT INTO pending(agent, task) VALUES (?, ?)",
                # with the marks' words: the stored task may hold marks where this one has secrets
                [(a, f"{t}\n{_MARKS}") for a, t in new],
            )
            self._indexed = len(self._tasks)
        sql = "SELECT 1 FROM pending WHERE pending MATCH ?"
        args: list[str] = [match_expression(terms)]
        if agent is not None:
            sql += " AND agent = ?"
            args.append(agent)
        return conn.execute(sql + " LIMIT 1", args).fetchone() is not None

    def _table(self) -> sqlite3.Connection:
        if self._conn is None:
            # (used on one event loop's thread at a time; at exit, from the exiting thread)
            self._conn = sqlite3.connect(":memory:", check_same_thread=False)
            self._conn.execute(
                f"CREATE VIRTUAL TABLE pending USING fts5(task, agent UNINDEXED, "
                f"tokenize='{TOKENIZER}')"
            )
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
            self._indexed = 0
