"""The 2.2 import path of ``PerformanceTracker``, the 2.2 metrics API; the face lives in :mod:`claude_force.compat`."""

from .compat.performance_tracker import DEFAULT_METRICS_DIR as DEFAULT_METRICS_DIR
from .compat.performance_tracker import (
    ExecutionMetrics,
    PerformanceTracker,
    get_tracker,
)

__all__ = ["ExecutionMetrics", "PerformanceTracker", "get_tracker"]
