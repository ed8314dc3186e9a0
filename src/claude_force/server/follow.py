"""Follow the project's metrics store: executions other processes write (the CLI, the Python API,
other servers) reach this server's anomaly detector and its live stream.

Every ``server.follow_seconds`` the follower reads the rows written since its cursor (a row id:
one indexed range read, off the event loop). Executions this server ran itself are skipped —
the detector saw them on the event bus already. Each new final attempt from elsewhere feeds the
detector and is published as a ``stored_execution`` event, so an open dashboard refreshes at
once.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..events import Event, ExecutionFinished
from ..monitoring.anomaly import Sample
from .dashboard import execution_row

if TYPE_CHECKING:
    from ..metrics.backend import MetricsStore
    from .monitor import Monitor

log = logging.getLogger(__name__)
_OWN_MAX = 100_000
BATCH = 2000


class StoreFollower:
    """Reads new rows of ``store`` and hands those of other processes to ``monitor``."""

    def __init__(self, store: Callable[[], MetricsStore], monitor: Monitor) -> None:
        self._store = store
        self.monitor = monitor
        self.cursor: int | None = None
        self._own: OrderedDict[str, None] = OrderedDict()
        self.seen = 0  # executions from other processes, since start

    def on_event(self, event: Event) -> None:
        """Bus subscriber: remember the executions this process ran."""
        if isinstance(event, ExecutionFinished):
            self._own[event.execution_id] = None
            if len(self._own) > _OWN_MAX:
                self._own.popitem(last=False)

    def start(self) -> None:
        """Begin at the newest stored row (older ones seeded the detector at warm-up)."""
        self.cursor = self._store().tail_cursor()

    def poll(self) -> int:
        """Read and hand over what was written since the last poll; returns how many executions
        from other processes it found (blocking: runs in a worker thread)."""
        if self.cursor is None:
            self.start()
            return 0
        found = 0
        while True:
            assert self.cursor is not None
            self.cursor, rows = self._store().tail(self.cursor, BATCH)
            for rec in rows:
                if not rec.final or rec.execution_id in self._own:
                    continue
                sample = Sample.from_record(rec)
                if sample is not None:
                    self.monitor.observe_stored(sample, execution_row(rec))
                    found += 1
            if len(rows) < BATCH:
                break
        self.seen += found
        return found

    async def run(self, interval_s: float) -> None:
        """Poll every ``interval_s`` seconds until cancelled."""
        await asyncio.to_thread(self.start)
        while True:
            await asyncio.sleep(interval_s)
            try:
                await asyncio.to_thread(self.poll)
            except Exception:  # a busy or damaged store must not end the server
                log.exception("following the metrics store failed; trying again")
