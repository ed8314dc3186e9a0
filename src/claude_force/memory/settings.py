"""The ``memory`` section of ``claude.json`` (imports only pydantic: the config schema uses it)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class MemorySettings(BaseModel):
    """Agent memory: past sessions stored in the state directory and offered as context.

    ``enabled``: store sessions and inject context (an agent opts out with ``"memory": false``).
    ``query_cache_size`` / ``query_cache_max_mb``: bounds of the in-process LRU cache of memory
    queries (entries and approximate bytes; ``0`` entries switches the cache off).
    ``retention_days``: sessions older than this are pruned automatically (``0`` keeps them).
    ``context_token_budget``: the most tokens (estimated) the injected context may take.
    """

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)

    enabled: bool = True
    path: str = "memory.db"
    query_cache_size: int = Field(default=256, ge=0, le=1_000_000)
    query_cache_max_mb: float = Field(default=8.0, gt=0, le=4096)
    retention_days: int = Field(default=90, ge=0, le=36_500)
    context_token_budget: int = Field(default=1500, ge=0, le=200_000)
    context_max_sessions: int = Field(default=3, ge=1, le=50)
    summary_max_chars: int = Field(default=2000, ge=200, le=100_000)
