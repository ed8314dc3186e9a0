"""The ``cluster`` section of ``claude.json`` (imports only pydantic: the config schema uses it).

Cluster mode is on when ``cluster.database_url`` is set (or ``CLAUDE_FORCE_DATABASE_URL``):
runs are then queued in PostgreSQL and executed by ``claude-force worker`` processes (DBOS).
Without it claude-force runs embedded: one process, SQLite, exactly as before.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

QUEUE_NAME = "claude_force_runs"


class ClusterSettings(BaseModel):
    """Where the cluster's shared state lives and how workers behave.

    ``database_url``: PostgreSQL (``postgresql://user@host:port/db``) holding DBOS's durable
    queue and checkpoints, worker heartbeats and, in cluster mode, metrics and agent memory.
    ``redis_url``: Redis for the response cache, shared rate limits and breaker state (default:
    ``cache.redis_url``). ``worker_concurrency``: runs one worker executes at once (the
    queue's per-worker limit; ``claude-force worker --concurrency`` overrides it).
    ``heartbeat_seconds`` / ``dead_after_seconds``: how often each worker records that it is
    alive, and how long a silent worker may stay silent before its unfinished runs are resumed
    on another worker. ``poll_interval_seconds``: how often idle workers look at the queue.
    ``history_days``: how long the queue keeps finished runs (``runs list``/``show``) before the
    workers prune them (0: keep them all; see cluster/retention.py).
    ``application_version``: the version every worker and submitter must share (DBOS only
    recovers runs of its own version); the default is derived from the package version.
    """

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)

    database_url: str | None = None
    redis_url: str | None = None
    worker_concurrency: int = Field(default=10, ge=1, le=1000)
    heartbeat_seconds: float = Field(default=2.0, gt=0, le=3600)
    dead_after_seconds: float = Field(default=15.0, gt=0, le=86400)
    poll_interval_seconds: float = Field(default=0.2, ge=0.01, le=60)
    history_days: float = Field(default=30.0, ge=0, le=36500)
    application_version: str | None = None

    @field_validator("database_url")
    @classmethod
    def _postgres_only(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not value.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
            raise ValueError("must be a PostgreSQL URL such as postgresql://postgres@127.0.0.1/db")
        return value

    @property
    def enabled(self) -> bool:
        return self.database_url is not None
