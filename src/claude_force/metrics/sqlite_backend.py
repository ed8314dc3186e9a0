"""The SQLite metrics store (the default): one file in the project's state directory, WAL mode.

Raw rows live in ``executions`` (upserted by ``(execution_id, attempt)``); rollups fold old raw
rows into ``daily`` (sums per day × dimension set, the dimension sets interned in ``dims``) and
``daily_latency`` (the latency histogram's bucket counts), then delete them and give the space back.
Aggregates run as ``GROUP BY`` queries over both, so analytics never loads raw rows into Python.

Every batch is one transaction: a process killed mid-write loses at most that batch and never
leaves a half-written one (SQLite's WAL guarantees it). Methods block; they are called from the
tracker's writer thread or through ``asyncio.to_thread``. One connection per store, serialised
by a lock; other processes share the file through SQLite's own locking (``busy_timeout``).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError
from ..state.sqlite import (
    WRITE_CACHE_PRAGMA,
    Schema,
    app_id,
    open_database,
    tables_of,
    transaction,
)
from . import sqlite_hourly
from ._sqlite_rows import (
    _DAILY_SUMS,
    _RAW_SUMS,
    _SCHEMA,
    _UPSERT,
    HOUR_US,
    _add,
    _cell_of,
    _key_fixer,
    _record_of,
    _row_of,
    add_columns,
    sql_where,
)
from .backend import _DAILY_DIMS, DAY_US, ROLLED_BEFORE, DailyRow, Query, RollupReport, StoreStats
from .browse import NOTES_SCHEMA, SQLiteBrowse
from .record import (
    Cell,
    CellKey,
    Dimension,
    ExecutionRecord,
    Granularity,
    period_start,
)

APPLICATION_ID = app_id(b"cfT1")
TABLES = tables_of(_SCHEMA, NOTES_SCHEMA, *sqlite_hourly.STATEMENTS)


class SQLiteMetricsStore(SQLiteBrowse):
    """Metrics in one SQLite file (created with its folder on first open)."""

    def __init__(self, path: str | os.PathLike[str], *, busy_timeout_ms: int = 10_000) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        conn = open_database(self.path, self._schema(), busy_timeout_s=busy_timeout_ms / 1000).conn
        conn.row_factory = sqlite3.Row
        self._conn = conn
        try:
            sqlite_hourly.install(conn, self.get_meta)
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise self._error(f"not a usable metrics database ({exc})") from None

    def _schema(self) -> Schema:
        return Schema(
            what="metrics database",
            application_id=APPLICATION_ID,
            migrations=(_SCHEMA + NOTES_SCHEMA, add_columns),
            tables=TABLES,
            fail=lambda message, hint: self._error(message, hint),
            fix="point metrics.path at another file",
            # must precede the first table: lets rollups give pages back cheaply
            fresh_pragmas=("auto_vacuum = INCREMENTAL",),
            # a small page cache: the connection mostly appends rows (state/sqlite.py)
            pragmas=(WRITE_CACHE_PRAGMA,),
        )

    def _error(self, message: str, hint: str | None = None) -> ConfigurationError:
        return ConfigurationError(
            message,
            file=self.path,
            key="metrics.path",
            hint=hint or "move the file aside (a fresh one is created) or set metrics.path",
        )

    @property
    def location(self) -> str:
        return str(self.path)

    # --- writing -------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One IMMEDIATE transaction: all of it is committed, or none of it."""
        with self._lock, transaction(self._conn) as conn:
            yield conn

    def upsert(self, records: Sequence[ExecutionRecord]) -> None:
        if not records:
            return
        with self._write() as conn:
            conn.executemany(_UPSERT, [_row_of(r) for r in records])

    def get_meta(self, key: str) -> str | None:
        with self._lock:
            row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    # --- reading ---------------------------------------------------------------------------------

    @staticmethod
    def _raw_where(query: Query) -> tuple[str, list[Any]]:
        return sql_where(query, "started_us")

    @staticmethod
    def _daily_where(query: Query) -> tuple[str, list[Any]]:
        # a day the period ends in counts whole (rolled-up days are whole days)
        return sql_where(query, "d.day", DAY_US, dims="m.", round_up=True)

    @staticmethod
    def _raw_groups(by: Sequence[Dimension], granularity: Granularity | int) -> list[str]:
        size = granularity if isinstance(granularity, int) else DAY_US
        size = HOUR_US if granularity == "hour" else size
        return [f"(started_us - started_us % {size})" if d == "period" else d for d in by]

    @staticmethod
    def _daily_groups(by: Sequence[Dimension]) -> list[str]:
        return [f"(d.day * {DAY_US})" if d == "period" else f"m.{d}" for d in by]

    def aggregate(
        self,
        query: Query,
        by: Sequence[Dimension] = (),
        granularity: Granularity | int = "day",
        *,
        latency: bool = True,
    ) -> dict[CellKey, Cell]:
        out: dict[CellKey, Cell] = {}
        fix = _key_fixer(by)
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN")  # one snapshot for every query below
            try:
                # whole hours from the hourly mirror when it can answer, raw rows for the rest
                parts = sqlite_hourly.split(query, by, granularity)
                if parts is None:
                    self._aggregate_raw(conn, query, by, granularity, out, fix, latency)
                else:
                    for raw in parts[0]:
                        self._aggregate_raw(conn, raw, by, granularity, out, fix, latency)
                    sqlite_hourly.aggregate(
                        conn, parts[1], by, granularity, lambda k, c: _add(out, k, c), fix, latency
                    )
                self._aggregate_daily(conn, query, by, out, fix, latency)
            finally:
                conn.execute("COMMIT")
        return out

    def _aggregate_raw(
        self,
        conn: sqlite3.Connection,
        query: Query,
        by: Sequence[Dimension],
        granularity: Granularity | int,
        out: dict[CellKey, Cell],
        fix: Any,
        latency: bool = True,
    ) -> None:
        n = len(by)
        raw_where, raw_args = self._raw_where(query)
        g = self._raw_groups(by, granularity)
        group = f" GROUP BY {', '.join(g)}" if g else ""
        select = ", ".join([*g, _RAW_SUMS])
        for row in conn.execute(f"SELECT {select} FROM executions{raw_where}{group}", raw_args):
            if row[n + 1]:  # attempts > 0 (an ungrouped SELECT returns one empty row)
                _add(out, fix(tuple(row[:n])), _cell_of(row[n:]))
        if not latency:
            return
        hist_where = raw_where + (" AND " if raw_where else " WHERE ")
        hist_where += "latency_bucket IS NOT NULL"
        hg = ", ".join([*g, "latency_bucket"])
        for row in conn.execute(
            f"SELECT {hg}, COUNT(*) FROM executions{hist_where} GROUP BY {hg}", raw_args
        ):
            out[fix(tuple(row[:n]))].latency.add_index(row[n], row[n + 1])

    def _aggregate_daily(
        self,
        conn: sqlite3.Connection,
        query: Query,
        by: Sequence[Dimension],
        out: dict[CellKey, Cell],
        fix: Any,
        latency: bool = True,
    ) -> None:
        n = len(by)
        dwhere, dargs = self._daily_where(query)
        dg = self._daily_groups(by)
        dgroup = f" GROUP BY {', '.join(dg)}" if dg else ""
        # the dimension table is joined only when a dimension is asked for or filtered on
        needs_dims = bool(query.filters()) or any(d != "period" for d in by)
        base = " FROM daily d JOIN dims m ON m.id = d.dim" if needs_dims else " FROM daily d"
        dselect = ", ".join([*dg, _DAILY_SUMS])
        for row in conn.execute(f"SELECT {dselect}{base}{dwhere}{dgroup}", dargs):
            if row[n + 1]:
                _add(out, fix(tuple(row[:n])), _cell_of(row[n:]))
        if not latency:
            return
        if needs_dims:
            dhg = ", ".join([*dg, "l.bucket"])
            sql = (
                f"SELECT {dhg}, SUM(l.n){base} JOIN daily_latency l ON l.daily = d.id"
                f"{dwhere} GROUP BY {dhg}"
            )
        else:
            dhg = ", ".join([*dg, "d.bucket"])
            sql = f"SELECT {dhg}, SUM(d.n) FROM day_latency d{dwhere} GROUP BY {dhg}"
        for row in conn.execute(sql, dargs):
            out[fix(tuple(row[:n]))].latency.add_index(row[n], row[n + 1])

    def records(self, query: Query) -> Iterator[ExecutionRecord]:
        where, args = self._raw_where(query)
        with self._lock:
            rows = self._conn.execute(
                f"SELECT * FROM executions{where} ORDER BY started_us, id", args
            ).fetchall()
        return (_record_of(r) for r in rows)

    def daily_rows(self, query: Query) -> list[DailyRow]:
        where, args = self._daily_where(query)
        with self._lock:
            rows = self._conn.execute(
                "SELECT d.*, m.agent, m.provider, m.model, m.workflow, m.outcome, m.simulated "
                f"FROM daily d JOIN dims m ON m.id = d.dim{where} ORDER BY d.day, d.id",
                args,
            ).fetchall()
            hist: dict[int, list[tuple[int, int]]] = {}
            if rows:
                ids = [r["id"] for r in rows]
                for i in range(0, len(ids), 500):
                    chunk = ids[i : i + 500]
                    marks = ", ".join("?" for _ in chunk)
                    for daily, bucket, n in self._conn.execute(
                        f"SELECT daily, bucket, n FROM daily_latency WHERE daily IN ({marks})",
                        chunk,
                    ):
                        hist.setdefault(daily, []).append((bucket, n))
        out: list[DailyRow] = []
        for r in rows:
            cell = _cell_of([r[name] for name in Cell.SUMS])
            for bucket, n in hist.get(r["id"], ()):
                cell.latency.add_index(bucket, n)
            dims = {
                "agent": r["agent"],
                "provider": r["provider"],
                "model": r["model"],
                "workflow": r["workflow"],
                "outcome": r["outcome"],
                "simulated": bool(r["simulated"]),
            }
            out.append(DailyRow(r["day"] * DAY_US, dims, cell))
        return out

    # --- rollup and retention --------------------------------------------------------------------

    def rollup(self, cutoff_us: int) -> RollupReport:
        cutoff_us = period_start(cutoff_us, "day")
        before = self.size_bytes()
        dims = _DAILY_DIMS
        with self._lock:
            with self._write() as conn:
                cells = self._aggregate_raw_locked(Query(until_us=cutoff_us), dims)
                rolled = conn.execute(
                    "SELECT COUNT(*) FROM executions WHERE started_us < ?", (cutoff_us,)
                ).fetchone()[0]
                self._merge_daily(conn, cells)
                conn.execute("DELETE FROM executions WHERE started_us < ?", (cutoff_us,))
                self._delete_notes_before(conn, cutoff_us)
                previous = int(self.get_meta(ROLLED_BEFORE) or 0)
                self.set_meta(ROLLED_BEFORE, str(max(previous, cutoff_us)))
            if rolled:
                self._reclaim()
        return RollupReport(cutoff_us, int(rolled), len(cells), 0, before, self.size_bytes())

    def _aggregate_raw_locked(self, query: Query, by: Sequence[Dimension]) -> dict[CellKey, Cell]:
        """Raw-only aggregate inside the caller's transaction."""
        out: dict[CellKey, Cell] = {}
        n = len(by)
        fix = _key_fixer(by)
        where, args = self._raw_where(query)
        g = self._raw_groups(by, "day")
        for row in self._conn.execute(
            f"SELECT {', '.join([*g, _RAW_SUMS])} FROM executions{where} GROUP BY {', '.join(g)}",
            args,
        ):
            _add(out, fix(tuple(row[:n])), _cell_of(row[n:]))
        hg = ", ".join([*g, "latency_bucket"])
        for row in self._conn.execute(
            f"SELECT {hg}, COUNT(*) FROM executions{where}"
            f"{' AND' if where else ' WHERE'} latency_bucket IS NOT NULL GROUP BY {hg}",
            args,
        ):
            out[fix(tuple(row[:n]))].latency.add_index(row[n], row[n + 1])
        return out

    @staticmethod
    def _merge_daily(conn: sqlite3.Connection, cells: dict[CellKey, Cell]) -> None:
        """Add cells keyed by all daily dimensions into ``daily`` and the latency tables.

        Plain INSERT/UPDATE with ``lastrowid`` (no ``RETURNING``: it needs SQLite 3.35).
        """
        if not cells:
            return
        dim_ids = {
            tuple(row[1:]): row[0]
            for row in conn.execute(
                "SELECT id, agent, provider, model, workflow, outcome, simulated FROM dims"
            )
        }
        days = [key[0] // DAY_US for key in cells]
        daily_ids = {
            (row[1], row[2]): row[0]
            for row in conn.execute(
                "SELECT id, day, dim FROM daily WHERE day BETWEEN ? AND ?", (min(days), max(days))
            )
        }
        names = Cell.SUMS
        insert = (
            f"INSERT INTO daily (day, dim, {', '.join(names)}) "
            f"VALUES (?, ?, {', '.join('?' for _ in names)})"
        )
        update = "UPDATE daily SET " + ", ".join(f"{n} = {n} + ?" for n in names) + " WHERE id = ?"
        per_row: list[tuple[int, int, int]] = []
        per_day: dict[tuple[int, int], int] = {}
        for key, cell in cells.items():
            day_us, agent, provider, model, workflow, outcome, simulated = key
            dim_key = (agent, provider, model, workflow, outcome, int(simulated))
            dim = dim_ids.get(dim_key)
            if dim is None:
                cur = conn.execute(
                    "INSERT INTO dims (agent, provider, model, workflow, outcome, simulated) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    dim_key,
                )
                dim = dim_ids[dim_key] = int(cur.lastrowid or 0)
            day = day_us // DAY_US
            daily_id = daily_ids.get((day, dim))
            if daily_id is None:
                cur = conn.execute(insert, (day, dim, *cell.sums()))
                daily_id = daily_ids[(day, dim)] = int(cur.lastrowid or 0)
            else:
                conn.execute(update, (*cell.sums(), daily_id))
            for bucket, n in cell.latency.buckets():
                per_row.append((daily_id, bucket, n))
                per_day[(bucket, day)] = per_day.get((bucket, day), 0) + n
        conn.executemany(
            "INSERT INTO daily_latency (daily, bucket, n) VALUES (?, ?, ?) "
            "ON CONFLICT (daily, bucket) DO UPDATE SET n = n + excluded.n",
            per_row,
        )
        conn.executemany(
            "INSERT INTO day_latency (bucket, day, n) VALUES (?, ?, ?) "
            "ON CONFLICT (bucket, day) DO UPDATE SET n = n + excluded.n",
            [(b, d, n) for (b, d), n in per_day.items()],
        )

    def prune_daily(self, cutoff_us: int) -> int:
        day = period_start(cutoff_us, "day") // DAY_US
        with self._lock:
            with self._write() as conn:
                conn.execute(
                    "DELETE FROM daily_latency WHERE daily IN (SELECT id FROM daily WHERE day < ?)",
                    (day,),
                )
                conn.execute("DELETE FROM day_latency WHERE day < ?", (day,))
                gone = conn.execute("DELETE FROM daily WHERE day < ?", (day,)).rowcount
            if gone:
                self._reclaim()
        return int(gone)

    def delete_before(self, cutoff_us: int) -> int:
        with self._lock:
            with self._write() as conn:
                gone = conn.execute(
                    "DELETE FROM executions WHERE started_us < ?", (cutoff_us,)
                ).rowcount
                self._delete_notes_before(conn, cutoff_us)
            gone += self.prune_daily(cutoff_us)
            if gone:
                self._reclaim()
        return int(gone)

    def _reclaim(self) -> None:
        """Give freed pages back to the file system and truncate the WAL."""
        conn = self._conn
        conn.executescript("PRAGMA incremental_vacuum;")  # execute() would free one page only
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def vacuum(self) -> None:
        """Rebuild the file compactly (exclusive; ``analytics rollup --vacuum``)."""
        with self._lock:
            self._conn.execute("VACUUM")
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    # --- housekeeping ------------------------------------------------------------------------------

    def size_bytes(self) -> int:
        """Bytes of the database file and its WAL."""
        total = 0
        for suffix in ("", "-wal"):
            with contextlib.suppress(OSError):
                total += os.path.getsize(str(self.path) + suffix)
        return total

    def integrity_ok(self) -> bool:
        with self._lock:
            row = self._conn.execute("PRAGMA integrity_check").fetchone()
        return bool(row) and row[0] == "ok"

    def stats(self) -> StoreStats:
        with self._lock:
            c = self._conn
            raw = c.execute("SELECT COUNT(*), MIN(started_us), MAX(started_us) FROM executions")
            raw_n, raw_min, raw_max = raw.fetchone()
            daily = c.execute("SELECT COUNT(*), MIN(day), MAX(day) FROM daily").fetchone()
        starts = [v for v in (raw_min, raw_max) if v is not None]
        starts += [v * DAY_US for v in (daily[1], daily[2]) if v is not None]
        return StoreStats(
            raw_rows=int(raw_n),
            daily_rows=int(daily[0]),
            bytes=self.size_bytes(),
            location=self.location,
            oldest_us=min(starts) if starts else None,
            newest_us=max(starts) if starts else None,
        )

    def clear(self) -> None:
        with self._lock:
            with self._write() as conn:
                for table in (
                    "executions",
                    "notes",
                    "daily_latency",
                    "day_latency",
                    "daily",
                    "dims",
                ):
                    conn.execute(f"DELETE FROM {table}")
                conn.execute("DELETE FROM meta WHERE key = ?", (ROLLED_BEFORE,))
            self._reclaim()

    def close(self) -> None:
        with self._lock, contextlib.suppress(sqlite3.Error):
            self._conn.close()
