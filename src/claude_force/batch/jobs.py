"""Batch jobs on disk: ``<state dir>/batches/<job id>.json`` (read and written off the loop).

A job record holds the provider batch ids and, per request, its agent, model, source and the
hash of its task — never the task text. Writes go to a temporary file then ``os.replace`` so a
crash never leaves half a record.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import tempfile
from pathlib import Path

from .types import BatchJob, BatchNotFoundError

_JOB_ID = re.compile(r"^cfb_[0-9a-f]{8,32}$")


class JobStore:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path(self, job_id: str) -> Path:
        if not _JOB_ID.match(job_id):
            raise BatchNotFoundError(
                f"'{job_id}' is not a batch job id", hint="see 'claude-force batch list'"
            )
        return self.directory / f"{job_id}.json"

    async def save(self, job: BatchJob) -> None:
        await asyncio.to_thread(self._save, job)

    def _save(self, job: BatchJob) -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        target = self.path(job.id)
        fd, tmp = tempfile.mkstemp(prefix=".job-", dir=self.directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(job.to_dict(), f, indent=1)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    async def load(self, job_id: str) -> BatchJob:
        return await asyncio.to_thread(self._load, job_id)

    def _load(self, job_id: str) -> BatchJob:
        if not _JOB_ID.match(job_id):
            found = self._find_by_batch_id(job_id)
            if found is not None:
                return found
        path = self.path(job_id)
        try:
            return BatchJob.from_dict(json.loads(path.read_text("utf-8")))
        except FileNotFoundError:
            raise BatchNotFoundError(
                f"no batch job '{job_id}' in {self.directory}",
                hint="see 'claude-force batch list'",
            ) from None

    def _find_by_batch_id(self, batch_id: str) -> BatchJob | None:
        """The job that contains a provider batch id (``msgbatch_…``), if one does."""
        for job in self._all():
            if batch_id in job.batch_ids:
                return job
        return None

    async def list_jobs(self) -> list[BatchJob]:
        return await asyncio.to_thread(self._all)

    def _all(self) -> list[BatchJob]:
        if not self.directory.is_dir():
            return []
        jobs = []
        for p in self.directory.glob("cfb_*.json"):
            try:
                jobs.append(BatchJob.from_dict(json.loads(p.read_text("utf-8"))))
            except (OSError, ValueError, KeyError):
                continue  # a damaged record is skipped, not fatal to the listing
        return sorted(jobs, key=lambda j: j.created_at)
