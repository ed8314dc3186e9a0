"""Moved: the metrics backend Protocol and its types are in :mod:`.backend`, the in-memory backend
in :mod:`.memory_backend` (the same file roles as ``cache/`` and ``memory/``). This path re-exports
them so that code written against it keeps working."""

from .backend import (
    DAY_US,
    LAST_ROLLUP,
    ROLLED_BEFORE,
    DailyRow,
    MetricsStore,
    Query,
    RollupReport,
    StoreStats,
    aggregate_records,
    group_key,
    matches,
    merge_into,
)
from .memory_backend import MemoryMetricsStore

__all__ = [
    "DAY_US",
    "LAST_ROLLUP",
    "ROLLED_BEFORE",
    "DailyRow",
    "MemoryMetricsStore",
    "MetricsStore",
    "Query",
    "RollupReport",
    "StoreStats",
    "aggregate_records",
    "group_key",
    "matches",
    "merge_into",
]
