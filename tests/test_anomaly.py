"""The anomaly detector: exact statistics, table tests per kind, and properties (steady streams
raise nothing, shifts are caught within a bounded number of samples, nothing below the minimum
sample counts)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from claude_force.clock import VirtualClock, utcnow
from claude_force.monitoring._stats import (
    RateWindow,
    ShiftWindow,
    log10_lower_tail,
    log10_upper_tail,
    lower_critical,
    mad_sorted,
    median_sorted,
    upper_critical,
)
from claude_force.monitoring.anomaly import (
    ANY,
    Anomaly,
    AnomalyDetector,
    Sample,
    detect,
    evaluate_rate,
    evaluate_shift,
)
from claude_force.monitoring.settings import AnomalySettings, RateSettings, ShiftSettings

T0 = datetime(2026, 11, 1, tzinfo=UTC)
OFF = ShiftSettings(enabled=False)
RATE_OFF = RateSettings(enabled=False)


def only(kind: str, **changes: object) -> AnomalySettings:
    """Settings with one detector on (its defaults changed by ``changes``), one scope."""
    defaults = AnomalySettings()
    parts: dict[str, object] = {
        "latency": OFF,
        "cost": OFF,
        "error_rate": RATE_OFF,
        "cache_hit_rate": RATE_OFF,
    }
    chosen = getattr(defaults, kind)
    parts[kind] = type(chosen).model_validate({**chosen.model_dump(), **changes})
    return AnomalySettings(scopes=["agent_model"], **parts)  # type: ignore[arg-type]


def sample(
    i: int,
    *,
    ms: float = 1000.0,
    ok: bool = True,
    cost: float | None = 0.01,
    cached: bool = False,
    agent: str = "a",
    model: str = "m",
    simulated: bool = False,
) -> Sample:
    return Sample(T0 + timedelta(seconds=i), agent, model, ok, ms, cost, cached, simulated)


class Feed:
    """A detector with a clock that follows the samples fed to it."""

    def __init__(self, s: AnomalySettings) -> None:
        self.clock = VirtualClock(T0)
        self.detector = AnomalyDetector(s, clock=self.clock)
        self.raised: list[tuple[int, Anomaly]] = []
        self.resolved: list[tuple[int, Anomaly]] = []
        self.i = 0

    def __call__(self, samples: Sequence[Sample] | Iterator[Sample]) -> Feed:
        for s in samples:
            self.clock.advance_to(s.at.timestamp())
            for change in self.detector.observe(s):
                target = self.raised if change.change == "raised" else self.resolved
                target.append((self.i, change.anomaly))
            self.i += 1
        return self


# --- statistics ------------------------------------------------------------------------------


@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=60))
def test_median_and_mad_match_the_definitions(values: list[float]) -> None:
    s = sorted(values)
    centre = median_sorted(s)
    assert centre == statistics.median(values)
    assert mad_sorted(s, centre) == pytest.approx(
        statistics.median(abs(v - centre) for v in values), abs=1e-6
    )


def _exact_upper(k: int, n: int, p: Fraction) -> Fraction:
    return sum(
        (Fraction(math.comb(n, i)) * p**i * (1 - p) ** (n - i) for i in range(k, n + 1)),
        Fraction(0),
    )


@given(
    n=st.integers(1, 40),
    data=st.data(),
    p=st.fractions(Fraction(1, 100), Fraction(99, 100)),
)
def test_binomial_tails_are_exact(n: int, data: st.DataObject, p: Fraction) -> None:
    k = data.draw(st.integers(0, n))
    upper = _exact_upper(k, n, p)
    lower = 1 - _exact_upper(k + 1, n, p)
    assert 10 ** log10_upper_tail(k, n, float(p)) == pytest.approx(float(upper), rel=1e-9)
    assert 10 ** log10_lower_tail(k, n, float(p)) == pytest.approx(float(lower), rel=1e-9)


def test_tail_edges_and_critical_counts() -> None:
    assert log10_upper_tail(0, 10, 0.3) == 0.0
    assert log10_upper_tail(11, 10, 0.3) == -math.inf
    assert log10_lower_tail(10, 10, 0.3) == 0.0
    assert log10_lower_tail(-1, 10, 0.3) == -math.inf
    k = upper_critical(30, 0.05, 4.0)
    assert -log10_upper_tail(k, 30, 0.05) >= 4.0 > -log10_upper_tail(k - 1, 30, 0.05)
    j = lower_critical(30, 0.6, 4.0)
    assert -log10_lower_tail(j, 30, 0.6) >= 4.0 > -log10_lower_tail(j + 1, 30, 0.6)
    assert upper_critical(3, 0.5, 10.0) == 4  # never significant with 3 samples
    assert lower_critical(3, 0.5, 10.0) == -1


def test_windows_move_values_from_recent_to_baseline() -> None:
    w = ShiftWindow(baseline=3, recent=2)
    for v in (5.0, 1.0, 4.0, 2.0, 3.0, 9.0):
        w.add(v)
    # recent: 3, 9; baseline: the three before (1, 4, 2) — 5 was pushed out
    assert (w.recent_count, w.baseline_count) == (2, 3)
    assert w.recent_median() == 6.0
    assert w.baseline_median() == 2.0
    assert w.baseline_mad() == 1.0
    r = RateWindow(baseline=2, recent=2)
    for hit in (True, True, False, True, False):
        r.add(hit)
    assert (r.recent_hits, r.recent_count, r.base_hits, r.baseline_count) == (1, 2, 1, 2)


# --- table tests: one row per situation -------------------------------------------------------


def latency_stream(base: float, n: int, start: int = 0) -> list[Sample]:
    wiggle = (0.98, 1.02, 1.0, 0.99, 1.01)
    return [sample(start + i, ms=base * wiggle[i % 5]) for i in range(n)]


CASES: list[tuple[str, AnomalySettings, list[Sample], list[str], int | None]] = [
    # (name, settings, stream, expected kinds raised, index of the first raise or None)
    (
        "latency tripled",
        only("latency"),
        latency_stream(2000, 60) + latency_stream(6000, 10, 60),
        ["latency"],
        63,
    ),
    (
        "latency halved is not an anomaly",
        only("latency"),
        latency_stream(2000, 60) + latency_stream(1000, 20, 60),
        [],
        None,
    ),
    (
        "latency rise below min_increase",
        only("latency", min_increase=5000.0),
        latency_stream(2000, 60) + latency_stream(6000, 20, 60),
        [],
        None,
    ),
    (
        "latency: too few baseline samples",
        only("latency", min_samples=40),
        latency_stream(2000, 30) + latency_stream(20000, 5, 30),
        [],
        None,
    ),
    (
        "cost per execution x10",
        only("cost"),
        [sample(i, cost=0.001 * (1 + (i % 3) / 50)) for i in range(40)]
        + [sample(40 + i, cost=0.01) for i in range(10)],
        ["cost"],
        43,
    ),
    (
        "cached answers do not count for cost or latency",
        AnomalySettings(scopes=["agent_model"], error_rate=RATE_OFF, cache_hit_rate=RATE_OFF),
        latency_stream(2000, 40)
        + [sample(40 + i, ms=1.0, cost=0.0, cached=True) for i in range(30)],
        [],
        None,
    ),
    (
        "error rate 5% then 60%",
        only("error_rate"),
        [sample(i, ok=i % 20 != 0) for i in range(200)]
        + [sample(200 + i, ok=i % 5 < 2) for i in range(40)],
        ["error_rate"],
        None,
    ),
    (
        "every execution failing from the start (no baseline)",
        only("error_rate"),
        [sample(i, ok=False) for i in range(12)],
        ["error_rate"],
        9,
    ),
    (
        "failing executions below min_samples",
        only("error_rate"),
        [sample(i, ok=False) for i in range(9)],
        [],
        None,
    ),
    (
        "cache hit rate 60% then 0%",
        only("cache_hit_rate"),
        [sample(i, cached=i % 5 < 3) for i in range(200)]
        + [sample(200 + i, cached=False) for i in range(40)],
        ["cache_hit_rate"],
        None,
    ),
    (
        "cache hit rate rising is fine",
        only("cache_hit_rate"),
        [sample(i, cached=i % 5 == 0) for i in range(200)]
        + [sample(200 + i, cached=True) for i in range(40)],
        [],
        None,
    ),
]


@pytest.mark.parametrize(
    ("settings_", "stream", "kinds", "first"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_table(
    settings_: AnomalySettings, stream: list[Sample], kinds: list[str], first: int | None
) -> None:
    feed = Feed(settings_)(stream)
    assert sorted({a.kind for _, a in feed.raised}) == kinds
    if first is not None:
        assert feed.raised[0][0] == first


def test_a_raised_anomaly_describes_itself() -> None:
    feed = Feed(only("latency"))(latency_stream(2000, 60) + latency_stream(6000, 10, 60))
    _, a = feed.raised[0]
    assert (a.kind, a.metric, a.agent, a.model, a.rule) == (
        "latency",
        "duration_ms",
        "a",
        "m",
        "robust_z",
    )
    assert a.active and a.resolved_at is None
    assert a.observed == pytest.approx(5880)  # 4 of the 7 recent values have tripled
    assert a.baseline == pytest.approx(2000, rel=0.03)
    assert a.expected_low < a.baseline < a.expected_high < a.observed
    assert a.score >= a.threshold == 4.0
    assert a.since == T0 + timedelta(seconds=63)
    assert a.severity == "critical"  # a tripling is far past twice the threshold
    text = a.message()
    assert text.startswith(
        "latency anomaly for a on m: median duration 5.88 s over the last 7 executions, "
        "expected ≤ 2.66 s (baseline 2.00 s); robust z "
    )
    assert text.endswith(" ≥ 4")
    d = a.to_dict()
    assert d["kind"] == "latency" and d["active"] is True and d["message"] == text
    assert d["since"] == a.since.isoformat()


def test_anomaly_resolves_after_clear_after_normal_evaluations() -> None:
    s = only("latency", baseline=20, min_samples=10)
    s = s.model_copy(update={"clear_after": 2})
    feed = Feed(s)(latency_stream(2000, 30) + latency_stream(8000, 6, 30))
    assert len(feed.raised) == 1
    assert feed.resolved == []
    feed(latency_stream(2000, 10, 36))  # back to normal
    assert len(feed.resolved) == 1
    _, done = feed.resolved[0]
    assert done.resolution == "recovered" and not done.active
    assert feed.detector.active() == []
    assert feed.detector.history()[0].id == done.id


def test_stale_anomalies_are_resolved_by_the_clock() -> None:
    feed = Feed(only("error_rate"))([sample(i, ok=False) for i in range(12)])
    det = feed.detector
    assert len(det.active()) == 1
    feed.clock.set(T0 + timedelta(minutes=30))
    assert det.expire() == []
    feed.clock.set(T0 + timedelta(minutes=61))
    (change,) = det.expire()
    assert change.change == "resolved" and change.anomaly.resolution == "stale"
    assert change.anomaly.resolved_at == utcnow(feed.clock)
    assert det.active() == []


def test_scopes_label_anomalies_and_keep_simulated_apart() -> None:
    s = AnomalySettings(
        scopes=["agent_model", "model", "agent", "all"],
        latency=OFF,
        cost=OFF,
        cache_hit_rate=RATE_OFF,
    )
    stream = [sample(i, ok=False, agent=("x", "y")[i % 2]) for i in range(24)]
    feed = Feed(s)(stream)
    scopes = {(a.agent, a.model) for _, a in feed.raised}
    assert scopes == {("x", "m"), ("y", "m"), (ANY, "m"), ("x", ANY), ("y", ANY), (ANY, ANY)}
    assert {a.scope for _, a in feed.raised} >= {"all executions", "model m", "agent x", "x on m"}
    sim = Feed(s)([sample(i, ok=False, simulated=True) for i in range(12)])
    assert {a.simulated for _, a in sim.raised} == {True}


def test_history_window_and_bound() -> None:
    s = only("error_rate").model_copy(update={"history": 2, "stale_after_minutes": 1.0})
    feed = Feed(s)
    for round_ in range(3):  # three separate outages, each going stale
        start = round_ * 1000
        feed([sample(start + i, ok=False, agent=f"a{round_}") for i in range(12)])
    det = feed.detector
    assert len(det.history()) == 2  # oldest resolved one forgotten
    newest = det.history()[0]
    assert det.history(since=newest.since) == [newest]
    assert det.history(until=newest.since) == [det.history()[1]]


def test_least_recently_used_streams_are_forgotten() -> None:
    s = only("error_rate").model_copy(update={"max_streams": 2})
    feed = Feed(s)([sample(i, ok=False, agent="a") for i in range(12)])
    assert len(feed.detector.active()) == 1
    feed([sample(100, agent="b"), sample(101, agent="c")])  # evicts "a"
    assert feed.detector.active() == []
    assert feed.resolved[0][1].resolution == "stale"


def test_disabled_detector_and_replay() -> None:
    off = AnomalyDetector(AnomalySettings(enabled=False))
    assert off.observe(sample(0, ok=False)) == []
    assert off.samples_seen == 0
    replay = detect([sample(i, ok=False) for i in range(12)], only("error_rate"))
    assert [a.kind for a in replay.history()] == ["error_rate"]
    assert replay.samples_seen == 12


def test_samples_from_events_and_records() -> None:
    from decimal import Decimal

    from claude_force.events import ExecutionFinished
    from claude_force.messages import Usage
    from claude_force.metrics.record import ExecutionRecord

    event = ExecutionFinished(
        "e1", "a", "secret task", "m", "p", True, T0, 1500.0, 0.0, Usage(1, 2),
        Decimal("0.25"), False, True,
    )  # fmt: skip
    s = Sample.from_event(event)
    assert s.at == T0 + timedelta(milliseconds=1500)
    assert (s.cost_usd, s.simulated, s.success) == (0.25, True, True)
    rec = ExecutionRecord.from_event(event)
    r = Sample.from_record(rec)
    assert r is not None and r.at == s.at and r.cost_usd == 0.25
    retry = ExecutionRecord("e1", "a", "m", "p", 0, 0, False, attempt=1, final=False)
    assert Sample.from_record(retry) is None


def test_settings_refuse_inconsistent_sizes() -> None:
    with pytest.raises(ValueError, match="min_samples"):
        ShiftSettings(baseline=10, min_samples=20)
    with pytest.raises(ValueError, match="min_samples"):
        RateSettings(recent=10, min_samples=20)
    with pytest.raises(ValueError, match="min_baseline"):
        RateSettings(baseline=10, min_baseline=20)


def test_evaluations_need_enough_samples() -> None:
    w = ShiftWindow(100, 7)
    for _ in range(26):
        w.add(1.0)
    assert evaluate_shift(w, ShiftSettings()) is None  # 19 baseline values < 20
    w.add(1.0)
    f = evaluate_shift(w, ShiftSettings())
    assert f is not None and not f.anomalous and math.isnan(f.score)  # cheap path
    r = RateWindow(200, 30)
    for _ in range(9):
        r.add(False)
    assert evaluate_rate(r, RateSettings(), rising=False) is None
    r.add(False)
    assert evaluate_rate(r, RateSettings(), rising=False) is None  # no baseline, no level
    level = evaluate_rate(r, RateSettings(absolute=0.5), rising=True)
    assert level is not None and level.rule == "absolute" and not level.anomalous


def test_absolute_level_applies_with_a_baseline_too() -> None:
    s = RateSettings(absolute=0.5, min_change=0.9)  # min_change rules the binomial test out
    r = RateWindow(200, 30)
    for i in range(60):
        r.add(i % 2 == 0)  # a steady 50% error rate
    f = evaluate_rate(r, s, rising=True)
    assert f is not None and f.anomalous and f.rule == "absolute" and f.observed == 0.5


# --- properties --------------------------------------------------------------------------------

PROPS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)


@PROPS
@given(
    base=st.floats(1.0, 1e5),
    offsets=st.lists(st.floats(-0.13, 0.13), min_size=1, max_size=300),
)
def test_steady_latency_and_cost_never_alert_in_any_order(
    base: float, offsets: list[float]
) -> None:
    """Values within ±13% (log) of a constant, in any order hypothesis finds: never an anomaly
    (the spread floor keeps the score below the threshold whatever the MAD)."""
    s = AnomalySettings(
        scopes=["agent_model"],
        latency=ShiftSettings(min_increase=0.0),
        cost=ShiftSettings(min_increase=0.0),
    )
    stream = [
        sample(i, ms=base * math.exp(u), cost=base * 1e-6 * math.exp(-u))
        for i, u in enumerate(offsets)
    ]
    assert Feed(s)(stream).raised == []


def balanced(n: int, rate: float, phase: float) -> list[bool]:
    """A perfectly steady yes/no stream: every window of k items holds ⌊k·rate⌋ or ⌈k·rate⌉."""
    return [math.floor((i + 1) * rate + phase) > math.floor(i * rate + phase) for i in range(n)]


@PROPS
@given(
    error_rate=st.floats(0.0, 0.4),
    hit_rate=st.floats(0.0, 1.0),
    phase=st.floats(0.0, 0.999),
    n=st.integers(1, 600),
)
def test_steady_error_and_hit_rates_never_alert(
    error_rate: float, hit_rate: float, phase: float, n: int
) -> None:
    s = AnomalySettings(scopes=["agent_model"], latency=OFF, cost=OFF)
    failures = balanced(n, error_rate, phase)
    hits = iter(balanced(n, hit_rate, 1 - phase))  # over successful executions (hit rate's base)
    stream = [sample(i, ok=not f, cached=not f and next(hits)) for i, f in enumerate(failures)]
    assert Feed(s)(stream).raised == []


@PROPS
@given(
    base=st.floats(10.0, 1e5),
    factor=st.floats(3.0, 100.0),
    warm=st.integers(27, 150),
    offsets=st.lists(st.floats(-0.1, 0.1), min_size=200, max_size=200),
)
def test_a_latency_shift_is_caught_within_four_samples(
    base: float, factor: float, warm: int, offsets: list[float]
) -> None:
    """After at least ``min_samples + recent`` steady values (±10%), a rise by 3× or more is
    raised once the recent median moves: within ⌈recent/2⌉ = 4 samples."""
    s = only("latency", min_increase=0.0)
    before = [sample(i, ms=base * math.exp(offsets[i])) for i in range(warm)]
    after = [sample(warm + i, ms=base * factor * math.exp(offsets[warm + i])) for i in range(4)]
    feed = Feed(s)(before)
    assert feed.raised == []
    feed(after)
    assert [a.kind for _, a in feed.raised] == ["latency"]
    assert feed.raised[0][0] < warm + 4


@PROPS
@given(
    base_rate=st.floats(0.0, 0.1),
    phase=st.floats(0.0, 0.999),
    warm=st.integers(60, 300),
)
def test_an_error_spike_is_caught_within_a_window(
    base_rate: float, phase: float, warm: int
) -> None:
    """From a steady ≤10% error rate to every execution failing: raised within 15 executions
    (the absolute 50% level is reached by then at the latest)."""
    s = only("error_rate", absolute=0.5)
    steady = balanced(warm, base_rate, phase)
    feed = Feed(s)([sample(i, ok=not f) for i, f in enumerate(steady)])
    assert feed.raised == []
    feed([sample(warm + i, ok=False) for i in range(15)])
    assert [a.kind for _, a in feed.raised] == ["error_rate"]


@PROPS
@given(
    base_rate=st.floats(0.5, 1.0),
    phase=st.floats(0.0, 0.999),
    warm=st.integers(60, 300),
)
def test_a_cache_hit_rate_drop_is_caught_within_a_window(
    base_rate: float, phase: float, warm: int
) -> None:
    """From a steady ≥50% hit rate to no hits at all: raised within the 30-execution window."""
    s = only("cache_hit_rate")
    steady = balanced(warm, base_rate, phase)
    feed = Feed(s)([sample(i, cached=h) for i, h in enumerate(steady)])
    assert feed.raised == []
    feed([sample(warm + i, cached=False) for i in range(30)])
    assert [a.kind for _, a in feed.raised] == ["cache_hit_rate"]


@PROPS
@given(
    outcomes=st.lists(
        st.tuples(st.booleans(), st.booleans(), st.floats(0.001, 1e6), st.floats(1e-6, 10.0)),
        max_size=9,
    )
)
def test_nothing_is_raised_below_the_minimum_sample_counts(
    outcomes: list[tuple[bool, bool, float, float]],
) -> None:
    """Fewer executions than every detector's minimum: never an anomaly, whatever they are."""
    stream = [
        sample(i, ok=ok, cached=cached and ok, ms=ms, cost=cost)
        for i, (ok, cached, ms, cost) in enumerate(outcomes)
    ]
    assert Feed(AnomalySettings())(stream).raised == []
