"""The metrics database's schema and the conversions between records and its rows.

Kept apart from :mod:`.sqlite_backend` (the store's operations) so that each file holds one role:
what the tables are, and what the store does with them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from .backend import _DAILY_DIMS, Query
from .record import Cell, CellKey, Dimension, ExecutionRecord

HOUR_US = 3_600_000_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS executions (
    id INTEGER PRIMARY KEY,
    execution_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    final INTEGER NOT NULL,
    started_us INTEGER NOT NULL,
    agent TEXT NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    workflow TEXT NOT NULL,
    outcome TEXT NOT NULL,
    simulated INTEGER NOT NULL,
    success INTEGER NOT NULL,
    error_type TEXT,
    duration_us INTEGER NOT NULL,
    queue_wait_us INTEGER NOT NULL,
    latency_bucket INTEGER,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    cache_write_tokens INTEGER NOT NULL,
    cache_read_tokens INTEGER NOT NULL,
    cost_pusd INTEGER,
    cached INTEGER NOT NULL,
    saved_pusd INTEGER,
    workflow_position INTEGER,
    workflow_run_id TEXT,
    step_id TEXT,
    task_hash TEXT NOT NULL,
    semantic INTEGER NOT NULL DEFAULT 0,
    UNIQUE (execution_id, attempt)
);
CREATE INDEX IF NOT EXISTS executions_started ON executions (started_us);
CREATE TABLE IF NOT EXISTS dims (
    id INTEGER PRIMARY KEY,
    agent TEXT NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    workflow TEXT NOT NULL,
    outcome TEXT NOT NULL,
    simulated INTEGER NOT NULL,
    UNIQUE (agent, provider, model, workflow, outcome, simulated)
);
CREATE TABLE IF NOT EXISTS daily (
    id INTEGER PRIMARY KEY,
    day INTEGER NOT NULL,
    dim INTEGER NOT NULL REFERENCES dims (id),
    executions INTEGER NOT NULL,
    attempts INTEGER NOT NULL,
    successes INTEGER NOT NULL,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    cache_write_tokens INTEGER NOT NULL,
    cache_read_tokens INTEGER NOT NULL,
    cost_pusd INTEGER NOT NULL,
    cost_unknown INTEGER NOT NULL,
    cached INTEGER NOT NULL,
    saved_pusd INTEGER NOT NULL,
    duration_us INTEGER NOT NULL,
    queue_wait_us INTEGER NOT NULL,
    semantic_cached INTEGER NOT NULL DEFAULT 0,
    semantic_saved_pusd INTEGER NOT NULL DEFAULT 0,
    UNIQUE (day, dim)
);
CREATE TABLE IF NOT EXISTS daily_latency (
    daily INTEGER NOT NULL,
    bucket INTEGER NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (daily, bucket)
) WITHOUT ROWID;
-- the same counts summed over all dimension sets of a day; stored in bucket order so that an
-- unfiltered summary streams through it without sorting (90 days: a few ms instead of ~100)
CREATE TABLE IF NOT EXISTS day_latency (
    bucket INTEGER NOT NULL,
    day INTEGER NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (bucket, day)
) WITHOUT ROWID;
"""

_RAW_COLUMNS = (
    "execution_id",
    "attempt",
    "final",
    "started_us",
    *_DAILY_DIMS[1:],  # a raw row carries the daily rows' dimensions
    "success",
    "error_type",
    "duration_us",
    "queue_wait_us",
    "latency_bucket",
    "input_tokens",
    "output_tokens",
    "cache_write_tokens",
    "cache_read_tokens",
    "cost_pusd",
    "cached",
    "saved_pusd",
    "workflow_position",
    "workflow_run_id",
    "step_id",
    "task_hash",
    "semantic",
)
_UPSERT = (
    f"INSERT INTO executions ({', '.join(_RAW_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in _RAW_COLUMNS)}) "
    "ON CONFLICT (execution_id, attempt) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _RAW_COLUMNS[2:])
)

# The sums of a Cell, as SQL over raw rows (failed earlier attempts count tokens and cost only).
_RAW_SUMS = """
    SUM(final), COUNT(*), SUM(final * success),
    SUM(input_tokens), SUM(output_tokens), SUM(cache_write_tokens), SUM(cache_read_tokens),
    SUM(COALESCE(cost_pusd, 0)), SUM(cost_pusd IS NULL), SUM(final * cached),
    SUM(final * COALESCE(saved_pusd, 0)), SUM(final * duration_us), SUM(final * queue_wait_us),
    SUM(final * semantic), SUM(final * semantic * COALESCE(saved_pusd, 0))
"""
_DAILY_SUMS = ", ".join(f"SUM(d.{name})" for name in Cell.SUMS)


def _row_of(r: ExecutionRecord) -> tuple[Any, ...]:
    return (
        r.execution_id,
        r.attempt,
        int(r.final),
        r.started_us,
        r.agent,
        r.provider,
        r.model,
        r.workflow or "",
        r.outcome,
        int(r.simulated),
        int(r.success),
        r.error_type,
        r.duration_us,
        r.queue_wait_us,
        r.latency_bucket,
        r.input_tokens,
        r.output_tokens,
        r.cache_write_tokens,
        r.cache_read_tokens,
        r.cost_pusd,
        int(r.cached),
        r.saved_pusd,
        r.workflow_position,
        r.workflow_run_id,
        r.step_id,
        r.task_hash,
        int(r.semantic),
    )


def _record_of(row: sqlite3.Row) -> ExecutionRecord:
    return ExecutionRecord(
        execution_id=row["execution_id"],
        attempt=row["attempt"],
        final=bool(row["final"]),
        started_us=row["started_us"],
        agent=row["agent"],
        provider=row["provider"],
        model=row["model"],
        workflow=row["workflow"] or None,
        success=bool(row["success"]),
        error_type=row["error_type"],
        duration_us=row["duration_us"],
        queue_wait_us=row["queue_wait_us"],
        input_tokens=row["input_tokens"],
        output_tokens=row["output_tokens"],
        cache_write_tokens=row["cache_write_tokens"],
        cache_read_tokens=row["cache_read_tokens"],
        cost_pusd=row["cost_pusd"],
        cached=bool(row["cached"]),
        saved_pusd=row["saved_pusd"],
        simulated=bool(row["simulated"]),
        workflow_position=row["workflow_position"],
        workflow_run_id=row["workflow_run_id"],
        step_id=row["step_id"],
        task_hash=row["task_hash"],
        semantic=bool(row["semantic"]),
    )


# columns added after the first release: (table, column, definition); added to an older file
# when it is opened (an older claude-force ignores them and writes their defaults)
_ADDED_COLUMNS = (
    ("executions", "semantic", "INTEGER NOT NULL DEFAULT 0"),
    ("daily", "semantic_cached", "INTEGER NOT NULL DEFAULT 0"),
    ("daily", "semantic_saved_pusd", "INTEGER NOT NULL DEFAULT 0"),
)


def add_columns(conn: sqlite3.Connection) -> None:
    """Schema migration 1 → 2: the columns a file written before them lacks (the state helper
    runs it in its one migration transaction; an older claude-force ignores the columns)."""
    for table, column, definition in _ADDED_COLUMNS:
        have = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
        if column not in have:
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")


def _cell_of(sums: Sequence[Any]) -> Cell:
    cell = Cell()
    for name, v in zip(Cell.SUMS, sums, strict=True):
        setattr(cell, name, int(v or 0))
    return cell


def _key_fixer(by: Sequence[Dimension]) -> Any:
    """SQLite returns ``simulated`` as 0/1; keys use bool like the memory store."""
    if "simulated" not in by:
        return lambda key: key
    i = list(by).index("simulated")

    def fix(key: tuple[Any, ...]) -> tuple[Any, ...]:
        return (*key[:i], bool(key[i]), *key[i + 1 :])

    return fix


def _add(out: dict[CellKey, Cell], key: CellKey, cell: Cell) -> None:
    have = out.get(key)
    if have is None:
        out[key] = cell
    else:
        have.merge(cell)


def sql_where(
    query: Query, column: str, unit: int = 1, *, dims: str = "", round_up: bool = False
) -> tuple[str, list[Any]]:
    """The ``WHERE`` clause (empty when nothing is asked) and its arguments for ``query`` over a
    table whose time ``column`` counts ``unit`` µs (1: µs; an hour; a day), its dimension
    columns named with the prefix ``dims``. The end is exclusive; ``round_up``: a unit the
    period ends inside is included."""
    clauses: list[str] = []
    args: list[Any] = []
    if query.since_us is not None:
        clauses.append(f"{column} >= ?")
        args.append(query.since_us // unit)
    if query.until_us is not None:
        clauses.append(f"{column} < ?")
        args.append(-(-query.until_us // unit) if round_up else query.until_us // unit)
    for name, value in query.filters().items():
        clauses.append(f"{dims}{name} = ?")
        args.append(value)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", args
