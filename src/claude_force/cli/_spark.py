"""Sparklines: a series as one line of block characters (``▁▂▃▄▅▆▇█``), for the terminal.

Hand-written: eight characters and a scale; a plotting library would be far more than this needs.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from ..metrics.analytics import TrendPoint

BLOCKS = "▁▂▃▄▅▆▇█"


def sparkline(values: Sequence[float | None]) -> str:
    """One character per value, scaled from 0 (or the minimum, if negative) to the maximum;
    ``None`` (no data) is a space."""
    known = [v for v in values if v is not None]
    if not known:
        return " " * len(values)
    lo = min(0.0, min(known))
    hi = max(known)
    span = hi - lo
    out = []
    for v in values:
        if v is None:
            out.append(" ")
        elif span <= 0:
            out.append(BLOCKS[0])
        else:
            out.append(BLOCKS[min(len(BLOCKS) - 1, int((v - lo) / span * len(BLOCKS)))])
    return "".join(out)


def continuous(points: Sequence[TrendPoint], step: timedelta) -> list[TrendPoint | None]:
    """The points on a gap-free grid (``None`` where a period had no executions)."""
    if not points:
        return []
    by_start: dict[datetime, TrendPoint] = {p.start: p for p in points}
    out: list[TrendPoint | None] = []
    t = points[0].start
    end = points[-1].start
    while t <= end and len(out) < 10_000:
        out.append(by_start.get(t))
        t += step
    return out


def trend_lines(points: Sequence[TrendPoint], step: timedelta) -> list[tuple[str, str, str]]:
    """``(label, sparkline, range)`` rows: executions, errors, cost, p95 latency, cache hits."""
    grid = continuous(points, step)

    def series(get: object) -> list[float | None]:
        return [None if p is None else get(p) for p in grid]  # type: ignore[operator]

    runs = series(lambda p: float(p.stats.executions))
    errors = series(lambda p: float(p.stats.failures))
    cost = series(lambda p: float(p.stats.cost_usd))
    p95 = series(lambda p: p.stats.p95_ms)
    hits = series(lambda p: p.stats.cache_hit_rate * 100)

    def span(values: list[float | None], fmt: str) -> str:
        known = [v for v in values if v is not None]
        return "" if not known else f"{fmt.format(min(known))} … {fmt.format(max(known))}"

    return [
        ("executions", sparkline([0.0 if v is None else v for v in runs]), span(runs, "{:,.0f}")),
        ("errors", sparkline([0.0 if v is None else v for v in errors]), span(errors, "{:,.0f}")),
        ("cost", sparkline(cost), span(cost, "${:,.4f}")),
        ("p95 latency", sparkline(p95), span(p95, "{:,.0f} ms")),
        ("cache hit rate", sparkline(hits), span(hits, "{:.0f}%")),
    ]
