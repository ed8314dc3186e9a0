"""An hourly mirror of the raw rows, kept by SQLite triggers, so that questions over long ranges
read hundreds of rows instead of millions (the dashboard's 24 h / 7 d / 30 d views, summaries,
trends).

``hourly`` holds the sums of a :class:`~claude_force.metrics.record.Cell` per hour × agent × model
and ``hourly_latency`` the latency histogram's counts. Triggers on ``executions`` add every
inserted row, subtract every deleted one and do both for an update — in the same transaction as
the write, whichever process writes — so the mirror always equals the raw rows (rolled-up rows
leave it as they leave ``executions``; the daily rows answer for them).

:func:`split` decides whether an aggregate can use it: grouped only by period (a whole number
of hours), agent and model, filtered only by agent and model. Whole hours are read from the
mirror and the partial hours at both ends from the raw rows, so answers are exact.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from ..state.sqlite import transaction
from ._sqlite_rows import sql_where
from .backend import DAY_US, Query
from .record import Cell, CellKey, Dimension, Granularity

HOUR_US = 3_600_000_000
VERSION_KEY = "hourly_version"
VERSION = "3"  # 3: the semantic cache's sums
_DIMS = frozenset({"period", "agent", "model"})
_FILTERS = frozenset({"agent", "model"})

# the Cell sums of one row ``X`` (``NEW`` or ``OLD``), in Cell.SUMS order
_ROW_SUMS = (
    "X.final",
    "1",
    "X.final * X.success",
    "X.input_tokens",
    "X.output_tokens",
    "X.cache_write_tokens",
    "X.cache_read_tokens",
    "COALESCE(X.cost_pusd, 0)",
    "X.cost_pusd IS NULL",
    "X.final * X.cached",
    "X.final * COALESCE(X.saved_pusd, 0)",
    "X.final * X.duration_us",
    "X.final * X.queue_wait_us",
    "X.final * X.semantic",
    "X.final * X.semantic * COALESCE(X.saved_pusd, 0)",
)
_KEY = "X.started_us / 3600000000, X.agent, X.model"
_WHERE = "hour = X.started_us / 3600000000 AND agent = X.agent AND model = X.model"


def _add(x: str) -> str:
    sums = ", ".join(_ROW_SUMS).replace("X.", f"{x}.")
    update = ", ".join(f"{n} = {n} + excluded.{n}" for n in Cell.SUMS)
    return (
        f"INSERT INTO hourly (hour, agent, model, {', '.join(Cell.SUMS)}) "
        f"VALUES ({_KEY.replace('X.', f'{x}.')}, {sums}) "
        f"ON CONFLICT (hour, agent, model) DO UPDATE SET {update};\n"
        f"INSERT INTO hourly_latency (hour, agent, model, bucket, n) "
        f"SELECT {_KEY.replace('X.', f'{x}.')}, {x}.latency_bucket, 1 "
        f"WHERE {x}.latency_bucket IS NOT NULL "
        "ON CONFLICT (hour, agent, model, bucket) DO UPDATE SET n = n + 1;\n"
        f"INSERT INTO hour_latency (hour, bucket, n) "
        f"SELECT {x}.started_us / 3600000000, {x}.latency_bucket, 1 "
        f"WHERE {x}.latency_bucket IS NOT NULL "
        "ON CONFLICT (hour, bucket) DO UPDATE SET n = n + 1;"
    )


def _sub(x: str) -> str:
    sets = ", ".join(
        f"{n} = {n} - ({expr.replace('X.', f'{x}.')})"
        for n, expr in zip(Cell.SUMS, _ROW_SUMS, strict=True)
    )
    where = _WHERE.replace("X.", f"{x}.")
    # rows that reach zero go (rolled-up hours must give their space back)
    return (
        f"UPDATE hourly SET {sets} WHERE {where};\n"
        f"DELETE FROM hourly WHERE {where} AND attempts = 0;\n"
        f"UPDATE hourly_latency SET n = n - 1 WHERE {where} "
        f"AND bucket = {x}.latency_bucket;\n"
        f"DELETE FROM hourly_latency WHERE {where} AND bucket = {x}.latency_bucket AND n = 0;\n"
        f"UPDATE hour_latency SET n = n - 1 WHERE hour = {x}.started_us / 3600000000 "
        f"AND bucket = {x}.latency_bucket;\n"
        f"DELETE FROM hour_latency WHERE hour = {x}.started_us / 3600000000 "
        f"AND bucket = {x}.latency_bucket AND n = 0;"
    )


# defaults: an older claude-force keeps the mirror with its own (fewer) sums
_SUM_COLUMNS = ", ".join(f"{n} INTEGER NOT NULL DEFAULT 0" for n in Cell.SUMS)
STATEMENTS = (
    f"""CREATE TABLE IF NOT EXISTS hourly (
        hour INTEGER NOT NULL, agent TEXT NOT NULL, model TEXT NOT NULL, {_SUM_COLUMNS},
        PRIMARY KEY (hour, agent, model)) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS hourly_latency (
        hour INTEGER NOT NULL, agent TEXT NOT NULL, model TEXT NOT NULL,
        bucket INTEGER NOT NULL, n INTEGER NOT NULL,
        PRIMARY KEY (hour, agent, model, bucket)) WITHOUT ROWID""",
    # the same counts over all agents and models: what a total or a time series reads
    """CREATE TABLE IF NOT EXISTS hour_latency (
        hour INTEGER NOT NULL, bucket INTEGER NOT NULL, n INTEGER NOT NULL,
        PRIMARY KEY (hour, bucket)) WITHOUT ROWID""",
    "DROP TRIGGER IF EXISTS executions_hourly_insert",
    "DROP TRIGGER IF EXISTS executions_hourly_delete",
    "DROP TRIGGER IF EXISTS executions_hourly_update",
    f"""CREATE TRIGGER IF NOT EXISTS executions_hourly_insert AFTER INSERT ON executions
        BEGIN {_add("NEW")} END""",
    f"""CREATE TRIGGER IF NOT EXISTS executions_hourly_delete AFTER DELETE ON executions
        BEGIN {_sub("OLD")} END""",
    f"""CREATE TRIGGER IF NOT EXISTS executions_hourly_update AFTER UPDATE ON executions
        BEGIN {_sub("OLD")} {_add("NEW")} END""",
)

_RAW_SUMS = ", ".join(f"SUM({e.replace('X.', '')})" for e in _ROW_SUMS)


def install(conn: sqlite3.Connection, get_meta: Callable[[str], str | None]) -> None:
    """Create the mirror and its triggers, and fill it from the raw rows once (in one
    IMMEDIATE transaction, so no writer slips in between the fill and the triggers)."""
    if get_meta(VERSION_KEY) == VERSION:
        return
    with transaction(conn):
        if get_meta(VERSION_KEY) != VERSION:
            conn.execute("DROP TABLE IF EXISTS hourly")  # its columns follow Cell.SUMS
            for sql in STATEMENTS:
                conn.execute(sql)
            for table in ("hourly", "hourly_latency", "hour_latency"):
                conn.execute(f"DELETE FROM {table}")
            conn.execute(
                f"INSERT INTO hourly (hour, agent, model, {', '.join(Cell.SUMS)}) "
                f"SELECT started_us / {HOUR_US}, agent, model, {_RAW_SUMS} FROM executions "
                "GROUP BY 1, 2, 3"
            )
            conn.execute(
                "INSERT INTO hourly_latency (hour, agent, model, bucket, n) "
                f"SELECT started_us / {HOUR_US}, agent, model, latency_bucket, COUNT(*) "
                "FROM executions WHERE latency_bucket IS NOT NULL GROUP BY 1, 2, 3, 4"
            )
            conn.execute(
                "INSERT INTO hour_latency (hour, bucket, n) "
                f"SELECT started_us / {HOUR_US}, latency_bucket, COUNT(*) "
                "FROM executions WHERE latency_bucket IS NOT NULL GROUP BY 1, 2"
            )
            conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (VERSION_KEY, VERSION),
            )


def _size(granularity: Granularity | int) -> int:
    if isinstance(granularity, int):
        return granularity
    return HOUR_US if granularity == "hour" else DAY_US


def split(
    query: Query, by: Sequence[Dimension], granularity: Granularity | int
) -> tuple[list[Query], Query] | None:
    """``(raw parts, mirror part)`` when the mirror can answer the whole hours of ``query``;
    ``None`` when it cannot (other dimensions or filters, or less than an hour)."""
    if not set(by) <= _DIMS or not set(query.filters()) <= _FILTERS:
        return None
    if "period" in by and _size(granularity) % HOUR_US:
        return None
    lo = None if query.since_us is None else -(-query.since_us // HOUR_US) * HOUR_US
    hi = None if query.until_us is None else query.until_us // HOUR_US * HOUR_US
    if lo is not None and hi is not None and lo >= hi:
        return None
    raw: list[Query] = []
    if query.since_us is not None and lo is not None and query.since_us < lo:
        raw.append(replace(query, until_us=lo))
    if query.until_us is not None and hi is not None and hi < query.until_us:
        raw.append(replace(query, since_us=hi))
    return raw, replace(query, since_us=lo, until_us=hi)


def aggregate(
    conn: sqlite3.Connection,
    query: Query,
    by: Sequence[Dimension],
    granularity: Granularity | int,
    add: Callable[[CellKey, Cell], None],
    fix: Callable[[tuple[Any, ...]], CellKey],
    latency: bool = True,
) -> None:
    """The mirror's cells for ``query`` (whole hours), handed to ``add``."""
    size = _size(granularity)
    groups = [f"(hour * {HOUR_US} - hour * {HOUR_US} % {size})" if d == "period" else d for d in by]
    where, args = sql_where(query, "hour", HOUR_US)
    group = f" GROUP BY {', '.join(groups)}" if groups else ""
    n = len(by)
    sums = ", ".join(f"SUM({name})" for name in Cell.SUMS)
    cells: dict[CellKey, Cell] = {}
    for row in conn.execute(f"SELECT {', '.join([*groups, sums])} FROM hourly{where}{group}", args):
        if row[n + 1]:  # attempts > 0
            cell = Cell()
            for name, v in zip(Cell.SUMS, row[n:], strict=True):
                setattr(cell, name, int(v or 0))
            cells[fix(tuple(row[:n]))] = cell
    hg = ", ".join([*groups, "bucket"])
    if not latency:
        for key, cell in cells.items():
            add(key, cell)
        return
    lat_where = where + (" AND " if where else " WHERE ") + "n > 0"
    # totals and time series read the small all-agents table
    table = "hourly_latency" if set(by) - {"period"} or query.filters() else "hour_latency"
    for row in conn.execute(f"SELECT {hg}, SUM(n) FROM {table}{lat_where} GROUP BY {hg}", args):
        key = fix(tuple(row[:n]))
        if key in cells:
            cells[key].latency.add_index(row[n], row[n + 1])
    for key, cell in cells.items():
        add(key, cell)
