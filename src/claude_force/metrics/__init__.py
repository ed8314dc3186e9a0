"""Execution metrics: records, stores (memory, SQLite), rollups, analytics, Prometheus.

Names load lazily: ``claude_force.config.schema`` imports :mod:`.settings` from here, and must
not pull in the stores (which import the config package back).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
    from .analytics import Analytics, Group, Stats, TrendPoint, make_query, parse_when
    from .backend import MetricsStore, Query, RollupReport, StoreStats
    from .histogram import RELATIVE_ACCURACY, LogHistogram
    from .memory_backend import MemoryMetricsStore
    from .prometheus import PrometheusMetrics, StoreCollector, store_exposition
    from .record import Cell, ExecutionRecord
    from .settings import MetricsSettings
    from .sqlite_backend import SQLiteMetricsStore
    from .tracker import MetricsTracker
    from .writer import BatchWriter

_EXPORTS: dict[str, str] = {
    "Analytics": ".analytics",
    "Group": ".analytics",
    "Stats": ".analytics",
    "TrendPoint": ".analytics",
    "make_query": ".analytics",
    "parse_when": ".analytics",
    "RELATIVE_ACCURACY": ".histogram",
    "LogHistogram": ".histogram",
    "PrometheusMetrics": ".prometheus",
    "StoreCollector": ".prometheus",
    "store_exposition": ".prometheus",
    "Cell": ".record",
    "ExecutionRecord": ".record",
    "MetricsSettings": ".settings",
    "SQLiteMetricsStore": ".sqlite_backend",
    "MemoryMetricsStore": ".memory_backend",
    "MetricsStore": ".backend",
    "Query": ".backend",
    "RollupReport": ".backend",
    "StoreStats": ".backend",
    "MetricsTracker": ".tracker",
    "BatchWriter": ".writer",
}

__all__ = [
    "RELATIVE_ACCURACY",
    "Analytics",
    "BatchWriter",
    "Cell",
    "ExecutionRecord",
    "Group",
    "LogHistogram",
    "MemoryMetricsStore",
    "MetricsSettings",
    "MetricsStore",
    "MetricsTracker",
    "PrometheusMetrics",
    "Query",
    "RollupReport",
    "SQLiteMetricsStore",
    "Stats",
    "StoreCollector",
    "StoreStats",
    "TrendPoint",
    "make_query",
    "parse_when",
    "store_exposition",
]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, __all__)
