"""Cluster settings resolved for one project (light: no DBOS import)."""

from __future__ import annotations

from dataclasses import dataclass

from .._version import __version__
from ..config import Project
from ..errors import ConfigurationError
from .settings import QUEUE_NAME


@dataclass(frozen=True, slots=True)
class Cluster:
    """The resolved ``cluster`` section: the URLs and the worker timing."""

    database_url: str
    redis_url: str | None
    app_version: str
    worker_concurrency: int
    heartbeat_s: float
    dead_after_s: float
    poll_interval_s: float
    history_days: float = 30.0
    queue: str = QUEUE_NAME
    app_name: str = "claude-force"


def cluster_of(project: Project) -> Cluster | None:
    """The project's cluster, or ``None`` when it runs embedded (no ``cluster.database_url``)."""
    c = project.settings.cluster
    if c.database_url is None:
        return None
    return Cluster(
        database_url=c.database_url,
        redis_url=c.redis_url or project.settings.cache.redis_url,
        app_version=c.application_version or f"claude-force-{__version__}",
        worker_concurrency=c.worker_concurrency,
        heartbeat_s=c.heartbeat_seconds,
        dead_after_s=max(c.dead_after_seconds, 2 * c.heartbeat_seconds),
        poll_interval_s=c.poll_interval_seconds,
        history_days=c.history_days,
    )


def require_extra() -> None:
    """Fail with the fix (exit 2) when the ``cluster`` extra is not installed."""
    try:
        import dbos  # noqa: F401
        import psycopg  # noqa: F401
    except ImportError as exc:
        raise ConfigurationError(
            f"cluster mode needs the 'cluster' extra ({exc.name} is not installed)",
            key="cluster.database_url",
            hint='pip install "claude-force[cluster]"',
        ) from None


def require_cluster(project: Project, command: str) -> Cluster:
    """The cluster, or a configuration error saying how to switch cluster mode on."""
    cluster = cluster_of(project)
    if cluster is None:
        raise ConfigurationError(
            f"'{command}' needs cluster mode, but no cluster.database_url is set",
            file=project.config_path,
            key="cluster.database_url",
            hint='set "cluster": {"database_url": "postgresql://…"} in claude.json or '
            "CLAUDE_FORCE_DATABASE_URL (see docs/operations.md#scaling-out)",
        )
    require_extra()
    return cluster
