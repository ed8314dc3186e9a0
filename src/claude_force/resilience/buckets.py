"""Token buckets per model for requests, input tokens and output tokens per minute (pure).

"N per minute" means what the Messages API means by it: a bucket of capacity N, refilled
continuously at N/60 per second. Over any interval of length T at most ``N + N·T/60`` is
admitted, and never more than N at once.

Buckets adapt to the ``anthropic-ratelimit-{requests,input-tokens,output-tokens}-{limit,remaining}``
response headers: a limit the project did not configure is learned from them, a configured
limit is lowered to the server's if that is smaller, and the level never stays above what the
server says remains (other clients of the same organisation share the limit).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from ..messages import MessageRequest, Usage
from ..providers.simulated import estimate_tokens
from .config import ModelLimits

Kind = Literal["requests", "input_tokens", "output_tokens"]
KINDS: tuple[Kind, ...] = ("requests", "input_tokens", "output_tokens")
_HEADER_KIND: dict[str, Kind] = {
    "requests": "requests",
    "input-tokens": "input_tokens",
    "output-tokens": "output_tokens",
}


# "anthropic-ratelimit-output-tokens-remaining" → ("output_tokens", 1): (kind, limit 0 / remaining 1)
_HEADER_SLOTS: dict[str, tuple[Kind, int]] = {
    f"anthropic-ratelimit-{prefix}{field}": (kind, index)
    for prefix, kind in _HEADER_KIND.items()
    for field, index in (("-limit", 0), ("-remaining", 1))
}

_EPSILON = 1e-6  # tokens


class TokenBucket:
    """``capacity`` tokens, refilled at ``capacity / period_s`` per second. The level may go
    negative when actual usage turns out larger than what was reserved (a debt later callers
    wait out)."""

    def __init__(
        self, capacity: float, now: float, *, level: float | None = None, period_s: float = 60.0
    ) -> None:
        if capacity <= 0:
            raise ValueError("a bucket's capacity must be positive")
        self.capacity = float(capacity)
        self.period_s = period_s
        self._level = self.capacity if level is None else min(float(level), self.capacity)
        self._at = now

    @property
    def rate(self) -> float:
        """Tokens per second."""
        return self.capacity / self.period_s

    def _refill(self, now: float) -> None:
        if now > self._at:
            self._level = min(self.capacity, self._level + (now - self._at) * self.rate)
            self._at = now

    def level(self, now: float) -> float:
        self._refill(now)
        return self._level

    def time_until(self, amount: float, now: float) -> float:
        """Seconds until ``amount`` (at most the capacity) is available; 0 if it is now."""
        self._refill(now)
        deficit = min(amount, self.capacity) - self._level
        # A deficit of a rounding error counts as none: otherwise a waiter could sleep for a
        # duration too small to move a float clock, and spin.
        return 0.0 if deficit <= _EPSILON else deficit / self.rate

    def take(self, amount: float, now: float) -> None:
        self._refill(now)
        self._level -= amount

    def give(self, amount: float, now: float) -> None:
        self._refill(now)
        self._level = min(self.capacity, self._level + amount)

    def set_capacity(self, capacity: float, now: float) -> None:
        self._refill(now)
        self.capacity = float(capacity)
        self._level = min(self._level, self.capacity)

    def cap_level(self, remaining: float, now: float) -> None:
        self._refill(now)
        self._level = min(self._level, remaining)


@dataclass(frozen=True, slots=True)
class Need:
    """What one call reserves: one request, its estimated input, its ``max_tokens`` of output."""

    requests: int = 1
    input_tokens: int = 0
    output_tokens: int = 0

    def of(self, kind: Kind) -> int:
        value: int = getattr(self, kind)
        return value

    @classmethod
    def for_request(cls, request: MessageRequest) -> Need:
        return cls(1, estimate_tokens(request.prompt_text), request.max_tokens)


def counted_input(usage: Usage, *, count_cache_reads: bool = False) -> int:
    """Input tokens that count against the input-tokens-per-minute limit."""
    counted = usage.input_tokens + usage.cache_creation_input_tokens
    return counted + usage.cache_read_input_tokens if count_cache_reads else counted


def parse_ratelimit_headers(
    headers: Iterable[tuple[str, str]] | Mapping[str, str],
) -> dict[Kind, tuple[int | None, int | None]]:
    """``{kind: (limit, remaining)}`` from ``anthropic-ratelimit-*`` headers (unparsable: skipped)."""
    items = headers.items() if isinstance(headers, Mapping) else headers
    found: dict[Kind, list[int | None]] = {}
    for raw_name, raw_value in items:
        slot = _HEADER_SLOTS.get(raw_name.lower())
        if slot is None:
            continue
        try:
            value = int(float(raw_value.strip()))
        except ValueError:
            continue
        found.setdefault(slot[0], [None, None])[slot[1]] = max(0, value)
    return {k: (v[0], v[1]) for k, v in found.items()}


@dataclass(frozen=True, slots=True)
class BucketSnapshot:
    kind: Kind
    per_minute: float
    available: float
    source: Literal["configured", "headers"]


class ModelBuckets:
    """The (up to) three buckets of one model and how they adapt (pure: ``now`` passed in)."""

    def __init__(self, limits: ModelLimits, now: float, *, adapt: bool = True) -> None:
        self.adapt = adapt
        self.configured: dict[Kind, int | None] = {
            "requests": limits.requests_per_minute,
            "input_tokens": limits.input_tokens_per_minute,
            "output_tokens": limits.output_tokens_per_minute,
        }
        self.buckets: dict[Kind, TokenBucket] = {
            kind: TokenBucket(cap, now) for kind, cap in self.configured.items() if cap is not None
        }
        self.outstanding: dict[Kind, int] = dict.fromkeys(KINDS, 0)  # reserved, not yet settled

    @property
    def limited(self) -> bool:
        return bool(self.buckets)

    def wait_time(self, need: Need, now: float) -> tuple[float, Kind | None]:
        """Seconds until every bucket can serve ``need``, and the bucket that decides it."""
        worst, which = 0.0, None
        for kind, bucket in self.buckets.items():
            wait = bucket.time_until(need.of(kind), now)
            if wait > worst:
                worst, which = wait, kind
        return worst, which

    def projected_wait(self, needs: Iterable[Need], now: float) -> float:
        """Seconds until all of ``needs`` (a queue, in order) could be served, from refills alone."""
        needs = list(needs)
        worst = 0.0
        for kind, bucket in self.buckets.items():
            total = sum(min(n.of(kind), bucket.capacity) for n in needs)
            deficit = total - bucket.level(now)
            if deficit > 0:
                worst = max(worst, deficit / bucket.rate)
        return worst

    def take(self, need: Need, now: float) -> dict[Kind, int]:
        """Take ``need`` from every bucket; returns what was taken per kind (for settling)."""
        taken: dict[Kind, int] = {}
        for kind, bucket in self.buckets.items():
            amount = need.of(kind)
            bucket.take(amount, now)
            self.outstanding[kind] += amount
            taken[kind] = amount
        return taken

    def settle(self, taken: Mapping[Kind, int], actual: Mapping[Kind, int], now: float) -> None:
        """Replace reservations by actual usage: refund the difference (or charge the excess)."""
        for kind, reserved in taken.items():
            self.outstanding[kind] = max(0, self.outstanding[kind] - reserved)
            bucket = self.buckets.get(kind)
            if bucket is None:
                continue
            delta = reserved - actual.get(kind, reserved)
            if delta > 0:
                bucket.give(delta, now)
            elif delta < 0:
                bucket.take(-delta, now)

    def charge(self, kind: Kind, amount: int, now: float) -> None:
        """Usage that was not reserved (e.g. a retry's extra request); may leave a debt."""
        bucket = self.buckets.get(kind)
        if bucket is not None:
            bucket.take(amount, now)

    def observe(self, headers: Iterable[tuple[str, str]] | Mapping[str, str], now: float) -> bool:
        """Adapt to the server's view; True when the buckets changed."""
        if not self.adapt:
            return False
        changed = False
        for kind, (limit, remaining) in parse_ratelimit_headers(headers).items():
            bucket = self.buckets.get(kind)
            configured = self.configured[kind]
            if limit is not None and limit > 0:
                capacity = limit if configured is None else min(configured, limit)
                if bucket is None:
                    start = capacity if remaining is None else min(capacity, remaining)
                    # The server's "remaining" already counts our calls in flight.
                    bucket = self.buckets[kind] = TokenBucket(capacity, now, level=start)
                    changed = True
                elif bucket.capacity != capacity:
                    bucket.set_capacity(capacity, now)
                    changed = True
            if bucket is not None and remaining is not None and remaining < bucket.level(now):
                bucket.cap_level(remaining, now)
                changed = True
        return changed

    def snapshot(self, now: float) -> list[BucketSnapshot]:
        return [
            BucketSnapshot(
                kind,
                b.capacity * 60.0 / b.period_s,
                b.level(now),
                "configured" if self.configured[kind] is not None else "headers",
            )
            for kind, b in self.buckets.items()
        ]
