"""A mergeable latency histogram with log-scale buckets and a stated relative error.

Hand-written (about 80 lines) rather than taken from ``ddsketch``: we need the bucket *indices*
themselves as plain integers, because the SQLite store keeps them in a column and merges them with
``GROUP BY`` — a library sketch object would have to be deserialised row by row in Python.

The scheme is DDSketch's: with relative accuracy ``α`` and ``γ = (1 + α) / (1 − α)``, a value
``x > 0`` falls in bucket ``i = ⌈log_γ x⌉``, i.e. ``γ^(i−1) < x ≤ γ^i``, and the bucket is
represented by ``2·γ^i / (γ + 1)``. Every value in the bucket is within ``α`` of the
representative (relatively), so any quantile read from the histogram is within ``α`` of the exact
quantile of the recorded values. Values at or below :data:`MIN_MS` (one microsecond) share the
zero bucket, represented by 0. Merging two histograms adds counts bucket by bucket, which is
exact: a quantile of the merge equals the quantile of one histogram fed all the values.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping

RELATIVE_ACCURACY = 0.01
"""Every percentile read from a histogram is within 1% of the exact percentile."""

GAMMA = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY)
_LOG_GAMMA = math.log(GAMMA)
MIN_MS = 0.001
ZERO_INDEX = -(2**31)
"""The bucket of values ≤ :data:`MIN_MS` (durations too short to measure)."""


def bucket_index(value_ms: float) -> int:
    """The bucket of a duration in milliseconds."""
    if value_ms <= MIN_MS:
        return ZERO_INDEX
    return math.ceil(math.log(value_ms) / _LOG_GAMMA)


def bucket_value(index: int) -> float:
    """The representative value (ms) of a bucket."""
    if index == ZERO_INDEX:
        return 0.0
    return 2 * GAMMA**index / (GAMMA + 1)


def nearest_rank(count: int, q: float) -> int:
    """The 1-based rank of the ``q`` quantile (0 < q ≤ 1) among ``count`` values (nearest rank)."""
    if not 0 < q <= 1:
        raise ValueError(f"quantile must be in (0, 1], got {q}")
    return max(1, math.ceil(q * count - 1e-9))


class LogHistogram:
    """Counts per log-scale bucket; merge by adding counts."""

    __slots__ = ("_counts",)

    def __init__(self, counts: Mapping[int, int] | None = None) -> None:
        self._counts: dict[int, int] = {k: v for k, v in (counts or {}).items() if v}

    @classmethod
    def of(cls, values_ms: Iterable[float]) -> LogHistogram:
        h = cls()
        for v in values_ms:
            h.add(v)
        return h

    def add(self, value_ms: float, n: int = 1) -> None:
        self.add_index(bucket_index(value_ms), n)

    def add_index(self, index: int, n: int = 1) -> None:
        if n:
            self._counts[index] = self._counts.get(index, 0) + n

    def merge(self, other: LogHistogram) -> None:
        for i, n in other._counts.items():
            self.add_index(i, n)

    @property
    def count(self) -> int:
        return sum(self._counts.values())

    def buckets(self) -> Iterator[tuple[int, int]]:
        """(index, count) pairs in ascending order of value."""
        return iter(sorted(self._counts.items()))

    def quantile(self, q: float) -> float | None:
        """The ``q`` quantile (nearest rank) in ms, or None when empty."""
        total = self.count
        if total == 0:
            return None
        rank = nearest_rank(total, q)
        seen = 0
        for index, n in self.buckets():
            seen += n
            if seen >= rank:
                return bucket_value(index)
        raise AssertionError("unreachable: ranks never exceed the count")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LogHistogram) and self._counts == other._counts

    def __repr__(self) -> str:
        return f"LogHistogram({dict(self.buckets())})"
