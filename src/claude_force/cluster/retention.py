"""How long the queue keeps the history of finished runs (DBOS's workflow tables).

DBOS keeps every workflow's status, inputs, outputs and steps until they are deleted; its
retention policies are a feature of its commercial console, not of the library. Without a limit
the cluster database grows with every run. So the workers prune: once an hour (and at start),
under an advisory lock so that one worker does it at a time, the runs that *finished* (success,
error, cancelled, given up) and were created more than ``cluster.history_days`` ago are deleted
with their steps. Runs still queued or running are never touched. Metrics and agent memory are
separate tables with their own retention (``metrics.retention``, ``memory``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Protocol

FINISHED = ["SUCCESS", "ERROR", "CANCELLED", "MAX_RECOVERY_ATTEMPTS_EXCEEDED"]
PRUNE_EVERY_S = 3600.0
_PRUNE_LOCK = 0x63_66_5F_70_72  # "cf_pr": the advisory lock of the pruning


class WorkflowAdmin(Protocol):
    """What pruning needs of DBOS (the class in a worker) or of a ``DBOSClient``."""

    async def list_workflows_async(self, **kwargs: Any) -> list[Any]: ...

    async def delete_workflows_async(self, workflow_ids: list[str]) -> None: ...


def cutoff(now: datetime, history_days: float) -> datetime | None:
    """Runs created before this are pruned once finished; ``None``: keep them all (0 days)."""
    return None if history_days <= 0 else now - timedelta(days=history_days)


async def prune(admin: WorkflowAdmin, before: datetime, *, batch: int = 500) -> int:
    """Delete the finished runs created before ``before`` (with their steps); returns how many."""
    total = 0
    while True:
        found = await admin.list_workflows_async(
            status=FINISHED,
            end_time=before.isoformat(),  # created at or before
            load_input=False,
            load_output=False,
            limit=batch,
        )
        ids = [w.workflow_id for w in found]
        if ids:
            await admin.delete_workflows_async(ids)
            total += len(ids)
        if len(ids) < batch:
            return total
