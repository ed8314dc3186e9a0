"""The cache's statistics as users see them (``cache stats``, ``ResponseCache.get_stats()``)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from .policy import MIB
from .records import PICO, Counters


@dataclass(frozen=True, slots=True)
class CacheStats:
    backend: str
    location: str
    persistent: bool
    ttl_seconds: float
    max_bytes: int
    entries: int
    bytes: int
    counters: Counters
    errors: int = 0  # storage failures seen by this process (the calls went to the provider)
    semantic_enabled: bool = False
    semantic_threshold: float | None = None
    semantic_entries: int = 0  # task vectors stored beside the cache

    @property
    def hits(self) -> int:
        return self.counters.hits

    @property
    def misses(self) -> int:
        return self.counters.misses

    @property
    def lookups(self) -> int:
        return self.hits + self.misses

    @property
    def hit_rate(self) -> float:
        """Hits over lookups, 0.0 … 1.0 (0.0 before the first lookup)."""
        return self.hits / self.lookups if self.lookups else 0.0

    @property
    def cost_saved_usd(self) -> Decimal:
        return Decimal(self.counters.cost_saved_pusd) / PICO

    @property
    def seconds_saved(self) -> float:
        return self.counters.seconds_saved_us / 1e6

    @property
    def tokens_saved(self) -> int:
        return self.counters.input_tokens_saved + self.counters.output_tokens_saved

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (money as a decimal string, so it stays exact)."""
        c = self.counters
        return {
            "backend": self.backend,
            "location": self.location,
            "persistent": self.persistent,
            "ttl_hours": self.ttl_seconds / 3600,
            "max_size_mb": self.max_bytes / MIB,
            "entries": self.entries,
            "bytes": self.bytes,
            "size_mb": round(self.bytes / MIB, 4),
            "hits": c.hits,
            "misses": c.misses,
            "hit_rate": round(self.hit_rate, 6),
            "coalesced": c.coalesced,
            "stores": c.stores,
            "evictions": c.evictions,
            "expirations": c.expirations,
            "integrity_failures": c.integrity_failures,
            "errors": self.errors,
            "tokens_saved": {
                "input": c.input_tokens_saved,
                "output": c.output_tokens_saved,
                "total": self.tokens_saved,
            },
            "cost_saved_usd": format(self.cost_saved_usd.normalize(), "f"),
            "uncosted_hits": c.uncosted_hits,
            "semantic": {
                "enabled": self.semantic_enabled,
                "threshold": self.semantic_threshold,
                "entries": self.semantic_entries,
                "hits": c.semantic_hits,
                "cost_saved_usd": format(
                    (Decimal(c.semantic_cost_saved_pusd) / PICO).normalize(), "f"
                ),
                "refusals": c.semantic_refusals,
            },
            "seconds_saved": round(self.seconds_saved, 6),
        }


def sqlite_stats(state_dir: Path, *, ttl_hours: float, max_size_mb: float) -> CacheStats:
    """The statistics of the SQLite cache in ``state_dir``, read on this thread: what
    ``ResponseStore.stats`` answers for it (a store that was never written counts zeros and
    nothing is created; a damaged key file or database is reported, and left as it is), without
    the store's event loop — ``cache stats`` on the default backend needs neither asyncio nor the
    store."""
    from .errors import CacheBackendError
    from .policy import CachePolicy
    from .secret import DB_FILE_NAME, KEY_FILE_NAME, load_or_create_key
    from .sqlite_backend import SqliteBackend

    policy = CachePolicy.from_settings(ttl_hours, max_size_mb)
    backend = SqliteBackend(state_dir / DB_FILE_NAME, read_only=True)
    entries, size, counters = 0, 0, Counters()
    if backend.path.exists():
        key_file = state_dir / KEY_FILE_NAME
        if key_file.exists():  # as the store opens: a damaged key is an error
            try:
                load_or_create_key(key_file)
            except OSError as exc:
                raise CacheBackendError(f"cannot read the cache key: {exc}") from exc
        raw = backend.stats_now()
        entries, size, counters = raw.entries, raw.bytes, raw.counters
    return CacheStats(
        backend=backend.name,
        location=backend.location,
        persistent=backend.persistent,
        ttl_seconds=policy.ttl_seconds,
        max_bytes=policy.max_bytes,
        entries=entries,
        bytes=size,
        counters=counters,
    )
