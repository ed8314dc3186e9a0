"""``claude-force worker``: one process that executes queued runs (a DBOS executor).

The worker loads the project, builds one orchestrator (its call pipeline, metrics and memory are
shared by every run it executes), registers the durable workflows, launches DBOS with a stable
executor id and an explicit application version, declares the queue with the worker's
concurrency, and then beats and sweeps (:mod:`.liveness`) until it is stopped (SIGINT/SIGTERM).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from ..config import Project
from .config import Cluster
from .liveness import Heartbeats, PendingRun, prune_history, sweep
from .retention import PRUNE_EVERY_S

log = logging.getLogger(__name__)


def default_worker_id() -> str:
    """``CLAUDE_FORCE_WORKER_ID``, else ``<host>-<pid>`` (unique, but new on every start: give
    a worker a stable ``--id`` so that a restart recovers its own runs at once)."""
    return os.environ.get("CLAUDE_FORCE_WORKER_ID") or f"{socket.gethostname()}-{os.getpid()}"


@dataclass
class WorkerOptions:
    worker_id: str
    concurrency: int
    simulate: bool = False
    api_key: str | None = None


def dbos_config(cluster: Cluster, worker_id: str | None) -> dict[str, Any]:
    config: dict[str, Any] = {
        "name": cluster.app_name,
        "system_database_url": cluster.database_url,
        "application_version": cluster.app_version,
        "log_level": "WARNING",
        "notification_listener_polling_interval_sec": 0.1,
    }
    if worker_id is not None:
        config["executor_id"] = worker_id
    return config


async def run_worker(
    project: Project,
    cluster: Cluster,
    opts: WorkerOptions,
    *,
    stop: asyncio.Event | None = None,
    on_ready: Callable[[], None] | None = None,
) -> None:
    """Run until ``stop`` is set (or SIGINT/SIGTERM)."""
    from dbos import DBOS

    from ..engine import AgentEngine, EngineOptions
    from . import durable

    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    beats = Heartbeats(cluster.database_url)
    await beats.ensure_schema()
    await beats.beat(opts.worker_id, concurrency=opts.concurrency, app_version=cluster.app_version)
    orchestrator = AgentEngine(
        project,
        EngineOptions(
            api_key=opts.api_key,
            simulate=True if opts.simulate else None,
            max_concurrent=max(
                project.settings.performance.max_concurrent_agents, opts.concurrency
            ),
        ),
    )
    durable.install(durable.Runtime(orchestrator))
    os.environ["DBOS__VMID"] = opts.worker_id
    DBOS(config=dbos_config(cluster, opts.worker_id))  # type: ignore[arg-type]
    # launch() connects and migrates synchronously; it is called on this loop on purpose: DBOS
    # then runs the queued (async) workflows on this event loop, next to the orchestrator.
    DBOS.launch()
    try:
        # import the SDK and build its client now, not inside the first run's step
        await orchestrator.prepare()
        await DBOS.register_queue_async(
            cluster.queue,
            worker_concurrency=opts.concurrency,
            polling_interval_sec=cluster.poll_interval_s,
        )
        if on_ready is not None:
            on_ready()
        await _beat_until(stop, beats, cluster, opts)
    finally:
        # destroy() cancels the runs in flight (they stay PENDING and are adopted below) and
        # shuts down DBOS's thread pool, which it had made this loop's default executor: call
        # it from a thread of its own, then give the loop a fresh pool for the closing work.
        with ThreadPoolExecutor(1, thread_name_prefix="claude-force-dbos-stop") as pool:
            await loop.run_in_executor(pool, _destroy_dbos)
        loop.set_default_executor(ThreadPoolExecutor(4, thread_name_prefix="claude-force-worker"))
        durable.install(None)
        await orchestrator.close()
        # stopped: the sweep of any live worker resumes this worker's unfinished runs at once
        with contextlib.suppress(Exception):
            await beats.beat(
                opts.worker_id,
                concurrency=opts.concurrency,
                app_version=cluster.app_version,
                stopped=True,
            )
        await beats.aclose()


def _destroy_dbos() -> None:
    from dbos import DBOS

    DBOS.destroy(workflow_completion_timeout_sec=0)


async def _beat_until(
    stop: asyncio.Event, beats: Heartbeats, cluster: Cluster, opts: WorkerOptions
) -> None:
    from dbos import DBOS

    async def pending() -> list[PendingRun]:
        found = await DBOS.list_workflows_async(
            status="PENDING", load_input=False, load_output=False
        )
        return [PendingRun(w.workflow_id, w.executor_id, w.updated_at) for w in found]

    async def resume(run_id: str) -> None:
        await DBOS.resume_workflow_async(run_id)

    pruned_at: float | None = None
    while not stop.is_set():
        try:
            await beats.beat(
                opts.worker_id, concurrency=opts.concurrency, app_version=cluster.app_version
            )
            await sweep(beats, pending, resume, cluster.dead_after_s)
            now = time.monotonic()
            if pruned_at is None or now - pruned_at >= PRUNE_EVERY_S:
                pruned_at = now
                await prune_history(beats, DBOS, cluster.history_days)
        except Exception as exc:  # PostgreSQL restarting: keep running, beat again later
            log.warning("worker %s: heartbeat, sweep or pruning failed: %s", opts.worker_id, exc)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), cluster.heartbeat_s)
