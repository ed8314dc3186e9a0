"""Rolling raw metrics rows up into daily rows: when it is due, and one run of it.

Shared by the tracker (which records) and :class:`~claude_force.metrics.reader.MetricsReader`
(which the report commands use: they record nothing).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from .backend import DAY_US, LAST_ROLLUP, MetricsStore, RollupReport
from .record import period_start, to_us

if TYPE_CHECKING:
    from ..config.snapshot import MetricsView
    from .settings import MetricsSettings

log = logging.getLogger("claude_force.metrics.tracker")  # where these lines were logged before

__all__ = ["rollup_cutoff", "rollup_due", "run_rollup"]


def rollup_cutoff(now: datetime, raw_retention_days: int) -> int:
    """Pure: raw rows started before this (µs, a UTC day boundary) are due for rollup."""
    return period_start(to_us(now), "day") - raw_retention_days * DAY_US


def rollup_due(last_us: int | None, now: datetime, interval_hours: float) -> bool:
    """Pure: whether an automatic rollup should run now."""
    return last_us is None or to_us(now) - last_us >= interval_hours * 3_600_000_000


def run_rollup(
    store: MetricsStore, settings: MetricsSettings | MetricsView, now: datetime
) -> RollupReport:
    """Roll up raw rows older than ``raw_retention_days``, prune daily rows older than
    ``daily_retention_days`` and note the time (``LAST_ROLLUP``)."""
    s = settings
    report = store.rollup(rollup_cutoff(now, s.raw_retention_days))
    pruned = 0
    if s.daily_retention_days is not None:
        pruned = store.prune_daily(to_us(now - timedelta(days=s.daily_retention_days)))
    store.set_meta(LAST_ROLLUP, str(to_us(now)))
    done = replace(
        report,
        daily_rows_pruned=pruned,
        bytes_after=store.stats().bytes if pruned else report.bytes_after,
    )
    if report.raw_rows_rolled or pruned:
        log.info(
            "metrics rollup: %d raw rows into %d daily rows, %d daily rows pruned",
            report.raw_rows_rolled,
            report.daily_rows_written,
            pruned,
        )
    return done
