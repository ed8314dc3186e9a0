"""Run checkpoints: completed steps of a workflow run, kept so a failed run can resume.

One JSON-lines file per (workflow, task) under ``<state dir>/workflows/``; a line is appended
when a step succeeds and the file is deleted when a run succeeds. Re-running the same workflow
with the same task reuses a recorded step only when its *fingerprint* matches — the agent's
definition and model, the step's settings and the exact inputs it would receive. Inputs include
upstream outputs, so everything downstream of a re-executed step runs again.

Files are created with mode 0600 (they hold model outputs). Only the task's hash is stored,
never the task text. File I/O runs in a worker thread, off the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import re
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from ..messages import Usage
from ..runner import Execution

log = logging.getLogger(__name__)


class StepRecord(BaseModel):
    """One completed step, as persisted."""

    model_config = ConfigDict(frozen=True)

    step_id: str
    agent: str
    fingerprint: str
    output: str
    model: str
    provider: str
    execution_id: str
    started_at: datetime
    duration_ms: float
    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0
    cost_usd: Decimal | None = None
    simulated: bool = False
    request_id: str | None = None
    stop_reason: str | None = None

    @classmethod
    def of(cls, step_id: str, fingerprint: str, ex: Execution) -> StepRecord:
        u = ex.usage
        return cls(
            step_id=step_id,
            agent=ex.agent,
            fingerprint=fingerprint,
            output=ex.output,
            model=ex.model,
            provider=ex.provider,
            execution_id=ex.execution_id,
            started_at=ex.started_at,
            duration_ms=ex.duration_ms,
            input_tokens=u.input_tokens,
            output_tokens=u.output_tokens,
            cache_creation_input_tokens=u.cache_creation_input_tokens,
            cache_read_input_tokens=u.cache_read_input_tokens,
            cost_usd=ex.cost_usd,
            simulated=ex.simulated,
            request_id=ex.request_id,
            stop_reason=ex.stop_reason,
        )

    def to_execution(self, task: str, workflow: str, position: int) -> Execution:
        """The recorded execution, to stand in for the step in this run."""
        return Execution(
            execution_id=self.execution_id,
            agent=self.agent,
            task=task,
            model=self.model,
            provider=self.provider,
            success=True,
            output=self.output,
            started_at=self.started_at,
            duration_ms=self.duration_ms,
            usage=Usage(
                self.input_tokens,
                self.output_tokens,
                self.cache_creation_input_tokens,
                self.cache_read_input_tokens,
            ),
            cost_usd=self.cost_usd,
            simulated=self.simulated,
            request_id=self.request_id,
            stop_reason=self.stop_reason,
            workflow_name=workflow,
            workflow_position=position,
        )


def fingerprint(*parts: object) -> str:
    """A stable digest of JSON-serialisable parts."""
    blob = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


class RunCheckpoint:
    """The checkpoint of one (workflow, task): records loaded at start, appended as steps succeed."""

    def __init__(self, path: Path, records: dict[str, StepRecord]) -> None:
        self.path = path
        self.records = records
        self._lock = asyncio.Lock()

    def reusable(self, step_id: str, fp: str) -> StepRecord | None:
        rec = self.records.get(step_id)
        return rec if rec is not None and rec.fingerprint == fp else None

    async def save(self, record: StepRecord) -> None:
        line = record.model_dump_json() + "\n"
        async with self._lock:
            await asyncio.to_thread(_append, self.path, line)
            self.records[record.step_id] = record

    async def discard(self) -> None:
        async with self._lock:
            await asyncio.to_thread(_unlink, self.path)
            self.records = {}


class CheckpointStore:
    """Checkpoint files of a project, under ``directory`` (``<state dir>/workflows``)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path_for(self, workflow: str, task: str, variant: str = "") -> Path:
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", workflow)[:60] or "workflow"
        return self.directory / f"{slug}-{fingerprint(workflow, task, variant)[:16]}.jsonl"

    async def open(
        self, workflow: str, task: str, variant: str = "", *, resume: bool = True
    ) -> RunCheckpoint:
        """The run's checkpoint; with ``resume=False`` an old one is deleted first."""
        path = self.path_for(workflow, task, variant)
        if not resume:
            await asyncio.to_thread(_unlink, path)
            return RunCheckpoint(path, {})
        return RunCheckpoint(path, await asyncio.to_thread(_load, path))


def _load(path: Path) -> dict[str, StepRecord]:
    records: dict[str, StepRecord] = {}
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        return records
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = StepRecord.model_validate_json(line)
        except ValidationError:
            # A line cut short by a crash mid-write, or from another version: that step reruns.
            log.warning("%s:%d: unreadable checkpoint record ignored", path, n)
            continue
        records[rec.step_id] = rec
    return records


def _append(path: Path, line: str) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as fh:
        fh.write(line)


def _unlink(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
