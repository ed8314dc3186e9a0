"""Agent memory: past sessions stored in SQLite (FTS5), found by BM25 relevance, offered as context.

Names load lazily: ``claude_force.config.schema`` imports :mod:`.settings` from here and must not
pull in the store. See docs/memory.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
    from .context import approx_tokens, build_context
    from .errors import MemoryStoreError
    from .location import memory_path
    from .qcache import QueryCache, QueryCacheStats
    from .records import Hit, MemoryStats, SearchQuery, Session, query_terms
    from .redact import Redacted, redact
    from .service import MemoryService
    from .settings import MemorySettings
    from .store import MemoryStore

_EXPORTS: dict[str, str] = {
    "approx_tokens": ".context",
    "build_context": ".context",
    "MemoryStoreError": ".errors",
    "QueryCache": ".qcache",
    "QueryCacheStats": ".qcache",
    "Hit": ".records",
    "MemoryStats": ".records",
    "SearchQuery": ".records",
    "Session": ".records",
    "query_terms": ".records",
    "Redacted": ".redact",
    "redact": ".redact",
    "MemoryService": ".service",
    "memory_path": ".location",
    "MemorySettings": ".settings",
    "MemoryStore": ".store",
}

__all__ = [
    "Hit",
    "MemoryService",
    "MemorySettings",
    "MemoryStats",
    "MemoryStore",
    "MemoryStoreError",
    "QueryCache",
    "QueryCacheStats",
    "Redacted",
    "SearchQuery",
    "Session",
    "approx_tokens",
    "build_context",
    "memory_path",
    "query_terms",
    "redact",
]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, __all__)
