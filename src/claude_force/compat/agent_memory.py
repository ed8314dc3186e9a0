"""``AgentMemory``: the synchronous agent-memory API kept from claude-force 2.2.

The machinery is :mod:`claude_force.memory` (SQLite + FTS5, BM25 relevance, an LRU query cache
with per-agent invalidation, credential redaction). Differences from 2.2, on purpose:

- ``find_similar_sessions`` ranks by real relevance (BM25 over the task text, newest first
  among equals); 2.2 returned the most recent sessions and called that similarity.
  ``similarity_score`` is the relevance relative to the best hit (1.0 for the best).
- Credentials are redacted before a session is stored, and ``output`` keeps a bounded summary
  (``memory.summary_max_chars``) rather than the whole answer.
- A relative ``db_path`` resolves against the project root (the folder holding ``.claude/``,
  found upward from the working directory), and against the working directory only outside a
  project. A 2.2 ``sessions.db`` is read in place: its sessions are imported once.
- No automatic retention here (as in 2.2): call :meth:`AgentMemory.prune_old_sessions`, or pass
  ``settings`` with ``retention_days``. The orchestrator's memory prunes by ``memory.retention_days``.

These methods block; async code uses :class:`claude_force.memory.MemoryService`.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .._closing import Closing
from ..clock import WALL_CLOCK, Clock
from ..memory.context import build_context, select
from ..memory.records import SearchQuery, Session
from ..memory.settings import MemorySettings
from ..memory.store import MemoryStore

DEFAULT_DB_PATH = ".claude/sessions.db"

__all__ = ["DEFAULT_DB_PATH", "AgentMemory", "SessionMemory", "get_memory"]


@dataclass
class SessionMemory:
    """A stored session (field names kept from 2.2)."""

    session_id: str
    agent_name: str
    task: str
    task_hash: str
    output: str
    success: bool
    execution_time_ms: float
    model: str
    input_tokens: int
    output_tokens: int
    timestamp: str
    metadata: dict[str, Any] = field(default_factory=dict)
    similarity_score: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _task_hash(task: str) -> str:
    """2.2's task hash: SHA-256 of the lower-cased, stripped task."""
    return hashlib.sha256(task.lower().strip().encode()).hexdigest()


def _memory(s: Session, score: float = 0.0) -> SessionMemory:
    return SessionMemory(
        session_id=s.id,
        agent_name=s.agent,
        task=s.task,
        task_hash=_task_hash(s.task),
        output=s.summary,
        success=s.success,
        execution_time_ms=s.execution_time_ms,
        model=s.model,
        input_tokens=s.input_tokens,
        output_tokens=s.output_tokens,
        timestamp=s.created_at.isoformat(),
        metadata=dict(s.metadata),
        similarity_score=score,
    )


def resolve_db_path(db_path: str | os.PathLike[str], start: Path | None = None) -> Path:
    """An absolute ``db_path``: a relative one against the enclosing project's root."""
    path = Path(db_path).expanduser()
    if path.is_absolute():
        return path
    from ..config.discover import nearby_project

    root = nearby_project(start, load=False).root
    return (root if root is not None else (start or Path.cwd()).resolve()) / path


class AgentMemory(Closing):
    """Session memory for agents: store runs, find relevant ones, build context from them."""

    def __init__(
        self,
        db_path: str | os.PathLike[str] = DEFAULT_DB_PATH,
        *,
        settings: MemorySettings | None = None,
        clock: Clock = WALL_CLOCK,
    ) -> None:
        self.db_path = resolve_db_path(db_path)
        self.settings = settings or MemorySettings(retention_days=0)
        self.store = MemoryStore(self.db_path, self.settings, clock=clock)

    def store_session(
        self,
        agent_name: str,
        task: str,
        output: str,
        success: bool,
        execution_time_ms: float = 0.0,
        model: str = "",
        input_tokens: int = 0,
        output_tokens: int = 0,
        metadata: dict[str, Any] | None = None,
    ) -> str:
        """Store one session (secrets redacted); returns its id."""
        return self.store.add(
            agent_name,
            task,
            output,
            success,
            model=model,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            execution_time_ms=execution_time_ms,
            metadata=metadata,
        )

    def find_similar_sessions(
        self,
        task: str,
        agent_name: str | None = None,
        success_only: bool = True,
        limit: int = 5,
        days: int | None = None,
    ) -> list[SessionMemory]:
        """Sessions most relevant to ``task`` (BM25), optionally of one agent, successful only,
        from the last ``days`` days."""
        hits = self.store.search(
            SearchQuery(
                task,
                agent=agent_name or None,
                success_only=success_only,
                max_age_days=days,
                limit=limit,
            )
        )
        best = max((h.score for h in hits), default=0.0)
        return [_memory(h.session, round(h.score / best, 4) if best > 0 else 0.0) for h in hits]

    def get_context_for_task(self, task: str, agent_name: str, max_sessions: int = 3) -> str:
        """A context block of ``agent_name``'s relevant past successes (``""`` when none),
        within ``memory.context_token_budget`` tokens."""
        hits = self.store.search(
            SearchQuery(
                task,
                agent=agent_name,
                success_only=True,
                limit=3 * max_sessions + 1,
                informative_only=True,  # as the orchestrator's context lookups
            )
        )
        return build_context(select(hits, task, max_sessions), self.settings.context_token_budget)

    def get_session(self, session_id: str) -> SessionMemory | None:
        s = self.store.get(session_id)
        return None if s is None else _memory(s)

    def get_statistics(self, agent_name: str | None = None) -> dict[str, Any]:
        """2.2's keys (``total_sessions``, ``success_rate`` in percent, ``avg_execution_time_ms``)
        plus per-agent counts, redactions and the query cache's figures."""
        stats = self.store.stats(agent_name)
        return {
            "total_sessions": stats.sessions,
            "success_rate": stats.success_rate * 100,
            "avg_execution_time_ms": stats.avg_execution_time_ms,
            "agents": stats.agents,
            "redactions": stats.redactions,
            "query_cache": stats.query_cache,
        }

    def prune_old_sessions(self, days: int = 90) -> int:
        """Remove sessions older than ``days`` days; returns how many."""
        return self.store.prune(days)

    def clear_all(self) -> None:
        """Remove every session."""
        self.store.clear()

    def close(self) -> None:
        self.store.close()


def get_memory(db_path: str | os.PathLike[str] = DEFAULT_DB_PATH) -> AgentMemory:
    """2.2's factory."""
    return AgentMemory(db_path)
