"""The data a cache backend stores and returns: records, counters and a verdict on a record."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

from .keys import Namespace

# Money is counted in picodollars (1e-12 USD) so that counters stay integers — atomic increments
# in SQLite and Redis, exact sums — while every price per million tokens stays exact.
PICO = 10**12


@dataclass(frozen=True, slots=True)
class Counters:
    """Monotonic counters kept by a backend; they survive restarts in SQLite and Redis."""

    hits: int = 0
    misses: int = 0
    coalesced: int = 0  # hits served by joining an identical in-flight call (single-flight)
    stores: int = 0
    evictions: int = 0
    expirations: int = 0
    integrity_failures: int = 0
    input_tokens_saved: int = 0
    output_tokens_saved: int = 0
    cost_saved_pusd: int = 0  # picodollars
    seconds_saved_us: int = 0  # microseconds
    uncosted_hits: int = 0  # hits whose model has no price: their saving is unknown
    semantic_hits: int = 0  # hits answered from a paraphrase's entry (included in ``hits``)
    semantic_cost_saved_pusd: int = 0  # their part of cost_saved_pusd
    semantic_refusals: int = 0  # near neighbours above the threshold that the guard refused

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return _COUNTER_NAMES  # worked out once: the cache's thread adds counters on every call

    def items(self) -> list[tuple[str, int]]:
        return [(name, int(getattr(self, name))) for name in _COUNTER_NAMES]

    def nonzero(self) -> list[tuple[str, int]]:
        return [(k, v) for k, v in self.items() if v]

    def __add__(self, other: Counters) -> Counters:
        return Counters(*(getattr(self, n) + getattr(other, n) for n in _COUNTER_NAMES))

    @classmethod
    def from_mapping(cls, raw: dict[str, Any]) -> Counters:
        return cls(**{name: int(raw.get(name, 0) or 0) for name in cls.names()})


_COUNTER_NAMES: tuple[str, ...] = tuple(f.name for f in fields(Counters))


@dataclass(frozen=True, slots=True)
class EntryInfo:
    """What a listing shows of one entry (no payload)."""

    key: str
    namespace: str
    agent: str
    model: str
    created_at: float
    expires_at: float
    last_used_at: float
    size: int
    hits: int


@dataclass(frozen=True, slots=True)
class Record:
    """One stored entry: a signed payload plus the columns a backend indexes.

    The columns are not signed; everything that reaches a caller is read from the payload, and the
    payload repeats the columns that matter (key, namespace, expiry) so a mismatch is detected.
    """

    key: str
    namespace: Namespace | str
    agent: str
    model: str
    created_at: float
    expires_at: float
    payload: bytes
    sig: bytes
    last_used_at: float = 0.0
    hits: int = 0

    @property
    def size(self) -> int:
        """The bytes this entry counts against ``cache.max_size_mb``."""
        return len(self.payload) + len(self.sig)

    def info(self) -> EntryInfo:
        return EntryInfo(
            key=self.key,
            namespace=str(self.namespace),
            agent=self.agent,
            model=self.model,
            created_at=self.created_at,
            expires_at=self.expires_at,
            last_used_at=self.last_used_at or self.created_at,
            size=self.size,
            hits=self.hits,
        )


@dataclass(frozen=True, slots=True)
class Verdict:
    """A judge's decision on a live record: valid (a hit) or not (removed as an integrity failure).

    ``counters`` are added atomically with the decision; ``value`` carries the decoded entry back
    to the caller.
    """

    valid: bool
    counters: Counters
    value: Any = None


Judge = Callable[[Record], Verdict]


@dataclass(frozen=True, slots=True)
class PutOutcome:
    stored: bool
    evicted: int = 0
    expired: int = 0


@dataclass(frozen=True, slots=True)
class BackendStats:
    counters: Counters
    entries: int
    bytes: int
