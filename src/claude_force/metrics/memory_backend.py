"""The in-memory metrics backend (tests, ``enable_persistence=False``)."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from typing import Any

from .backend import (
    _DAILY_DIMS,
    ROLLED_BEFORE,
    DailyRow,
    FoldsRows,
    Query,
    RollupReport,
    StoreStats,
    aggregate_records,
    matches,
    merge_into,
)
from .browse import MemoryBrowse
from .record import (
    Cell,
    CellKey,
    ExecutionRecord,
    period_start,
    record_dims,
)


class MemoryMetricsStore(FoldsRows, MemoryBrowse):
    """Everything in process memory (tests, ``enable_persistence=False``). Thread-safe."""

    def __init__(self) -> None:
        self._raw: dict[tuple[str, int], ExecutionRecord] = {}
        self._seq: dict[tuple[str, int], int] = {}
        self._notes: dict[str, tuple[int, dict[str, Any]]] = {}
        self._next = 0
        self._daily: dict[CellKey, Cell] = {}
        self._meta: dict[str, str] = {}
        self._lock = threading.RLock()

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

    def _snapshot(self) -> threading.RLock:
        return self._lock

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
                    copy = Cell()  # the stored cell stays the store's
                    copy.merge(cell)
                    out.append(DailyRow(day, dims, copy))
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
