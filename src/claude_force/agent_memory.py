"""The 2.2 import path of ``AgentMemory``, the 2.2 memory API; the face lives in :mod:`claude_force.compat`."""

from .compat.agent_memory import (
    DEFAULT_DB_PATH,
    AgentMemory,
    SessionMemory,
    get_memory,
)
from .compat.agent_memory import resolve_db_path as resolve_db_path

__all__ = ["DEFAULT_DB_PATH", "AgentMemory", "SessionMemory", "get_memory"]
