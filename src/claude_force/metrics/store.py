"""The metrics store protocol, its query type, and the in-memory implementation.

A store keeps **raw rows** (one per execution attempt, upserted by ``(execution_id, attempt)``)
and **daily rows** (sums and a latency histogram per day × agent × provider × model × workflow ×
outcome × simulated). :meth:`MetricsStore.aggregate` answers every analytics question over both
kinds at once: it groups by any subset of the dimensions and adds raw and daily cells together,
so a query that spans rolled-up and raw days gives exactly what the un-rolled data would.

Store methods block (SQLite I/O); async callers use ``asyncio.to_thread`` (see the tracker).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from .browse import ExecutionNote, MemoryBrowse
from .record import (
    Cell,
    CellKey,
    Dimension,
    ExecutionRecord,
    Granularity,
    period_start,
    record_dims,
)

DAY_US = 86_400_000_000
ROLLED_BEFORE = "rolled_before_us"  # meta: raw rows before this were rolled up (µs)
LAST_ROLLUP = "last_rollup_us"  # meta: when the last automatic rollup ran (µs)


@dataclass(frozen=True, slots=True)
class Query:
    """Which rows an aggregate covers. Times are µs since the epoch (UTC), ``until`` exclusive.

    Rolled-up days have whole-day resolution: a daily row is included when its day overlaps
    ``[since, until)``.
    """

    since_us: int | None = None
    until_us: int | None = None
    agent: str | None = None
    provider: str | None = None
    model: str | None = None
    workflow: str | None = None
    simulated: bool | None = None

    def filters(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in ("agent", "provider", "model", "workflow", "simulated"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out

    def raw_match(self, started_us: int) -> bool:
        return (self.since_us is None or started_us >= self.since_us) and (
            self.until_us is None or started_us < self.until_us
        )

    def day_match(self, day_us: int) -> bool:
        return (self.since_us is None or day_us + DAY_US > self.since_us) and (
            self.until_us is None or day_us < self.until_us
        )


@dataclass(frozen=True, slots=True)
class RollupReport:
    """What one rollup did."""

    cutoff_us: int
    raw_rows_rolled: int
    daily_rows_written: int
    daily_rows_pruned: int = 0
    bytes_before: int = 0
    bytes_after: int = 0

    def to_dict(self) -> dict[str, Any]:
        from .record import from_us

        return {
            "cutoff": from_us(self.cutoff_us).isoformat(),
            "raw_rows_rolled": self.raw_rows_rolled,
            "daily_rows_written": self.daily_rows_written,
            "daily_rows_pruned": self.daily_rows_pruned,
            "bytes_before": self.bytes_before,
            "bytes_after": self.bytes_after,
        }


@dataclass(frozen=True, slots=True)
class StoreStats:
    raw_rows: int
    daily_rows: int
    bytes: int
    location: str
    oldest_us: int | None = None
    newest_us: int | None = None


@dataclass(frozen=True, slots=True)
class DailyRow:
    day_us: int
    dims: dict[str, Any]
    cell: Cell = field(compare=False)


@runtime_checkable
class MetricsStore(Protocol):
    """Where execution records live. Every implementation passes tests/test_metrics_store.py."""

    @property
    def location(self) -> str: ...

    def upsert(self, records: Sequence[ExecutionRecord]) -> None:
        """Insert or replace records by ``(execution_id, attempt)``, atomically as one batch."""

    def aggregate(
        self,
        query: Query,
        by: Sequence[Dimension] = (),
        granularity: Granularity | int = "day",
        *,
        latency: bool = True,
    ) -> dict[CellKey, Cell]:
        """Cells over raw and daily rows, grouped by ``by`` (``period`` per ``granularity``:
        hour, day, or a period of that many µs; rolled-up days stay whole days).
        ``latency=False``: the sums only (the latency histograms may stay empty; cheaper)."""
        ...

    def recent(
        self, query: Query, limit: int = 50, *, failed_only: bool = False
    ) -> list[ExecutionRecord]:
        """The final attempts of the newest executions in ``query``, newest first."""
        ...

    def attempts(self, execution_id: str) -> list[ExecutionRecord]:
        """Every stored attempt of one execution, first to last."""
        ...

    def tail(self, after: int, limit: int = 500) -> tuple[int, list[ExecutionRecord]]:
        """Rows written after the cursor ``after``, oldest first, and the new cursor."""
        ...

    def tail_cursor(self) -> int: ...

    def put_notes(self, notes: Sequence[ExecutionNote]) -> None:
        """Merge execution notes into the stored ones."""

    def note(self, execution_id: str) -> dict[str, Any] | None: ...

    def records(self, query: Query) -> Iterator[ExecutionRecord]:
        """Raw rows in ``query``, oldest first."""
        ...

    def daily_rows(self, query: Query) -> list[DailyRow]: ...

    def rollup(self, cutoff_us: int) -> RollupReport:
        """Fold raw rows started before ``cutoff_us`` into daily rows and delete them."""
        ...

    def prune_daily(self, cutoff_us: int) -> int:
        """Delete daily rows of days before ``cutoff_us``; returns how many."""
        ...

    def delete_before(self, cutoff_us: int) -> int:
        """Delete raw rows started before ``cutoff_us`` and daily rows of earlier whole days."""
        ...

    def get_meta(self, key: str) -> str | None: ...

    def set_meta(self, key: str, value: str) -> None: ...

    def stats(self) -> StoreStats: ...

    def clear(self) -> None: ...

    def close(self) -> None: ...


def group_key(dims: dict[str, Any], by: Sequence[Dimension]) -> CellKey:
    return tuple(dims[d] for d in by)


def matches(dims: dict[str, Any], filters: dict[str, Any]) -> bool:
    return all(dims[k] == v for k, v in filters.items())


def aggregate_records(
    records: Iterator[ExecutionRecord] | Sequence[ExecutionRecord],
    by: Sequence[Dimension],
    granularity: Granularity | int,
) -> dict[CellKey, Cell]:
    """Pure: group records into cells (the rollup math, shared by every store)."""
    out: dict[CellKey, Cell] = {}
    for r in records:
        k = group_key(record_dims(r, granularity), by)
        cell = out.get(k)
        if cell is None:
            cell = out[k] = Cell()
        cell.add_record(r)
    return out


def merge_into(target: dict[CellKey, Cell], source: dict[CellKey, Cell]) -> None:
    for k, cell in source.items():
        have = target.get(k)
        if have is None:
            target[k] = cell
        else:
            have.merge(cell)


_DAILY_DIMS: tuple[Dimension, ...] = (
    "period",
    "agent",
    "provider",
    "model",
    "workflow",
    "outcome",
    "simulated",
)


class MemoryMetricsStore(MemoryBrowse):
    """Everything in process memory (tests, ``enable_persistence=False``). Thread-safe."""

    def __init__(self) -> None:
        self._raw: dict[tuple[str, int], ExecutionRecord] = {}
        self._seq: dict[tuple[str, int], int] = {}
        self._notes: dict[str, tuple[int, dict[str, Any]]] = {}
        self._next = 0
        self._daily: dict[CellKey, Cell] = {}
        self._meta: dict[str, str] = {}
        self._lock = threading.Lock()

    @property
    def location(self) -> str:
        return ":memory:"

    def upsert(self, records: Sequence[ExecutionRecord]) -> None:
        with self._lock:
            for r in records:
                if r.key not in self._raw:
                    self._next += 1
                    self._seq[r.key] = self._next
                self._raw[r.key] = r

    def _raw_matching(self, query: Query) -> list[ExecutionRecord]:
        filters = query.filters()
        return [
            r
            for r in self._raw.values()
            if query.raw_match(r.started_us) and matches(record_dims(r, "day"), filters)
        ]

    def aggregate(
        self,
        query: Query,
        by: Sequence[Dimension] = (),
        granularity: Granularity | int = "day",
        *,
        latency: bool = True,
    ) -> dict[CellKey, Cell]:
        with self._lock:
            out = aggregate_records(self._raw_matching(query), by, granularity)
            filters = query.filters()
            for dkey, cell in self._daily.items():
                dims = dict(zip(_DAILY_DIMS, dkey, strict=True))
                if not query.day_match(dims["period"]) or not matches(dims, filters):
                    continue
                copy = Cell()
                copy.merge(cell)
                merge_into(out, {group_key(dims, by): copy})
            return out

    def records(self, query: Query) -> Iterator[ExecutionRecord]:
        with self._lock:
            rows = sorted(self._raw_matching(query), key=lambda r: (r.started_us, r.key))
        return iter(rows)

    def daily_rows(self, query: Query) -> list[DailyRow]:
        filters = query.filters()
        out: list[DailyRow] = []
        with self._lock:
            for dkey, cell in sorted(self._daily.items(), key=lambda kv: tuple(map(str, kv[0]))):
                dims = dict(zip(_DAILY_DIMS, dkey, strict=True))
                if query.day_match(dims["period"]) and matches(dims, filters):
                    day = dims.pop("period")
                    out.append(DailyRow(day, dims, cell))
        out.sort(key=lambda d: d.day_us)
        return out

    def rollup(self, cutoff_us: int) -> RollupReport:
        cutoff_us = period_start(cutoff_us, "day")
        with self._lock:
            old = [r for r in self._raw.values() if r.started_us < cutoff_us]
            cells = aggregate_records(old, _DAILY_DIMS, "day")
            merge_into(self._daily, cells)
            for r in old:
                del self._raw[r.key]
                self._seq.pop(r.key, None)
            self._delete_notes_before(cutoff_us)
            previous = int(self._meta.get(ROLLED_BEFORE, "0"))
            self._meta[ROLLED_BEFORE] = str(max(previous, cutoff_us))
        return RollupReport(cutoff_us, len(old), len(cells))

    def prune_daily(self, cutoff_us: int) -> int:
        cutoff_us = period_start(cutoff_us, "day")
        with self._lock:
            gone = [k for k in self._daily if k[0] < cutoff_us]
            for k in gone:
                del self._daily[k]
        return len(gone)

    def delete_before(self, cutoff_us: int) -> int:
        with self._lock:
            old = [k for k, r in self._raw.items() if r.started_us < cutoff_us]
            for k in old:
                del self._raw[k]
                self._seq.pop(k, None)
            self._delete_notes_before(cutoff_us)
        return len(old) + self.prune_daily(cutoff_us)

    def get_meta(self, key: str) -> str | None:
        return self._meta.get(key)

    def set_meta(self, key: str, value: str) -> None:
        self._meta[key] = value

    def stats(self) -> StoreStats:
        with self._lock:
            starts = [r.started_us for r in self._raw.values()] + [k[0] for k in self._daily]
            return StoreStats(
                raw_rows=len(self._raw),
                daily_rows=len(self._daily),
                bytes=0,
                location=self.location,
                oldest_us=min(starts) if starts else None,
                newest_us=max(starts) if starts else None,
            )

    def clear(self) -> None:
        with self._lock:
            self._raw.clear()
            self._seq.clear()
            self._notes.clear()
            self._daily.clear()
            self._meta.pop(ROLLED_BEFORE, None)

    def close(self) -> None:
        return None
