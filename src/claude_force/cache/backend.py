"""The protocol every cache backend implements (memory, SQLite, Redis).

A backend stores :class:`~.records.Record` objects and keeps the counters. It knows nothing of
signatures or responses: :meth:`CacheBackend.lookup` hands a live record to a *judge* (a pure
function supplied by the caller) and applies the judge's counters atomically with its decision,
so one lookup is one round trip. Every method may raise
:class:`~.errors.CacheBackendError`; none may raise anything else for a damaged entry.

Semantics shared by all backends (checked by one contract test suite):

* ``lookup``: a missing entry adds ``miss``; an entry with ``expires_at <= now`` is removed and
  adds ``miss`` plus one expiration; a live entry is judged — valid: it becomes the most recently
  used, its hit count grows and the verdict's counters are added; invalid: it is removed and the
  verdict's counters are added.
* ``put``: insert or replace, then evict least-recently-used entries (never the new one) until
  the stored bytes are within ``max_bytes``; an evicted entry that had already expired counts as
  an expiration, not an eviction. A record larger than ``max_bytes`` is not stored.
* ``bytes`` is the sum of :attr:`Record.size` over stored entries and never exceeds ``max_bytes``
  once ``put`` returns.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from .records import BackendStats, Counters, EntryInfo, Judge, PutOutcome, Record, Verdict


@runtime_checkable
class CacheBackend(Protocol):
    name: str

    @property
    def location(self) -> str:
        """Where the entries live (a path or a URL without credentials)."""
        ...

    @property
    def persistent(self) -> bool: ...

    async def open(self, key_id: str) -> None:
        """Connect (creating storage if needed). ``key_id`` names the signing secret; a shared
        backend (Redis) keeps entries of different secrets apart with it."""
        ...

    async def aclose(self) -> None: ...

    async def lookup(self, key: str, now: float, judge: Judge, miss: Counters) -> Verdict | None:
        """The judge's verdict on a live entry, or ``None`` (missing or expired)."""
        ...

    async def peek(self, key: str) -> Record | None:
        """The stored record without side effects (no recency, no counters)."""
        ...

    async def put(
        self, record: Record, max_bytes: int, now: float, counters: Counters
    ) -> PutOutcome:
        """Store ``record`` (adding ``counters`` when stored) and restore the byte bound."""
        ...

    async def remove(self, key: str, counters: Counters) -> bool:
        """Delete one entry; ``counters`` are added when it existed."""
        ...

    async def bump(self, counters: Counters) -> None:
        """Add to the counters."""
        ...

    async def stats(self) -> BackendStats: ...

    async def entries(self, agent: str | None = None, limit: int | None = None) -> list[EntryInfo]:
        """Entries, most recently used first."""
        ...

    async def prune(self, now: float) -> int:
        """Remove expired entries (counted as expirations); returns how many."""
        ...

    async def clear(self, agent: str | None = None) -> int:
        """Remove all entries (or one agent's); counters are kept. Returns how many."""
        ...
