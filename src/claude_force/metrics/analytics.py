"""Analytics over raw and rolled-up metrics: summary, by agent / model / workflow, trends, export.

Every figure comes from :meth:`MetricsStore.aggregate`, which adds raw and daily cells, so a
question spanning rolled-up and raw days gets the same answer the un-rolled data would give.
Percentiles come from the log-scale histogram (within ±1% of the exact value, see
:mod:`claude_force.metrics.histogram`).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from ..errors import ConfigurationError
from .backend import ROLLED_BEFORE, MetricsStore, Query
from .record import Cell, Dimension, Granularity, TokenTotal, from_pico, from_us, to_us

if TYPE_CHECKING:
    from ..messages import CacheTTL
    from ..pricing import PriceTable
    from .prompt_cache import PromptCacheSavings

ExportFormat = Literal["json", "csv"]


def _ratio(a: int, b: int) -> float:
    return a / b if b else 0.0


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 3)


@dataclass(frozen=True, slots=True)
class Stats(TokenTotal):
    """The figures of one group of executions."""

    executions: int
    successes: int
    attempts: int
    input_tokens: int
    output_tokens: int
    cache_write_tokens: int
    cache_read_tokens: int
    cost_usd: Decimal
    cost_unknown: int
    cache_hits: int
    saved_usd: Decimal
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    avg_duration_ms: float | None
    avg_queue_wait_ms: float | None
    semantic_hits: int = 0  # of ``cache_hits``: paraphrases answered by the semantic cache
    semantic_saved_usd: Decimal = Decimal(0)  # of ``saved_usd``

    @classmethod
    def of(cls, cell: Cell) -> Stats:
        n = cell.executions
        return cls(
            executions=n,
            successes=cell.successes,
            attempts=cell.attempts,
            input_tokens=cell.input_tokens,
            output_tokens=cell.output_tokens,
            cache_write_tokens=cell.cache_write_tokens,
            cache_read_tokens=cell.cache_read_tokens,
            cost_usd=from_pico(cell.cost_pusd),
            cost_unknown=cell.cost_unknown,
            cache_hits=cell.cached,
            saved_usd=from_pico(cell.saved_pusd),
            p50_ms=cell.latency.quantile(0.50),
            p95_ms=cell.latency.quantile(0.95),
            p99_ms=cell.latency.quantile(0.99),
            avg_duration_ms=cell.duration_us / n / 1000 if n else None,
            avg_queue_wait_ms=cell.queue_wait_us / n / 1000 if n else None,
            semantic_hits=cell.semantic_cached,
            semantic_saved_usd=from_pico(cell.semantic_saved_pusd),
        )

    @property
    def failures(self) -> int:
        return self.executions - self.successes

    @property
    def retries(self) -> int:
        return self.attempts - self.executions

    @property
    def success_rate(self) -> float:
        return _ratio(self.successes, self.executions)

    @property
    def cache_hit_rate(self) -> float:
        return _ratio(self.cache_hits, self.executions)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: money as float USD plus an exact decimal string."""
        return {
            "executions": self.executions,
            "successes": self.successes,
            "failures": self.failures,
            "success_rate": round(self.success_rate, 6),
            "attempts": self.attempts,
            "retries": self.retries,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_write_tokens": self.cache_write_tokens,
            "cache_read_tokens": self.cache_read_tokens,
            "total_tokens": self.total_tokens,
            "cost_usd": float(self.cost_usd),
            "cost_usd_exact": _dec(self.cost_usd),
            "cost_unknown_attempts": self.cost_unknown,
            "cache_hits": self.cache_hits,
            "cache_hit_rate": round(self.cache_hit_rate, 6),
            "saved_usd": float(self.saved_usd),
            "saved_usd_exact": _dec(self.saved_usd),
            "semantic_hits": self.semantic_hits,
            "semantic_saved_usd": float(self.semantic_saved_usd),
            "semantic_saved_usd_exact": _dec(self.semantic_saved_usd),
            "p50_ms": _round(self.p50_ms),
            "p95_ms": _round(self.p95_ms),
            "p99_ms": _round(self.p99_ms),
            "avg_duration_ms": _round(self.avg_duration_ms),
            "avg_queue_wait_ms": _round(self.avg_queue_wait_ms),
        }


def _dec(d: Decimal) -> str:
    text = format(d.normalize(), "f")
    return text if text != "-0" else "0"


@dataclass(frozen=True, slots=True)
class Group:
    name: str
    stats: Stats

    def to_dict(self, label: str) -> dict[str, Any]:
        return {label: self.name, **self.stats.to_dict()}


@dataclass(frozen=True, slots=True)
class TrendPoint:
    start: datetime
    resolution: Granularity
    stats: Stats

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "resolution": self.resolution,
            **self.stats.to_dict(),
        }


class Analytics:
    """Questions about a store's executions."""

    def __init__(self, store: MetricsStore) -> None:
        self.store = store

    def summary(self, query: Query | None = None) -> Stats:
        cells = self.store.aggregate(query or Query())
        return Stats.of(cells.get((), Cell()))

    def prompt_cache(
        self, prices: PriceTable, query: Query | None = None, cache_ttl: CacheTTL = "5m"
    ) -> PromptCacheSavings:
        """What Anthropic's prompt cache saved (see :mod:`claude_force.metrics.prompt_cache`)."""
        from .prompt_cache import prompt_cache_savings

        return prompt_cache_savings(self.store, prices, query, cache_ttl=cache_ttl)

    def by(self, dimension: Dimension, query: Query | None = None) -> list[Group]:
        """Groups by one dimension, most expensive first (then most executed, then name)."""
        cells = self.store.aggregate(query or Query(), by=(dimension,))
        groups = [Group(_name(k[0]), Stats.of(c)) for k, c in cells.items()]
        groups.sort(key=lambda g: (-g.stats.cost_usd, -g.stats.executions, g.name))
        return groups

    def by_agent(self, query: Query | None = None) -> list[Group]:
        return self.by("agent", query)

    def by_model(self, query: Query | None = None) -> list[Group]:
        return self.by("model", query)

    def by_workflow(self, query: Query | None = None) -> list[Group]:
        """Executions per workflow; runs outside any workflow are the group ``(none)``."""
        return self.by("workflow", query)

    def trends(self, query: Query | None = None, interval: Granularity = "day") -> list[TrendPoint]:
        """One point per hour or day that has data. Rolled-up days appear as whole days."""
        q = query or Query()
        cells = self.store.aggregate(q, by=("period",), granularity=interval)
        rolled_before = int(self.store.get_meta(ROLLED_BEFORE) or 0)
        points = []
        for (start,), cell in sorted(cells.items()):
            resolution: Granularity = interval if start >= rolled_before else "day"
            points.append(TrendPoint(from_us(start), resolution, Stats.of(cell)))
        return points

    def export(self, query: Query | None = None, fmt: ExportFormat = "json") -> str:
        """Raw rows and daily rows in ``query`` as JSON (one document) or CSV (one table)."""
        q = query or Query()
        records = [r.to_dict() for r in self.store.records(q)]
        daily = []
        for row in self.store.daily_rows(q):
            stats = Stats.of(row.cell).to_dict()
            daily.append({"day": from_us(row.day_us).date().isoformat(), **row.dims, **stats})
        if fmt == "json":
            return json.dumps(
                {"summary": self.summary(q).to_dict(), "executions": records, "daily": daily},
                indent=2,
            )
        if fmt != "csv":
            raise ConfigurationError(
                f"unknown export format '{fmt}'", key="--format", hint="use json or csv"
            )
        buf = io.StringIO()
        fields = ["kind", "day", *(records[0] if records else _record_fields())]
        fields += [k for k in (daily[0] if daily else {}) if k not in fields]
        writer = csv.DictWriter(buf, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        for r in records:
            writer.writerow({"kind": "execution", "day": r["started_at"][:10], **r})
        for d in daily:
            writer.writerow({"kind": "daily", **d})
        return buf.getvalue()


def _record_fields() -> list[str]:
    from .record import ExecutionRecord

    return list(ExecutionRecord("", "", "", "", 0, 0, True).to_dict())


def _name(value: Any) -> str:
    if value == "" or value is None:
        return "(none)"
    return str(value)


# --- time arguments -------------------------------------------------------------------------------

_RELATIVE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_when(text: str, now: datetime, *, option: str = "--since") -> datetime:
    """``7d``, ``24h``, ``30m``, ``2w`` (ago), ``today``, ``yesterday``, an ISO date or datetime.

    Naive datetimes are UTC.
    """
    t = text.strip().lower()
    m = _RELATIVE.match(t)
    if m:
        return now - timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2)])
    today = datetime.combine(now.astimezone(UTC).date(), datetime.min.time(), tzinfo=UTC)
    if t == "today":
        return today
    if t == "yesterday":
        return today - timedelta(days=1)
    if t == "now":
        return now
    try:
        if len(t) == 10:
            d = date.fromisoformat(t)
            return datetime(d.year, d.month, d.day, tzinfo=UTC)
        dt = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ConfigurationError(
            f"cannot read the time '{text}'",
            key=option,
            hint="use e.g. 7d, 24h, 30m, today, 2026-11-01 or 2026-11-01T12:00",
        ) from None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def make_query(
    since: str | None,
    until: str | None,
    *,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    agent: str | None = None,
    model: str | None = None,
    workflow: str | None = None,
    simulated: bool | None = None,
) -> Query:
    """A :class:`Query` from CLI-style arguments."""
    t = now()
    s = parse_when(since, t, option="--since") if since else None
    u = parse_when(until, t, option="--until") if until else None
    if s is not None and u is not None and u <= s:
        raise ConfigurationError(
            f"--until ({u.isoformat()}) is not after --since ({s.isoformat()})",
            key="--until",
            hint="give an --until later than --since",
        )
    return Query(
        since_us=to_us(s) if s else None,
        until_us=to_us(u) if u else None,
        agent=agent,
        model=model,
        workflow=workflow,
        simulated=simulated,
    )
