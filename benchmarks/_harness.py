"""Shared pieces of the benchmark suite: results, percentiles, timing.

Each ``benchmarks/bench_*.py`` module defines ``TITLE`` and ``def run(quick: bool) -> list[Result]``
(it may drive asyncio itself). ``run_benchmarks.py`` discovers and runs them.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Result:
    """One measured figure and the target it is held to."""

    name: str
    value: float
    unit: str
    target: str = ""
    passed: bool | None = None
    detail: str = ""

    def row(self) -> list[str]:
        verdict = {True: "PASS", False: "FAIL", None: "info"}[self.passed]
        return [self.name, f"{self.value:,.4g} {self.unit}", self.target, verdict, self.detail]


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (0–100) by linear interpolation."""
    if not values:
        raise ValueError("no values")
    data = sorted(values)
    k = (len(data) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (k - lo)


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def time_calls(fn: Callable[[], object], n: int, warmup: int = 5) -> list[float]:
    """Seconds per call of ``fn``, ``n`` samples after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return samples
