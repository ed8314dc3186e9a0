"""The latency histogram's stated error, analytics figures, exports and time arguments."""

from __future__ import annotations

import csv
import io
import json
import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from _metrics_data import T0, make_records
from claude_force.errors import ConfigurationError
from claude_force.metrics.analytics import Analytics, make_query, parse_when
from claude_force.metrics.backend import Query
from claude_force.metrics.histogram import (
    GAMMA,
    RELATIVE_ACCURACY,
    ZERO_INDEX,
    LogHistogram,
    bucket_index,
    bucket_value,
    nearest_rank,
)
from claude_force.metrics.memory_backend import MemoryMetricsStore
from claude_force.metrics.record import from_pico, to_pico, to_us

durations = st.lists(
    st.floats(min_value=0, max_value=3_600_000, allow_nan=False), min_size=1, max_size=300
)


@settings(max_examples=200, deadline=None)
@given(values=durations, q=st.sampled_from([0.01, 0.5, 0.9, 0.95, 0.99, 1.0]))
def test_every_quantile_is_within_the_stated_relative_error(values: list[float], q: float) -> None:
    exact = sorted(values)[nearest_rank(len(values), q) - 1]
    got = LogHistogram.of(values).quantile(q)
    assert got is not None
    if exact <= 0.001:
        assert got == 0.0  # the zero bucket: durations too short to measure
    else:
        assert abs(got - exact) <= RELATIVE_ACCURACY * exact * (1 + 1e-9)


@settings(max_examples=100, deadline=None)
@given(a=durations, b=durations)
def test_merging_equals_recording_everything_in_one(a: list[float], b: list[float]) -> None:
    h = LogHistogram.of(a)
    h.merge(LogHistogram.of(b))
    assert h == LogHistogram.of(a + b)
    assert h.count == len(a) + len(b)


def test_bucket_edges() -> None:
    assert bucket_index(0) == bucket_index(0.001) == ZERO_INDEX
    assert bucket_value(ZERO_INDEX) == 0.0
    i = bucket_index(100.0)
    assert GAMMA ** (i - 1) < 100.0 <= GAMMA**i * (1 + 1e-12)
    assert LogHistogram().quantile(0.5) is None
    with pytest.raises(ValueError):
        nearest_rank(10, 0)
    assert "LogHistogram" in repr(LogHistogram.of([1.0]))


def test_money_is_exact_in_pico_dollars() -> None:
    assert to_pico(Decimal("0.0000000000005")) == 0  # half-even below a pico-dollar
    assert to_pico(Decimal("0.0000000000015")) == 2
    assert to_pico(None) is None
    assert from_pico(to_pico(Decimal("12.345678901234")) or 0) == Decimal("12.345678901234")


def _analytics(n: int = 400) -> tuple[Analytics, list]:  # type: ignore[type-arg]
    store = MemoryMetricsStore()
    recs = make_records(n, days=3)
    store.upsert(recs)
    return Analytics(store), recs


def test_summary_figures() -> None:
    a, recs = _analytics()
    s = a.summary()
    finals = [r for r in recs if r.final]
    assert s.executions == len(finals)
    assert s.successes == sum(r.success for r in finals)
    assert s.success_rate == pytest.approx(s.successes / s.executions)
    assert s.cache_hit_rate == pytest.approx(sum(r.cached for r in finals) / len(finals))
    assert s.total_tokens == sum(r.total_tokens for r in recs)
    assert s.avg_duration_ms == pytest.approx(
        sum(r.duration_us for r in finals) / len(finals) / 1000
    )
    d = s.to_dict()
    assert Decimal(d["cost_usd_exact"]) * 10**12 == sum(r.cost_pusd or 0 for r in recs)
    assert d["failures"] == s.executions - s.successes and d["retries"] == s.retries > 0
    json.dumps(d)  # JSON-ready


def test_groups_are_sorted_by_cost_and_name_the_no_workflow_group() -> None:
    a, _ = _analytics()
    groups = a.by_agent()
    costs = [g.stats.cost_usd for g in groups]
    assert costs == sorted(costs, reverse=True)
    assert "(none)" in {g.name for g in a.by_workflow()}
    assert {g.name for g in a.by_model()} >= {"claude-sonnet-5-5", "claude-x-9"}
    assert groups[0].to_dict("agent")["agent"] == groups[0].name


def test_trends_cover_every_execution() -> None:
    a, recs = _analytics()
    days = a.trends(interval="day")
    hours = a.trends(interval="hour")
    assert len(days) == 3 and all(p.resolution == "day" for p in days)
    assert len(hours) > len(days) and all(p.resolution == "hour" for p in hours)
    assert sum(p.stats.executions for p in hours) == sum(r.final for r in recs)
    assert days[0].to_dict()["start"] == T0.isoformat()


def test_export_json_and_csv() -> None:
    a, recs = _analytics(50)
    a.store.rollup(to_us(T0 + timedelta(days=1)))  # type: ignore[attr-defined]
    doc = json.loads(a.export(fmt="json"))
    assert len(doc["executions"]) == sum(
        r.started_us >= to_us(T0 + timedelta(days=1)) for r in recs
    )
    assert doc["daily"] and {"day", "agent", "model", "outcome", "p95_ms"} <= set(doc["daily"][0])
    rows = list(csv.DictReader(io.StringIO(a.export(fmt="csv"))))
    kinds = {r["kind"] for r in rows}
    assert kinds == {"execution", "daily"}
    assert len(rows) == len(doc["executions"]) + len(doc["daily"])
    with pytest.raises(ConfigurationError, match="format"):
        a.export(fmt="xml")  # type: ignore[arg-type]
    empty = Analytics(MemoryMetricsStore())
    assert list(csv.DictReader(io.StringIO(empty.export(fmt="csv")))) == []


NOW = datetime(2026, 11, 20, 15, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7d", NOW - timedelta(days=7)),
        ("24h", NOW - timedelta(hours=24)),
        ("30m", NOW - timedelta(minutes=30)),
        ("2w", NOW - timedelta(weeks=2)),
        ("90s", NOW - timedelta(seconds=90)),
        ("today", datetime(2026, 11, 20, tzinfo=UTC)),
        ("yesterday", datetime(2026, 11, 19, tzinfo=UTC)),
        ("now", NOW),
        ("2026-11-01", datetime(2026, 11, 1, tzinfo=UTC)),
        ("2026-11-01T12:00", datetime(2026, 11, 1, 12, tzinfo=UTC)),
        ("2026-11-01T12:00Z", datetime(2026, 11, 1, 12, tzinfo=UTC)),
    ],
)
def test_time_arguments(text: str, expected: datetime) -> None:
    assert parse_when(text, NOW) == expected


def test_bad_time_arguments_name_the_option() -> None:
    with pytest.raises(ConfigurationError, match="--since"):
        parse_when("last tuesday", NOW)
    with pytest.raises(ConfigurationError, match="--until"):
        make_query("1d", "2d", now=lambda: NOW)
    q = make_query("1d", "now", now=lambda: NOW, agent="x", simulated=False)
    assert q == Query(
        since_us=to_us(NOW - timedelta(days=1)), until_us=to_us(NOW), agent="x", simulated=False
    )
    assert math.isclose((q.until_us - q.since_us) / 3.6e9, 24)  # type: ignore[operator]


def test_public_names_of_the_metrics_package() -> None:
    import claude_force.metrics as metrics

    assert dir(metrics) == sorted(metrics.__all__)
    for name in metrics.__all__:
        assert getattr(metrics, name) is not None
    assert metrics.RELATIVE_ACCURACY == RELATIVE_ACCURACY
    with pytest.raises(AttributeError):
        metrics.NotAThing  # noqa: B018
