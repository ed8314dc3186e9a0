"""Where a project's agent memory lives: the SQLite file, or the cluster's shared tables.

Apart from the service so that the read-only commands (``memory stats``) find the memory without
importing the service (and asyncio with it).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..config import Project
    from .backend import SessionBackend


def memory_path(project: Project) -> Path:
    """Where a project's memory lives: ``memory.path`` under the state directory."""
    return memory_file(project.settings.memory.path, project.state_dir)


def memory_file(path: str, state_dir: Path) -> Path:
    """``memory.path`` (``path``) under ``state_dir`` unless absolute."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else state_dir / p


def cluster_memory_db(project: Project) -> SessionBackend | None:
    """In cluster mode, the shared PostgreSQL tables; else ``None`` (the SQLite file)."""
    url = project.settings.cluster.database_url
    if url is None:
        return None
    from ..cluster.pg_memory import PgSessionDB

    return PgSessionDB(url)
