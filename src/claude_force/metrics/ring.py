"""The bounded ring of a standalone ``PerformanceTracker`` and its JSON Lines file (2.2 surface).

claude-force 2.2's tracker kept the last ``max_entries`` executions in memory (a ring buffer) and
appended every execution to ``executions.jsonl``. :class:`RingMetricsStore` is that ring as a
:class:`~claude_force.metrics.backend.MetricsStore`, so the analytics (percentiles, trends, cost
breakdowns) answer over exactly the executions in the ring; the helpers below read and write the
file, one JSON object per line.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from .backend import RollupReport
from .memory_backend import MemoryMetricsStore
from .record import ExecutionRecord

log = logging.getLogger(__name__)


class RingMetricsStore(MemoryMetricsStore):
    """The last ``max_entries`` records in memory, oldest evicted first (insertion order)."""

    def __init__(self, max_entries: int) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, got {max_entries}")
        super().__init__()
        self.max_entries = max_entries

    def upsert(self, records: Sequence[ExecutionRecord]) -> None:
        with self._lock:
            for r in records:
                self._raw.pop(r.key, None)  # a replaced record moves to the newest end
                self._raw[r.key] = r
            while len(self._raw) > self.max_entries:
                del self._raw[next(iter(self._raw))]

    def rollup(self, cutoff_us: int) -> RollupReport:
        """Nothing to fold: the ring holds only recent records, and daily rows would outlive it."""
        return RollupReport(cutoff_us, 0, 0)

    def __len__(self) -> int:
        with self._lock:
            return len(self._raw)


def append_line(path: Path, row: dict[str, Any]) -> bool:
    """Append one JSON object as a line (creating the folder); ``False`` (logged) on failure."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(row, separators=(",", ":"), default=str) + "\n")
    except OSError as exc:  # as in 2.2, tracking never fails the caller
        log.warning("could not append to %s: %s", path, exc)
        return False
    return True


def read_lines(path: Path) -> list[dict[str, Any]]:
    """The JSON objects of a JSON Lines file, oldest first; unreadable lines are skipped (logged)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return []
    except OSError as exc:
        log.warning("could not read %s: %s", path, exc)
        return []
    rows: list[dict[str, Any]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            log.warning("%s:%d: skipped, not JSON (%s)", path, number, exc.msg)
            continue
        if isinstance(obj, dict):
            rows.append(obj)
        else:
            log.warning("%s:%d: skipped, not a JSON object", path, number)
    return rows


def rewrite_lines(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    """Replace the file's content with ``rows`` atomically (write a sibling, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, separators=(",", ":"), default=str) + "\n")
    os.replace(tmp, path)
