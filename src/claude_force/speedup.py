"""The one speedup rule, shared by the CLI, JSON output, workflow results and the server (pure).

"Duration" everywhere means *service time*: from the moment a call holds a concurrency slot to its
answer. Time spent waiting for a slot is recorded apart (``queue_wait_ms``) and never counted as
work, so a speedup cannot be inflated by tasks that were merely queued.
"""

from __future__ import annotations


def speedup_of(service_s: float, wall_s: float, *, ok: bool) -> float | None:
    """The sum of service times over the wall time, only for a run that succeeded.

    A failed or cancelled run reports ``None``: "faster than one at a time" means nothing for
    work that was not done (and a run that stopped on its deadline would look fast).
    """
    if not ok or wall_s <= 0:
        return None
    return service_s / wall_s
