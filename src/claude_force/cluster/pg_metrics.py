"""The PostgreSQL metrics store (cluster mode): every worker and server writes and reads one
store, behind the same :class:`~claude_force.metrics.backend.MetricsStore` protocol as SQLite.

Raw rows are kept per ``(execution_id, attempt)`` — a durable step re-run after a crash keeps its
execution id, so its row is replaced, not added — with the filter columns indexed and the whole
record as JSON. Aggregates select the matching rows and fold them with the same pure rollup
math as the other stores (``aggregate_records``), so every store answers identically; rollups
move old raw rows into ``daily`` cells (sums and the latency histogram as JSON) in one
transaction. The schema is created and upgraded automatically (:mod:`.pgschema`).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from ..metrics.backend import (
    _DAILY_DIMS,
    ROLLED_BEFORE,
    DailyRow,
    FoldsRows,
    Query,
    RollupReport,
    StoreStats,
    aggregate_records,
)
from ..metrics.browse import ExecutionNote, merge_note
from ..metrics.histogram import LogHistogram
from ..metrics.record import Cell, ExecutionRecord, period_start
from . import pgschema
from .liveness import conninfo

MIGRATIONS = [
    """
CREATE TABLE IF NOT EXISTS claude_force.metrics_executions (
    id BIGSERIAL PRIMARY KEY,
    execution_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    started_us BIGINT NOT NULL,
    agent TEXT NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    workflow TEXT,
    simulated BOOLEAN NOT NULL,
    success BOOLEAN NOT NULL,
    final BOOLEAN NOT NULL,
    record JSONB NOT NULL,
    UNIQUE (execution_id, attempt)
);
CREATE INDEX IF NOT EXISTS metrics_executions_started ON claude_force.metrics_executions (started_us);
CREATE TABLE IF NOT EXISTS claude_force.metrics_daily (
    day_us BIGINT NOT NULL,
    agent TEXT NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    workflow TEXT NOT NULL,
    outcome TEXT NOT NULL,
    simulated BOOLEAN NOT NULL,
    cell JSONB NOT NULL,
    PRIMARY KEY (day_us, agent, provider, model, workflow, outcome, simulated)
);
CREATE TABLE IF NOT EXISTS claude_force.metrics_notes (
    execution_id TEXT PRIMARY KEY,
    started_us BIGINT NOT NULL,
    data JSONB NOT NULL
);
CREATE TABLE IF NOT EXISTS claude_force.metrics_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
""",
]

_T = "claude_force.metrics_executions"
_D = "claude_force.metrics_daily"


def cell_json(cell: Cell) -> dict[str, Any]:
    data: dict[str, Any] = {name: getattr(cell, name) for name in Cell.SUMS}
    data["latency"] = {str(i): n for i, n in cell.latency.buckets()}
    return data


def cell_of(data: dict[str, Any]) -> Cell:
    cell = Cell()
    for name in Cell.SUMS:
        setattr(cell, name, int(data.get(name, 0)))
    cell.latency = LogHistogram({int(i): int(n) for i, n in data.get("latency", {}).items()})
    return cell


def _record(data: dict[str, Any]) -> ExecutionRecord:
    return ExecutionRecord(**data)


class PostgresMetricsStore(FoldsRows):
    """Metrics in PostgreSQL; blocking methods (the tracker calls them from a thread)."""

    def __init__(self, database_url: str) -> None:
        self.url = conninfo(database_url)
        self._lock = threading.RLock()
        self._conn: psycopg.Connection[Any] | None = None

    @property
    def location(self) -> str:
        host, _, db = self.url.partition("@")[2].partition("/")
        return f"postgresql://{host}/{db}"  # never the user or password

    def _db(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            pgschema.migrate(self.url, "metrics", MIGRATIONS)
            self._conn = psycopg.connect(self.url, row_factory=dict_row, connect_timeout=10)
        return self._conn

    # --- writing -----------------------------------------------------------------------------------

    def upsert(self, records: Sequence[ExecutionRecord]) -> None:
        if not records:
            return
        rows = [
            (
                r.execution_id,
                r.attempt,
                r.started_us,
                r.agent,
                r.provider,
                r.model,
                r.workflow,
                r.simulated,
                r.success,
                r.final,
                Jsonb(asdict(r)),
            )
            for r in records
        ]
        with self._lock, self._db().transaction(), self._db().cursor() as cur:
            cur.executemany(
                f"INSERT INTO {_T} (execution_id, attempt, started_us, agent, provider, model, "
                "workflow, simulated, success, final, record) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (execution_id, attempt) DO UPDATE SET started_us = EXCLUDED.started_us, "
                "agent = EXCLUDED.agent, provider = EXCLUDED.provider, model = EXCLUDED.model, "
                "workflow = EXCLUDED.workflow, simulated = EXCLUDED.simulated, "
                "success = EXCLUDED.success, final = EXCLUDED.final, record = EXCLUDED.record",
                rows,
            )

    def put_notes(self, notes: Sequence[ExecutionNote]) -> None:
        if not notes:
            return
        with self._lock, self._db().transaction(), self._db().cursor() as cur:
            for n in notes:
                cur.execute(
                    "SELECT data FROM claude_force.metrics_notes WHERE execution_id = %s "
                    "FOR UPDATE",
                    (n.execution_id,),
                )
                row = cur.fetchone()
                data = merge_note(row["data"] if row else None, n.data)
                cur.execute(
                    "INSERT INTO claude_force.metrics_notes (execution_id, started_us, data) "
                    "VALUES (%s, %s, %s) ON CONFLICT (execution_id) DO UPDATE SET data = "
                    "EXCLUDED.data",
                    (
                        n.execution_id,
                        n.started_us,
                        Jsonb(json.loads(json.dumps(data, default=str))),
                    ),
                )

    # --- reading -----------------------------------------------------------------------------------

    @staticmethod
    def _where(query: Query, *, daily: bool = False) -> tuple[str, list[Any]]:
        parts: list[str] = []
        args: list[Any] = []
        col = "day_us" if daily else "started_us"
        if query.since_us is not None:
            if daily:
                parts.append(f"{col} + 86400000000 > %s")
            else:
                parts.append(f"{col} >= %s")
            args.append(query.since_us)
        if query.until_us is not None:
            parts.append(f"{col} < %s")
            args.append(query.until_us)
        for name, value in query.filters().items():
            if name == "workflow" and not daily:
                parts.append("COALESCE(workflow, '') = %s")
            else:
                parts.append(f"{name} = %s")
            args.append(value)
        return (" WHERE " + " AND ".join(parts)) if parts else "", args

    def _rows(self, sql: str, args: Sequence[Any]) -> list[dict[str, Any]]:
        with self._lock, self._db().cursor() as cur:
            cur.execute(sql, list(args))  # type: ignore[arg-type]  # our own SQL text
            rows = cur.fetchall()
        self._db().commit()
        return rows

    def records(self, query: Query) -> Iterator[ExecutionRecord]:
        where, args = self._where(query)
        rows = self._rows(f"SELECT record FROM {_T}{where} ORDER BY started_us, id", args)
        return iter([_record(r["record"]) for r in rows])

    def daily_rows(self, query: Query) -> list[DailyRow]:
        where, args = self._where(query, daily=True)
        rows = self._rows(f"SELECT * FROM {_D}{where} ORDER BY day_us", args)
        return [
            DailyRow(
                r["day_us"],
                {d: r[d] for d in _DAILY_DIMS if d != "period"},
                cell_of(r["cell"]),
            )
            for r in rows
        ]

    def recent(
        self, query: Query, limit: int = 50, *, failed_only: bool = False
    ) -> list[ExecutionRecord]:
        where, args = self._where(query)
        where += (" AND " if where else " WHERE ") + "final"
        if failed_only:
            where += " AND NOT success"
        sql = f"SELECT record FROM {_T}{where} ORDER BY started_us DESC, id DESC LIMIT %s"
        return [_record(r["record"]) for r in self._rows(sql, [*args, int(limit)])]

    def attempts(self, execution_id: str) -> list[ExecutionRecord]:
        sql = f"SELECT record FROM {_T} WHERE execution_id = %s ORDER BY attempt"
        return [_record(r["record"]) for r in self._rows(sql, [execution_id])]

    def tail(self, after: int, limit: int = 500) -> tuple[int, list[ExecutionRecord]]:
        rows = self._rows(
            f"SELECT id, record FROM {_T} WHERE id > %s ORDER BY id LIMIT %s", [after, int(limit)]
        )
        cursor = int(rows[-1]["id"]) if rows else after
        return cursor, [_record(r["record"]) for r in rows]

    def tail_cursor(self) -> int:
        return int(self._rows(f"SELECT COALESCE(MAX(id), 0) AS n FROM {_T}", [])[0]["n"])

    def note(self, execution_id: str) -> dict[str, Any] | None:
        rows = self._rows(
            "SELECT data FROM claude_force.metrics_notes WHERE execution_id = %s", [execution_id]
        )
        return dict(rows[0]["data"]) if rows else None

    # --- retention ---------------------------------------------------------------------------------

    def rollup(self, cutoff_us: int) -> RollupReport:
        cutoff_us = period_start(cutoff_us, "day")
        with self._lock, self._db().transaction(), self._db().cursor() as cur:
            cur.execute(f"SELECT record FROM {_T} WHERE started_us < %s FOR UPDATE", (cutoff_us,))
            old = [_record(r["record"]) for r in cur.fetchall()]
            cells = aggregate_records(old, _DAILY_DIMS, "day")
            for key, cell in cells.items():
                cur.execute(
                    f"SELECT cell FROM {_D} WHERE (day_us, agent, provider, model, workflow, "
                    "outcome, simulated) = (%s, %s, %s, %s, %s, %s, %s) FOR UPDATE",
                    key,
                )
                have = cur.fetchone()
                if have is not None:
                    merged = cell_of(have["cell"])
                    merged.merge(cell)
                    cell = merged
                cur.execute(
                    f"INSERT INTO {_D} (day_us, agent, provider, model, workflow, outcome, "
                    "simulated, cell) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
                    "ON CONFLICT (day_us, agent, provider, model, workflow, outcome, simulated) "
                    "DO UPDATE SET cell = EXCLUDED.cell",
                    (*key, Jsonb(cell_json(cell))),
                )
            cur.execute(f"DELETE FROM {_T} WHERE started_us < %s", (cutoff_us,))
            cur.execute(
                "DELETE FROM claude_force.metrics_notes WHERE started_us < %s", (cutoff_us,)
            )
            previous = int(self._meta(cur, ROLLED_BEFORE) or 0)
            self._put_meta(cur, ROLLED_BEFORE, str(max(previous, cutoff_us)))
        return RollupReport(cutoff_us, len(old), len(cells))

    def prune_daily(self, cutoff_us: int) -> int:
        cutoff_us = period_start(cutoff_us, "day")
        with self._lock, self._db().transaction(), self._db().cursor() as cur:
            cur.execute(f"DELETE FROM {_D} WHERE day_us < %s", (cutoff_us,))
            return cur.rowcount

    def delete_before(self, cutoff_us: int) -> int:
        with self._lock, self._db().transaction(), self._db().cursor() as cur:
            cur.execute(f"DELETE FROM {_T} WHERE started_us < %s", (cutoff_us,))
            n = cur.rowcount
            cur.execute(
                "DELETE FROM claude_force.metrics_notes WHERE started_us < %s", (cutoff_us,)
            )
        return n + self.prune_daily(cutoff_us)

    @staticmethod
    def _meta(cur: psycopg.Cursor[Any], key: str) -> str | None:
        cur.execute("SELECT value FROM claude_force.metrics_meta WHERE key = %s", (key,))
        row = cur.fetchone()
        return None if row is None else str(row["value"])

    @staticmethod
    def _put_meta(cur: psycopg.Cursor[Any], key: str, value: str) -> None:
        cur.execute(
            "INSERT INTO claude_force.metrics_meta (key, value) VALUES (%s, %s) "
            "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
            (key, value),
        )

    def get_meta(self, key: str) -> str | None:
        with self._lock, self._db().transaction(), self._db().cursor() as cur:
            return self._meta(cur, key)

    def set_meta(self, key: str, value: str) -> None:
        with self._lock, self._db().transaction(), self._db().cursor() as cur:
            self._put_meta(cur, key, value)

    def stats(self) -> StoreStats:
        raw = self._rows(
            f"SELECT COUNT(*) AS n, MIN(started_us) AS lo, MAX(started_us) AS hi FROM {_T}", []
        )[0]
        daily = self._rows(
            f"SELECT COUNT(*) AS n, MIN(day_us) AS lo, MAX(day_us) AS hi FROM {_D}", []
        )[0]
        size = self._rows(
            "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0) AS b FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'claude_force' AND c.relname LIKE 'metrics_%%' AND c.relkind = 'r'",
            [],
        )[0]
        starts = [v for v in (raw["lo"], raw["hi"], daily["lo"], daily["hi"]) if v is not None]
        return StoreStats(
            raw_rows=int(raw["n"]),
            daily_rows=int(daily["n"]),
            bytes=int(size["b"]),
            location=self.location,
            oldest_us=min(starts) if starts else None,
            newest_us=max(starts) if starts else None,
        )

    def clear(self) -> None:
        with self._lock, self._db().transaction(), self._db().cursor() as cur:
            cur.execute(f"TRUNCATE {_T}, {_D}, claude_force.metrics_notes RESTART IDENTITY")
            cur.execute("DELETE FROM claude_force.metrics_meta WHERE key = %s", (ROLLED_BEFORE,))

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
