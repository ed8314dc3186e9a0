"""A project's stored metrics for the report commands (``analytics …``, ``metrics …``).

They read, and roll up when it is due; they record nothing, so they need none of the tracker's
event handling or its writer thread (nor the events and messages modules it imports): a
read-only command starts about 20 ms sooner without them.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from ..catalog import ModelCatalog
from ..clock import WALL_CLOCK, Clock, utcnow
from .backend import LAST_ROLLUP, MetricsStore, RollupReport
from .rollup import rollup_due, run_rollup
from .sqlite_backend import SQLiteMetricsStore

if TYPE_CHECKING:
    from ..config.snapshot import MetricsView
    from .analytics import Analytics
    from .settings import MetricsSettings


def store_for(
    settings: MetricsSettings | MetricsView, state_dir: Path, *, database_url: str | None = None
) -> MetricsStore:
    """The store the settings ask for (``path`` relative to the state directory); in cluster
    mode (``database_url``: ``cluster.database_url``) the shared PostgreSQL store."""
    if settings.backend == "memory":  # (imported here: tests use it, a project rarely does)
        from .memory_backend import MemoryMetricsStore

        return MemoryMetricsStore()
    if database_url is not None:
        from ..cluster.pg_metrics import PostgresMetricsStore

        return PostgresMetricsStore(database_url)
    path = Path(settings.path).expanduser()
    return SQLiteMetricsStore(path if path.is_absolute() else state_dir / path)


class MetricsReader:
    """The tracker's reading half: ``store``, ``catalog``, ``analytics()``, rollups."""

    def __init__(
        self,
        store: MetricsStore,
        *,
        settings: MetricsSettings | MetricsView,
        catalog: ModelCatalog,
        clock: Clock = WALL_CLOCK,
    ) -> None:
        self.store = store
        self.settings = settings
        self.catalog = catalog
        self.clock = clock
        self.last_rollup: RollupReport | None = None

    def flush(self, timeout: float | None = 30.0) -> bool:
        """Nothing is pending: a reader writes no records."""
        return True

    def analytics(self) -> Analytics:
        from .analytics import Analytics  # here: the tracker imports this module for store_for

        return Analytics(self.store)

    def rollup(self, now: datetime | None = None) -> RollupReport:
        """Roll up raw rows older than ``raw_retention_days`` and prune old daily rows."""
        self.last_rollup = run_rollup(self.store, self.settings, now or utcnow(self.clock))
        return self.last_rollup

    def maybe_rollup(self, now: datetime | None = None) -> RollupReport | None:
        """Run a rollup if none ran within ``rollup_interval_hours`` (in any process)."""
        now = now or utcnow(self.clock)
        last = self.store.get_meta(LAST_ROLLUP)
        if not rollup_due(int(last) if last else None, now, self.settings.rollup_interval_hours):
            return None
        return self.rollup(now)

    def close(self) -> None:
        self.store.close()
