"""An LRU cache of memory query results, bounded by entries and bytes, invalidated per agent.

A pure policy object (no I/O, no clock); the store calls it under its own lock.

Invalidation is precise through generation counters. Every agent has a generation; a write for
agent A bumps A's generation and the "any agent" generation, and drops the entries of queries
filtered to A and of queries over all agents — never those of another agent. A result is cached
together with the generation *read before the query ran* (:meth:`QueryCache.token`): if a write
lands while the query runs, :meth:`QueryCache.put` sees a newer generation and refuses the now
possibly stale result. So a cached result is always one a fresh query would return.

Hand-written rather than ``functools.lru_cache`` or ``cachetools``: neither bounds by bytes and
invalidates a subset of entries by a scope, which is the point here.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import asdict, dataclass
from typing import Any, Generic, TypeVar

V = TypeVar("V")

Token = tuple[int, int]
ENTRY_OVERHEAD = 160
"""Bytes counted per entry on top of its value (key, bookkeeping)."""


@dataclass(frozen=True, slots=True)
class QueryCacheStats:
    hits: int
    misses: int
    evictions: int
    invalidations: int
    stale_puts: int
    entries: int
    bytes: int
    max_entries: int
    max_bytes: int

    @property
    def hit_rate(self) -> float:
        asked = self.hits + self.misses
        return self.hits / asked if asked else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "hit_rate": round(self.hit_rate, 4)}


@dataclass(slots=True)
class _Entry(Generic[V]):
    scope: str | None
    token: Token
    value: V
    nbytes: int


class QueryCache(Generic[V]):
    """LRU of query results; ``scope`` is the agent a query is filtered to (``None``: all)."""

    def __init__(self, max_entries: int, max_bytes: int) -> None:
        if max_entries < 0 or max_bytes < 0:
            raise ValueError("cache bounds must not be negative")
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._entries: OrderedDict[Hashable, _Entry[V]] = OrderedDict()
        self._by_scope: dict[str | None, set[Hashable]] = {}
        self._gens: dict[str, int] = {}
        self._any = 0  # bumped by every write: the generation of all-agent queries
        self._epoch = 0  # bumped by invalidate_all
        self._bytes = 0
        self.hits = self.misses = self.evictions = self.invalidations = self.stale_puts = 0

    @property
    def enabled(self) -> bool:
        return self.max_entries > 0 and self.max_bytes > 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def nbytes(self) -> int:
        return self._bytes

    # --- generations -----------------------------------------------------------------------------

    def token(self, scope: str | None) -> Token:
        """The generation a query of ``scope`` runs under; pass it to :meth:`put` afterwards."""
        return (self._epoch, self._any if scope is None else self._gens.get(scope, 0))

    def invalidate(self, agent: str) -> int:
        """A session of ``agent`` was written or removed: drop its queries and all-agent ones."""
        self._gens[agent] = self._gens.get(agent, 0) + 1
        self._any += 1
        dropped = self._drop_scope(agent) + self._drop_scope(None)
        self.invalidations += dropped
        return dropped

    def invalidate_all(self) -> int:
        """Everything may have changed (clear, or another process's change of unknown scope)."""
        self._epoch += 1
        dropped = len(self._entries)
        self.invalidations += dropped
        self._entries.clear()
        self._by_scope.clear()
        self._bytes = 0
        return dropped

    # --- lookups ---------------------------------------------------------------------------------

    def get(
        self, key: Hashable, scope: str | None, usable: Callable[[V], bool] | None = None
    ) -> V | None:
        """The cached value (now most recently used), or ``None`` — a miss — when absent,
        stale, or rejected by ``usable``."""
        entry = self._entries.get(key)
        if entry is None or entry.scope != scope:
            self.misses += 1
            return None
        if entry.token != self.token(scope) or (usable is not None and not usable(entry.value)):
            self._remove(key)
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return entry.value

    def put(self, key: Hashable, scope: str | None, token: Token, value: V, nbytes: int) -> bool:
        """Cache ``value`` if it is still current (``token`` unchanged) and fits the bounds."""
        if not self.enabled:
            return False
        if token != self.token(scope):
            self.stale_puts += 1
            return False
        size = nbytes + ENTRY_OVERHEAD
        if size > self.max_bytes:
            return False
        if key in self._entries:
            self._remove(key)
        self._entries[key] = _Entry(scope, token, value, size)
        self._by_scope.setdefault(scope, set()).add(key)
        self._bytes += size
        while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
            oldest = next(iter(self._entries))
            self._remove(oldest)
            self.evictions += 1
        return True

    def clear(self) -> None:
        """Drop every entry (not counted as invalidations; generations are kept)."""
        self._entries.clear()
        self._by_scope.clear()
        self._bytes = 0

    def stats(self) -> QueryCacheStats:
        return QueryCacheStats(
            hits=self.hits,
            misses=self.misses,
            evictions=self.evictions,
            invalidations=self.invalidations,
            stale_puts=self.stale_puts,
            entries=len(self._entries),
            bytes=self._bytes,
            max_entries=self.max_entries,
            max_bytes=self.max_bytes,
        )

    # --- internals -------------------------------------------------------------------------------

    def _remove(self, key: Hashable) -> None:
        entry = self._entries.pop(key)
        self._bytes -= entry.nbytes
        keys = self._by_scope.get(entry.scope)
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self._by_scope[entry.scope]

    def _drop_scope(self, scope: str | None) -> int:
        keys = self._by_scope.pop(scope, set())
        for key in keys:
            entry = self._entries.pop(key)
            self._bytes -= entry.nbytes
        return len(keys)
