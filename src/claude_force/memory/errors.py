"""Errors of agent memory. A broken memory never fails a run: the orchestrator logs and goes on."""

from __future__ import annotations

from ..errors import RunError


class MemoryStoreError(RunError):
    """The memory database could not be used (no FTS5, disk full, file not a database …)."""
