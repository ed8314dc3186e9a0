"""Small exact statistics for the anomaly detectors: rolling windows, median/MAD, binomial tails.

Hand-written (about 150 lines) rather than taken from numpy/scipy: the detectors run on every
finished execution in the server's event loop, the windows hold a few hundred numbers, and the
package must not pull in a numeric stack for that. Everything here is pure and deterministic.
"""

from __future__ import annotations

import heapq
import math
from bisect import bisect_left, insort
from collections import deque
from collections.abc import Sequence
from itertools import islice
from typing import Generic, TypeVar

T = TypeVar("T")

MAD_SCALE = 1.4826
"""MAD × 1.4826 estimates the standard deviation of normally distributed data."""

_LN10 = math.log(10)


def median_sorted(values: Sequence[float]) -> float:
    """The median of an ascending, non-empty sequence."""
    n = len(values)
    mid = n // 2
    return values[mid] if n % 2 else (values[mid - 1] + values[mid]) / 2


def mad_sorted(values: Sequence[float], centre: float) -> float:
    """The median absolute deviation of an ascending, non-empty sequence around ``centre``.

    The deviations below and above ``centre`` are each already sorted, so merging them gives
    the sorted deviations in O(n) without sorting again.
    """
    n = len(values)
    k = bisect_left(values, centre)
    lower = (centre - values[i] for i in range(k - 1, -1, -1))
    upper = (values[i] - centre for i in range(k, n))
    merged = heapq.merge(lower, upper)
    mid = n // 2
    if n % 2:
        return next(islice(merged, mid, None))
    a, b = islice(merged, mid - 1, mid + 1)
    return (a + b) / 2


class _Window(Generic[T]):
    """The last ``recent`` values, and up to ``baseline`` values before them: a value enters the
    recent part, moves to the baseline when the recent part is full, and leaves the baseline when
    that is full. Subclasses keep their summaries up to date in ``_entered``, ``_moved``, ``_left``.
    """

    __slots__ = ("_base", "_recent", "baseline_size", "recent_size")

    def __init__(self, baseline: int, recent: int) -> None:
        self.baseline_size = baseline
        self.recent_size = recent
        self._recent: deque[T] = deque()
        self._base: deque[T] = deque()

    def add(self, value: T) -> None:
        self._recent.append(value)
        self._entered(value)
        if len(self._recent) <= self.recent_size:
            return
        moved = self._recent.popleft()
        self._base.append(moved)
        self._moved(moved)
        if len(self._base) > self.baseline_size:
            self._left(self._base.popleft())

    def _entered(self, value: T) -> None:
        pass

    def _moved(self, value: T) -> None:
        pass

    def _left(self, value: T) -> None:
        pass

    @property
    def recent_count(self) -> int:
        return len(self._recent)

    @property
    def baseline_count(self) -> int:
        return len(self._base)


class ShiftWindow(_Window[float]):
    """Numbers: the baseline also kept sorted, for its median and MAD."""

    __slots__ = ("_cache", "_sorted")

    def __init__(self, baseline: int, recent: int) -> None:
        super().__init__(baseline, recent)
        self._sorted: list[float] = []
        self._cache: float | None = None

    def _moved(self, value: float) -> None:
        insort(self._sorted, value)
        self._cache = None

    def _left(self, value: float) -> None:
        del self._sorted[bisect_left(self._sorted, value)]

    def baseline_median(self) -> float:
        """The baseline's median; call only when it is not empty."""
        return median_sorted(self._sorted)

    def baseline_mad(self) -> float:
        """The baseline's median absolute deviation (computed once per change of the baseline)."""
        if self._cache is None:
            self._cache = mad_sorted(self._sorted, median_sorted(self._sorted))
        return self._cache

    def recent_median(self) -> float:
        return median_sorted(sorted(self._recent))


class RateWindow(_Window[bool]):
    """Yes/no outcomes, with the count of yes in each part."""

    __slots__ = ("base_hits", "recent_hits")

    def __init__(self, baseline: int, recent: int) -> None:
        super().__init__(baseline, recent)
        self.recent_hits = 0
        self.base_hits = 0

    def _entered(self, value: bool) -> None:
        self.recent_hits += value

    def _moved(self, value: bool) -> None:
        self.recent_hits -= value
        self.base_hits += value

    def _left(self, value: bool) -> None:
        self.base_hits -= value


def _log_pmf(n: int, k: int, p: float) -> float:
    """Natural log of the binomial probability P(X = k), X ~ Bin(n, p), 0 < p < 1."""
    return (
        math.lgamma(n + 1)
        - math.lgamma(k + 1)
        - math.lgamma(n - k + 1)
        + k * math.log(p)
        + (n - k) * math.log1p(-p)
    )


def _log10_sum(logs: list[float]) -> float:
    top = max(logs)
    return (top + math.log(math.fsum(math.exp(v - top) for v in logs))) / _LN10


def log10_upper_tail(k: int, n: int, p: float) -> float:
    """log10 P(X ≥ k) for X ~ Bin(n, p), 0 < p < 1 (0.0 when k ≤ 0)."""
    if k <= 0:
        return 0.0
    if k > n:
        return -math.inf
    return min(0.0, _log10_sum([_log_pmf(n, i, p) for i in range(k, n + 1)]))


def log10_lower_tail(k: int, n: int, p: float) -> float:
    """log10 P(X ≤ k) for X ~ Bin(n, p), 0 < p < 1 (0.0 when k ≥ n)."""
    if k >= n:
        return 0.0
    if k < 0:
        return -math.inf
    return min(0.0, _log10_sum([_log_pmf(n, i, p) for i in range(0, k + 1)]))


def laplace_rate(hits: int, n: int) -> float:
    """The rule-of-succession estimate (hits + 1) / (n + 2): never exactly 0 or 1."""
    return (hits + 1) / (n + 2)


def upper_critical(n: int, p: float, threshold: float) -> int:
    """The smallest count k with −log10 P(X ≥ k) ≥ ``threshold`` (n + 1 if none).

    The upper tail shrinks as k grows, so a binary search finds it.
    """
    lo, hi = 0, n + 1
    while lo < hi:
        mid = (lo + hi) // 2
        if -log10_upper_tail(mid, n, p) >= threshold:
            hi = mid
        else:
            lo = mid + 1
    return lo


def lower_critical(n: int, p: float, threshold: float) -> int:
    """The largest count k with −log10 P(X ≤ k) ≥ ``threshold`` (−1 if none)."""
    lo, hi = -1, n
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if -log10_lower_tail(mid, n, p) >= threshold:
            lo = mid
        else:
            hi = mid - 1
    return lo
