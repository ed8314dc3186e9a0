"""WAL checkpoints on a thread of their own, off the thread that reads and writes.

SQLite's automatic checkpoint (``wal_autocheckpoint``, 1,000 pages by default) runs inside
whichever commit crosses the threshold and takes milliseconds — on the thread that also answers
lookups. For the response cache and agent memory that thread is on every run's path: a memory
write that checkpoints delays the next run's memory search (every ~60 runs on the defaults, 4–8
ms each: most of the overhead's p99). So those stores raise the automatic threshold to a safety
net (:data:`AUTOCHECKPOINT_PAGES`) and count their operations here; every ``every`` operations a
PASSIVE checkpoint runs on a second connection, on this object's thread. A PASSIVE checkpoint
never waits for, nor blocks, the store's own reads and writes.

Hand-written on ``sqlite3`` and one thread: the checkpoint is one pragma; what matters is where
it runs.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

log = logging.getLogger(__name__)

AUTOCHECKPOINT_PAGES = 16_384
"""The safety net: a checkpoint inside a commit only past ~64 MB of log (should this thread fall
behind)."""
AUTOCHECKPOINT_PRAGMA = f"wal_autocheckpoint = {AUTOCHECKPOINT_PAGES}"


class BackgroundCheckpointer:
    """Checkpoints the WAL database at ``path`` every ``every`` counted operations (see the
    module documentation). ``name`` names the thread."""

    def __init__(self, path: Path, *, every: int, name: str) -> None:
        self.path = Path(path)
        self.every = max(1, every)
        self._name = name
        self._ops = 0
        self._pool: ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None
        self._pending = False
        self._lock = threading.Lock()
        self.checkpoints = 0  # how many ran (tests and diagnostics)

    def count(self, n: int = 1) -> None:
        """``n`` more operations; a checkpoint is queued each time ``every`` more have passed."""
        before = self._ops
        self._ops += n
        if self._ops // self.every != before // self.every:
            self.soon()

    def soon(self) -> None:
        """Queue a checkpoint (at most one waits at a time)."""
        with self._lock:
            if self._pending:
                return
            if self._pool is None:
                # imported here: the read-only commands open stores without writing
                from concurrent.futures import ThreadPoolExecutor

                self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=self._name)
            self._pending = True
            self._pool.submit(self._checkpoint)

    def _checkpoint(self) -> None:
        try:
            if self._conn is None:
                self._conn = sqlite3.connect(
                    self.path, timeout=0.0, isolation_level=None, check_same_thread=False
                )
            self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            self.checkpoints += 1
        except sqlite3.Error as exc:  # the safety net (wal_autocheckpoint) still applies
            log.debug("background checkpoint of %s skipped: %s", self.path, exc)
        finally:
            with self._lock:
                self._pending = False

    def _disconnect(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()
            self._conn = None

    def reset(self) -> None:
        """Drop this thread's connection (the file was moved aside; a new one opens next time)."""
        with self._lock:
            pool = self._pool
        if pool is not None:
            pool.submit(self._disconnect).result()

    def close(self) -> None:
        """Close the connection and let the thread go (waits for a running checkpoint)."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.submit(self._disconnect).result()
            pool.shutdown(wait=True)
