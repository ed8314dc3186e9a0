"""What a metrics backend is: the :class:`MetricsStore` protocol, its query and report types, and
the pure rollup math every backend shares (the in-memory one is :mod:`.memory_backend`, SQLite
:mod:`.sqlite_backend`, PostgreSQL ``claude_force.cluster.pg_metrics``).

A store keeps **raw rows** (one per execution attempt, upserted by ``(execution_id, attempt)``)
and **daily rows** (sums and a latency histogram per day × agent × provider × model × workflow ×
outcome × simulated). :meth:`MetricsStore.aggregate` answers every analytics question over both
kinds at once: it groups by any subset of the dimensions and adds raw and daily cells together,
so a query that spans rolled-up and raw days gives exactly what the un-rolled data would.

Store methods block (SQLite I/O); async callers use ``asyncio.to_thread`` (see the tracker).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from .._fields import fields_dict
from .browse import ExecutionNote
from .record import (
    Cell,
    CellKey,
    Dimension,
    ExecutionRecord,
    Granularity,
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

        return fields_dict(self, omit=("cutoff_us",), cutoff=from_us(self.cutoff_us).isoformat())


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


class FoldsRows:
    """``aggregate`` for a backend that reads whole rows and folds them in Python with the pure
    math above (in memory, PostgreSQL; SQLite groups in SQL instead). The backend provides
    ``records`` and ``daily_rows`` (the cells it hands out are copies), and may make the two
    reads one snapshot (``_snapshot``)."""

    def records(self, query: Query) -> Iterator[ExecutionRecord]:
        raise NotImplementedError

    def daily_rows(self, query: Query) -> list[DailyRow]:
        raise NotImplementedError

    def _snapshot(self) -> contextlib.AbstractContextManager[object]:
        return contextlib.nullcontext()

    def aggregate(
        self,
        query: Query,
        by: Sequence[Dimension] = (),
        granularity: Granularity | int = "day",
        *,
        latency: bool = True,
    ) -> dict[CellKey, Cell]:
        del latency  # the histograms come with the rows here: always filled
        with self._snapshot():
            out = aggregate_records(self.records(query), by, granularity)
            for row in self.daily_rows(query):
                merge_into(out, {group_key({"period": row.day_us, **row.dims}, by): row.cell})
        return out
