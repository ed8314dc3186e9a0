"""Batch mode: many (agent, task) runs through the Message Batches API at half the price.

``BatchService`` submits, polls, maps results back and prices them; ``backend_for`` picks the
real API (official SDK) or the labelled offline simulation. See docs/cost.md.
"""

from __future__ import annotations

import os

from ..config import Project
from .backends import AnthropicBatchBackend, BatchBackend, SimulatedBatchBackend
from .jobs import JobStore
from .limits import MAX_BYTES, MAX_REQUESTS, PollPolicy, custom_id, split
from .service import BatchService, BatchTask
from .types import (
    BatchError,
    BatchJob,
    BatchNotEndedError,
    BatchNotFoundError,
    BatchRequest,
    BatchTimeoutError,
    ItemResult,
    JobStatus,
    RawResult,
    RemoteBatch,
)

__all__ = [
    "MAX_BYTES",
    "MAX_REQUESTS",
    "AnthropicBatchBackend",
    "BatchBackend",
    "BatchError",
    "BatchJob",
    "BatchNotEndedError",
    "BatchNotFoundError",
    "BatchRequest",
    "BatchService",
    "BatchTask",
    "BatchTimeoutError",
    "ItemResult",
    "JobStatus",
    "JobStore",
    "PollPolicy",
    "RawResult",
    "RemoteBatch",
    "SimulatedBatchBackend",
    "backend_for",
    "batches_dir",
    "custom_id",
    "split",
    "wants_simulation",
]


def batches_dir(project: Project) -> os.PathLike[str]:
    return project.state_dir / "batches"


def wants_simulation(api_key: str | None, simulate: bool | None, project: Project) -> bool:
    """The same rule as online runs: simulated when asked to, or when no key is configured."""
    from ..providers.select import check_simulation_allowed

    key = project.environment.key(api_key)
    setting = project.settings.provider.simulate
    forced = simulate if simulate is not None else setting is True
    if not forced and not key:
        check_simulation_allowed(project.settings.provider, api_key=key, simulate=simulate)
        if setting != "auto":
            from .. import fallback_flag

            fallback_flag.mark()
    return bool(forced) or not key


def backend_for(
    project: Project,
    *,
    api_key: str | None = None,
    simulated: bool,
    base_url: str | None = None,
) -> BatchBackend:
    """The simulated backend, or the Message Batches API at the project's (or given) base URL."""
    if simulated:
        return SimulatedBatchBackend(
            project.state_dir / "batches" / "simulated", seed=project.settings.provider.seed
        )
    s = project.settings.provider
    return AnthropicBatchBackend(
        project.environment.key(api_key),
        base_url=base_url or s.base_url,
        timeout_seconds=s.timeout_seconds,
    )
