"""Submit and inspect durable runs from processes that do not execute them (CLI, server).

A thin layer over ``DBOSClient``: the submitter chooses the run id (the DBOS workflow id), so
``execute --submit`` can print it before any worker has seen the run.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..errors import ClaudeForceError, ConfigurationError
from .config import Cluster
from .specs import DAG_WORKFLOW, TASK_WORKFLOW, TaskSpec, WorkflowSpec, new_run_id

FINAL = frozenset({"SUCCESS", "ERROR", "CANCELLED", "MAX_RECOVERY_ATTEMPTS_EXCEEDED"})
_KIND = {TASK_WORKFLOW: "task", DAG_WORKFLOW: "workflow"}


class RunNotFoundError(ConfigurationError):
    """No run with this id (exit 2: the user's input is wrong)."""


@dataclass(frozen=True, slots=True)
class RunInfo:
    """One durable run as ``runs list/show`` report it."""

    run_id: str
    kind: str
    status: str  # DBOS: ENQUEUED, PENDING, SUCCESS, ERROR, CANCELLED …
    executor: str | None
    created_at: datetime | None
    updated_at: datetime | None
    label: str  # agent or workflow name
    outcome: str | None  # succeeded / failed / partial, when finished
    result: Any = None  # the Execution or WorkflowResult, when finished and loaded
    error: str | None = None
    steps: list[dict[str, Any]] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        return self.status in FINAL

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "run_id": self.run_id,
            "kind": self.kind,
            "status": self.status,
            "outcome": self.outcome,
            "executor": self.executor,
            "label": self.label,
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "updated_at": self.updated_at.isoformat() if self.updated_at else None,
            "error": self.error,
        }
        if self.steps:
            data["steps"] = self.steps
        return data


def _when(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC)


def _outcome(result: Any) -> str | None:
    status = getattr(result, "status", None)
    if isinstance(status, str):  # a WorkflowResult
        return status
    success = getattr(result, "success", None)
    if isinstance(success, bool):
        return "succeeded" if success else "failed"
    return None


def _label(kind: str, inputs: Any) -> str:
    args = getattr(inputs, "args", None) if inputs is not None else None
    if not args and isinstance(inputs, dict):
        args = inputs.get("args")
    spec = args[0] if args else None
    if isinstance(spec, TaskSpec):
        return spec.agent
    if isinstance(spec, WorkflowSpec):
        return spec.name
    return kind


def info_of(status: Any, steps: Sequence[Any] = ()) -> RunInfo:
    """A :class:`RunInfo` from a DBOS ``WorkflowStatus`` (and its ``StepInfo`` rows)."""
    kind = _KIND.get(status.name, status.name)
    result = status.output
    error = status.error
    return RunInfo(
        run_id=status.workflow_id,
        kind=kind,
        status=status.status,
        executor=status.executor_id,
        created_at=_when(status.created_at),
        updated_at=_when(status.updated_at),
        label=_label(kind, status.input),
        outcome=_outcome(result),
        result=result,
        error=None if error is None else f"{type(error).__name__}: {error}",
        steps=[_step_dict(s) for s in steps],
    )


def _step_dict(step: Any) -> dict[str, Any]:
    out = step.get("output")
    started, ended = step.get("started_at_epoch_ms"), step.get("completed_at_epoch_ms")
    row: dict[str, Any] = {"n": step["function_id"], "name": step["function_name"]}
    if getattr(out, "step_id", None) is not None or getattr(out, "agent", None) is not None:
        row["step"] = getattr(out, "step_id", None)
        row["agent"] = getattr(out, "agent", None)
        row["success"] = getattr(out, "success", None)
    if started is not None and ended is not None:
        row["duration_s"] = round((ended - started) / 1000, 3)
    return row


class RunsClient:
    """Enqueue and inspect runs in the cluster's PostgreSQL (no DBOS launch in this process)."""

    def __init__(self, cluster: Cluster) -> None:
        from dbos import DBOS, DBOSClient

        self.cluster = cluster
        try:
            import psycopg

            from .liveness import conninfo

            # a plain connection first: an unreachable database is one clear line, not DBOS's
            # retry logging
            psycopg.connect(conninfo(cluster.database_url), connect_timeout=5).close()
            # DBOSClient does not create DBOS's tables; a first submit before any worker
            # started must not fail, so create or upgrade them here (idempotent).
            DBOS.migrate(cluster.database_url)
            self._client = DBOSClient(
                system_database_url=cluster.database_url,
                application_name=cluster.app_name,
                system_database_pool_size=2,
            )
        except Exception as exc:
            raise ClaudeForceError(
                f"cannot reach the cluster database: {type(exc).__name__}: {_short(exc)}",
                hint="check that PostgreSQL is running and cluster.database_url "
                "(CLAUDE_FORCE_DATABASE_URL) is right",
            ) from None

    def close(self) -> None:
        self._client.destroy()

    def __enter__(self) -> RunsClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- submitting -------------------------------------------------------------------------------

    def _enqueue(self, workflow: str, spec: object, run_id: str | None) -> str:
        rid = run_id or new_run_id()
        options: Any = {
            "queue_name": self.cluster.queue,
            "workflow_name": workflow,
            "workflow_id": rid,
            "app_version": self.cluster.app_version,
        }
        self._client.enqueue(options, spec)
        return rid

    def submit_task(self, spec: TaskSpec, run_id: str | None = None) -> str:
        return self._enqueue(TASK_WORKFLOW, spec, run_id)

    def submit_workflow(self, spec: WorkflowSpec, run_id: str | None = None) -> str:
        return self._enqueue(DAG_WORKFLOW, spec, run_id)

    # --- inspecting -------------------------------------------------------------------------------

    def get(self, run_id: str, *, steps: bool = False) -> RunInfo:
        found = self._client.list_workflows(workflow_ids=[run_id])
        if not found:
            raise RunNotFoundError(
                f"no run with id {run_id!r}", hint="list runs with 'claude-force runs list'"
            )
        rows = self._client.list_workflow_steps(run_id) if steps else []
        return info_of(found[0], rows)

    def list(self, *, limit: int = 20, status: str | None = None) -> list[RunInfo]:
        found = self._client.list_workflows(
            name=[TASK_WORKFLOW, DAG_WORKFLOW],
            status=status,
            limit=limit,
            sort_desc=True,
            load_output=True,
        )
        return [info_of(s) for s in found]

    def statuses(self, run_ids: Sequence[str]) -> dict[str, RunInfo]:
        found = self._client.list_workflows(workflow_ids=list(run_ids), load_input=True)
        return {s.workflow_id: info_of(s) for s in found}

    def cancel(self, run_id: str) -> RunInfo:
        self.get(run_id)
        self._client.cancel_workflow(run_id)
        return self.get(run_id)

    def wait(
        self,
        run_ids: Sequence[str],
        *,
        poll_s: float = 0.25,
        timeout_s: float | None = None,
        on_update: Callable[[dict[str, RunInfo]], None] | None = None,
    ) -> dict[str, RunInfo]:
        """Poll until every run is finished (or ``timeout_s`` passes); ``on_update`` sees each
        poll's statuses (progress displays)."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        final: dict[str, RunInfo] = {}
        pending = list(dict.fromkeys(run_ids))
        while True:
            # each poll reads only the status of the runs still going (no inputs, no results):
            # unpickling every result on every poll made a waiting client compete with the
            # workers for CPU; a run's inputs and result are read once, when it has finished
            light = {
                s.workflow_id: info_of(s)
                for s in self._client.list_workflows(
                    workflow_ids=pending, load_input=False, load_output=False
                )
            }
            ended = [rid for rid, i in light.items() if i.finished]
            if ended:
                final.update(self.statuses(ended))
            pending = [rid for rid in pending if rid not in final]
            infos = {
                rid: final.get(rid) or light[rid] for rid in run_ids if rid in final or rid in light
            }
            if on_update is not None:
                on_update(infos)
            if not pending:
                return infos
            if deadline is not None and time.monotonic() > deadline:
                return infos
            time.sleep(poll_s)


def _short(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300]


_CLIENTS: dict[str, RunsClient] = {}
_CLIENTS_LOCK = threading.Lock()


def shared_client(cluster: Cluster) -> RunsClient:
    """One client per cluster for a long-lived process (the server), created at first use."""
    with _CLIENTS_LOCK:
        found = _CLIENTS.get(cluster.database_url)
        if found is None:
            found = _CLIENTS[cluster.database_url] = RunsClient(cluster)
        return found


def run_and_wait(cluster: Cluster, spec: TaskSpec | WorkflowSpec, timeout_s: float) -> RunInfo:
    """Queue one run and wait for it (blocking: call it from a thread)."""
    client = shared_client(cluster)
    task = isinstance(spec, TaskSpec)
    rid = client.submit_task(spec) if task else client.submit_workflow(spec)  # type: ignore[arg-type]
    info = client.wait([rid], poll_s=0.1, timeout_s=timeout_s)[rid]
    if not info.finished:
        client.cancel(rid)
        raise ClaudeForceError(
            f"run {rid} did not finish within {timeout_s:g} s (cancelled)",
            hint="check that workers are running: claude-force runs list",
        )
    if info.result is None:
        raise ClaudeForceError(f"run {rid} ended {info.status} without a result: {info.error}")
    return info
