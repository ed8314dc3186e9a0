"""The Message Batches API's limits, splitting, ids and the polling backoff (pure).

Limits (MODELS.md): at most 100,000 requests and 256 MB per batch. A larger submission becomes
several batches of one job; each request's share of the body is its JSON size plus a separator,
and a small allowance is kept for the envelope (``{"requests": [...]}``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from .types import BatchRequest

MAX_REQUESTS = 100_000
MAX_BYTES = 256 * 1024 * 1024
ENVELOPE_BYTES = 64 * 1024  # headroom for the body's envelope and the HTTP framing
_CUSTOM_ID = re.compile(r"[^A-Za-z0-9_-]+")


def request_bytes(item: BatchRequest) -> int:
    """The bytes one request adds to a batch body (its compact JSON and a comma)."""
    return len(json.dumps(item.to_api(), separators=(",", ":"), ensure_ascii=False).encode()) + 1


def split(
    items: Sequence[BatchRequest],
    *,
    max_requests: int = MAX_REQUESTS,
    max_bytes: int = MAX_BYTES,
) -> list[list[BatchRequest]]:
    """Consecutive chunks, each within both limits; order is kept. A single request larger than
    a whole batch may hold is refused with ``ValueError`` (the API would reject it)."""
    if max_requests < 1:
        raise ValueError("max_requests must be at least 1")
    budget = max_bytes - ENVELOPE_BYTES
    chunks: list[list[BatchRequest]] = []
    current: list[BatchRequest] = []
    size = 0
    for item in items:
        n = request_bytes(item)
        if n > budget:
            raise ValueError(
                f"request {item.custom_id} is {n:,} bytes: larger than a batch may be "
                f"({budget:,} bytes)"
            )
        if current and (len(current) >= max_requests or size + n > budget):
            chunks.append(current)
            current, size = [], 0
        current.append(item)
        size += n
    if current:
        chunks.append(current)
    return chunks


def custom_id(agent: str, index: int) -> str:
    """A valid, unique ``custom_id`` (``^[a-zA-Z0-9_-]{1,64}$``) naming the agent and position."""
    stem = _CUSTOM_ID.sub("_", agent)[:48] or "agent"
    return f"{stem}-{index}"


@dataclass(frozen=True, slots=True)
class PollPolicy:
    """Seconds between status checks: ``initial_s`` growing by ``factor`` up to ``max_s``.

    Most batches end within an hour (24 h at most), so the default starts at 5 s and settles at
    one check a minute.
    """

    initial_s: float = 5.0
    factor: float = 1.5
    max_s: float = 60.0

    def __post_init__(self) -> None:
        if self.initial_s <= 0 or self.factor < 1 or self.max_s < self.initial_s:
            raise ValueError("poll policy needs initial_s > 0, factor ≥ 1 and max_s ≥ initial_s")

    def delays(self) -> Iterator[float]:
        delay = self.initial_s
        while True:
            yield delay
            delay = min(self.max_s, delay * self.factor)
