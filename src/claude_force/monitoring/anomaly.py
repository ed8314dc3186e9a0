"""Anomaly detection over the stream of finished executions — pure, with an injected clock.

Each finished execution becomes a :class:`Sample`. The detector keeps, per *scope* (an agent and
model, a model, an agent, or everything — see ``anomalies.scopes``), four small rolling windows
and judges the newest figures against the ones before them:

* **latency** (successful, uncached executions) and **cost per execution** (those with a known,
  non-zero cost): the median of the last ``recent`` values against the median and MAD of the
  ``baseline`` values before them, as a robust z-score in log space (latencies and costs are
  roughly log-normal, so a ratio is what matters). Only rises alert.
* **error rate** (every execution) and **cache hit rate** (successful executions): the failures
  (or hits) among the last ``recent`` executions against the baseline rate, with an exact one-sided
  binomial test; the score is −log10 of its p-value. Error rate rises and hit-rate drops alert;
  an error rate at or above ``error_rate.absolute`` alerts even without a baseline.

Nothing is judged below the minimum sample counts. An anomaly is *raised* once, updated while it
lasts, and *resolved* after ``clear_after`` consecutive normal evaluations, or as *stale* when its
scope sees no execution for ``stale_after_minutes`` (by the injected clock).
"""

from __future__ import annotations

import itertools
import math
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from .._fields import fields_dict
from ..clock import WALL_CLOCK, Clock, VirtualClock, utcnow
from ._stats import (
    MAD_SCALE,
    RateWindow,
    ShiftWindow,
    laplace_rate,
    log10_lower_tail,
    log10_upper_tail,
    lower_critical,
    upper_critical,
)
from .settings import AnomalySettings, RateSettings, ShiftSettings

if TYPE_CHECKING:
    from ..events import ExecutionFinished
    from ..metrics.record import ExecutionRecord

AnomalyKind = Literal["latency", "error_rate", "cost", "cache_hit_rate"]
Rule = Literal["robust_z", "binomial", "absolute"]
Resolution = Literal["recovered", "stale"]
ChangeKind = Literal["raised", "resolved"]

KINDS: tuple[AnomalyKind, ...] = ("latency", "error_rate", "cost", "cache_hit_rate")
METRIC: dict[AnomalyKind, str] = {
    "latency": "duration_ms",
    "error_rate": "error_rate",
    "cost": "cost_usd",
    "cache_hit_rate": "cache_hit_rate",
}
ANY = "*"
_MIN_MS = 1e-3  # durations are floored at 1 µs before the log is taken
_MIN_USD = 1e-12
_SE_MEDIAN = math.sqrt(math.pi / 2)  # standard error of a median of k normal values: σ·√(π/2)/√k


@dataclass(frozen=True, slots=True)
class Sample:
    """What the detectors need of one finished execution."""

    at: datetime  # when it finished
    agent: str
    model: str
    success: bool
    duration_ms: float
    cost_usd: float | None = None
    cached: bool = False
    simulated: bool = False

    @classmethod
    def from_event(cls, event: ExecutionFinished) -> Sample:
        return cls(
            at=event.started_at + timedelta(milliseconds=event.duration_ms),
            agent=event.agent,
            model=event.model,
            success=event.success,
            duration_ms=event.duration_ms,
            cost_usd=None if event.cost_usd is None else float(event.cost_usd),
            cached=event.cached,
            simulated=event.simulated,
        )

    @classmethod
    def from_record(cls, rec: ExecutionRecord) -> Sample | None:
        """The sample of a stored record; ``None`` for an earlier (retried) attempt."""
        if not rec.final:
            return None
        cost = rec.cost_usd
        return cls(
            at=rec.started_at + timedelta(microseconds=rec.duration_us),
            agent=rec.agent,
            model=rec.model,
            success=rec.success,
            duration_ms=rec.duration_ms,
            cost_usd=None if cost is None else float(cost),
            cached=rec.cached,
            simulated=rec.simulated,
        )


@dataclass(frozen=True, slots=True)
class Finding:
    """One evaluation of one window: the recent figure, the expected range and the verdict."""

    anomalous: bool
    observed: float
    baseline: float
    expected_low: float
    expected_high: float
    score: float
    threshold: float
    rule: Rule
    samples: int
    baseline_samples: int


@dataclass(frozen=True, slots=True)
class Anomaly:
    """A raised anomaly: what, where, how far outside the expected range, and since when.

    ``agent``/``model`` are ``"*"`` when the scope spans them. ``observed`` is the recent median
    (latency in ms, cost in USD) or the recent rate (0–1); ``baseline`` the baseline median or
    rate; ``expected_low``–``expected_high`` the range the recent figure was expected in.
    ``score`` compares with ``threshold`` according to ``rule``; ``peak_score`` is the highest
    score while active.
    """

    id: str
    kind: AnomalyKind
    metric: str
    agent: str
    model: str
    simulated: bool
    observed: float
    baseline: float
    expected_low: float
    expected_high: float
    score: float
    peak_score: float
    threshold: float
    rule: Rule
    samples: int
    baseline_samples: int
    since: datetime
    last_seen: datetime
    resolved_at: datetime | None = None
    resolution: Resolution | None = None

    @property
    def active(self) -> bool:
        return self.resolved_at is None

    @property
    def severity(self) -> Literal["warning", "critical"]:
        """``critical`` when the peak score reached twice the threshold."""
        return "critical" if self.peak_score >= 2 * self.threshold else "warning"

    @property
    def scope(self) -> str:
        if self.agent == ANY and self.model == ANY:
            return "all executions"
        if self.agent == ANY:
            return f"model {self.model}"
        if self.model == ANY:
            return f"agent {self.agent}"
        return f"{self.agent} on {self.model}"

    def observed_text(self) -> str:
        """The recent figure in its unit, e.g. ``6.12 s`` or ``45%``."""
        return _FORMAT[self.kind](self.observed)

    def expected_text(self) -> str:
        """The side of the expected range that was crossed, e.g. ``≤ 2.66 s``."""
        fmt = _FORMAT[self.kind]
        if self.kind == "cache_hit_rate":
            return f"≥ {fmt(self.expected_low)}"
        return f"≤ {fmt(self.expected_high)}"

    def message(self) -> str:
        """One line for people, e.g. for the CLI and the dashboard."""
        fmt = _FORMAT[self.kind]
        if self.kind in ("latency", "cost"):
            what = f"median {self.metric.split('_')[0]} {fmt(self.observed)}"
            expected = f"expected ≤ {fmt(self.expected_high)} (baseline {fmt(self.baseline)})"
            over = f"over the last {self.samples}"
        elif self.kind == "error_rate":
            what = f"error rate {fmt(self.observed)}"
            expected = f"expected ≤ {fmt(self.expected_high)} (baseline {fmt(self.baseline)})"
            over = f"over the last {self.samples}"
        else:
            what = f"cache hit rate {fmt(self.observed)}"
            expected = f"expected ≥ {fmt(self.expected_low)} (baseline {fmt(self.baseline)})"
            over = f"over the last {self.samples} successful"
        rule = {"robust_z": "robust z", "binomial": "−log10 p", "absolute": "level"}[self.rule]
        return (
            f"{self.kind.replace('_', ' ')} anomaly for {self.scope}: {what} {over} executions, "
            f"{expected}; {rule} {self.score:.3g} ≥ {self.threshold:g}"
        )

    def to_dict(self) -> dict[str, Any]:
        figures = ("observed", "baseline", "expected_low", "expected_high", "score", "peak_score")
        finite: dict[str, Any] = {f: _finite(getattr(self, f)) for f in figures}  # no inf/nan
        return fields_dict(
            self,
            **finite,
            since=self.since.isoformat(),
            last_seen=self.last_seen.isoformat(),
            resolved_at=None if self.resolved_at is None else self.resolved_at.isoformat(),
            active=self.active,
            severity=self.severity,
            message=self.message(),
        )


@dataclass(frozen=True, slots=True)
class AnomalyChange:
    """An anomaly was raised or resolved (what the live stream announces)."""

    change: ChangeKind
    anomaly: Anomaly


def _finite(x: float) -> float | None:
    return round(x, 9) if math.isfinite(x) else None


def _ms(x: float) -> str:
    return f"{x / 1000:.2f} s" if x >= 1000 else f"{x:.1f} ms"


def _usd(x: float) -> str:
    return f"${x:.4f}" if x >= 0.01 else f"${x:.6f}"


def _pct(x: float) -> str:
    return f"{x:.0%}"


_FORMAT: dict[AnomalyKind, Callable[[float], str]] = {
    "latency": _ms,
    "cost": _usd,
    "error_rate": _pct,
    "cache_hit_rate": _pct,
}


# --- evaluations (pure functions of a window and its settings) ---------------------------------


def evaluate_shift(window: ShiftWindow, s: ShiftSettings) -> Finding | None:
    """Robust z-score (log space) of the recent median against the baseline; rises only.

    ``σ = max(1.4826 · MAD, min_spread)`` estimates the spread of single values; the recent
    median of ``k`` values has the standard error ``σ · √(π/2) / √k``, and the score is the
    distance between the medians in those units. Cheap checks come first: a recent median
    below the baseline, or too small a rise to pass even at the spread floor (or below
    ``min_increase``), is normal without computing the MAD (the score is then NaN: not computed).
    """
    if window.baseline_count < s.min_samples or window.recent_count < window.recent_size:
        return None
    k = window.recent_count
    centre = window.baseline_median()
    recent = window.recent_median()
    observed, baseline = math.exp(recent), math.exp(centre)
    se_factor = _SE_MEDIAN / math.sqrt(k)
    floor_se = s.min_spread * se_factor
    too_small = recent - centre < s.threshold * floor_se or observed - baseline < s.min_increase
    if too_small:
        return Finding(
            False, observed, baseline, math.nan, math.nan, math.nan, s.threshold, "robust_z",
            k, window.baseline_count,
        )  # fmt: skip
    sigma = max(MAD_SCALE * window.baseline_mad(), s.min_spread)
    se = sigma * se_factor
    score = (recent - centre) / se if se > 0 else (math.inf if recent > centre else 0.0)
    return Finding(
        anomalous=not too_small and score >= s.threshold,
        observed=observed,
        baseline=baseline,
        expected_low=math.exp(centre - s.threshold * se),
        expected_high=max(math.exp(centre + s.threshold * se), baseline + s.min_increase),
        score=score,
        threshold=s.threshold,
        rule="robust_z",
        samples=k,
        baseline_samples=window.baseline_count,
    )


def evaluate_rate(window: RateWindow, s: RateSettings, *, rising: bool) -> Finding | None:
    """Binomial test of the recent hits against the baseline rate (``rising``: errors up;
    else: hit rate down), plus the ``absolute`` level for rising rates.

    The change is checked first: when the recent rate is not ``min_change`` away from the
    baseline, the window is normal and the test is not computed (score NaN).
    """
    n, k = window.recent_count, window.recent_hits
    if n < s.min_samples:
        return None
    observed = k / n
    nb, kb = window.baseline_count, window.base_hits
    level = s.absolute if rising else None
    if level is not None and observed >= level and nb < s.min_baseline:
        return Finding(True, observed, math.nan, 0.0, level, observed, level, "absolute", n, nb)
    if nb < s.min_baseline:
        if level is None:
            return None
        return Finding(False, observed, math.nan, 0.0, level, observed, level, "absolute", n, nb)
    base = kb / nb
    change = observed - base if rising else base - observed
    if change < s.min_change:
        if level is not None and observed >= level:
            return Finding(True, observed, base, 0.0, level, observed, level, "absolute", n, nb)
        return Finding(
            False, observed, base, math.nan, math.nan, math.nan, s.threshold, "binomial", n, nb
        )
    p0 = laplace_rate(kb, nb)
    if rising:
        score = -log10_upper_tail(k, n, p0)
        low = 0.0
        high = min(1.0, max((upper_critical(n, p0, s.threshold) - 1) / n, base + s.min_change))
    else:
        score = -log10_lower_tail(k, n, p0)
        low = max(0.0, min((lower_critical(n, p0, s.threshold) + 1) / n, base - s.min_change))
        high = 1.0
    if score < s.threshold and level is not None and observed >= level:
        return Finding(True, observed, base, 0.0, level, observed, level, "absolute", n, nb)
    return Finding(
        score >= s.threshold, observed, base, low, high, score, s.threshold, "binomial", n, nb
    )


# --- the detector ------------------------------------------------------------------------------

_Key = tuple[str, str, bool]  # agent ("*" = any), model ("*" = any), simulated


class _Stream:
    """The four windows of one scope."""

    __slots__ = ("cache_hits", "cost", "errors", "last_at", "latency")

    def __init__(self, s: AnomalySettings, at: datetime) -> None:
        self.latency = ShiftWindow(s.latency.baseline, s.latency.recent)
        self.cost = ShiftWindow(s.cost.baseline, s.cost.recent)
        self.errors = RateWindow(s.error_rate.baseline, s.error_rate.recent)
        self.cache_hits = RateWindow(s.cache_hit_rate.baseline, s.cache_hit_rate.recent)
        self.last_at = at

    def add(self, sample: Sample, s: AnomalySettings) -> list[tuple[AnomalyKind, Finding | None]]:
        out: list[tuple[AnomalyKind, Finding | None]] = []
        if s.error_rate.enabled:
            self.errors.add(not sample.success)
            out.append(("error_rate", evaluate_rate(self.errors, s.error_rate, rising=True)))
        if not sample.success:
            return out
        if s.cache_hit_rate.enabled:
            self.cache_hits.add(sample.cached)
            out.append(
                ("cache_hit_rate", evaluate_rate(self.cache_hits, s.cache_hit_rate, rising=False))
            )
        if sample.cached:
            return out
        if s.latency.enabled:
            self.latency.add(math.log(max(sample.duration_ms, _MIN_MS)))
            out.append(("latency", evaluate_shift(self.latency, s.latency)))
        if s.cost.enabled and sample.cost_usd is not None and sample.cost_usd > 0:
            self.cost.add(math.log(max(sample.cost_usd, _MIN_USD)))
            out.append(("cost", evaluate_shift(self.cost, s.cost)))
        return out


@dataclass
class _Open:
    id: str
    normal: int = 0


class AnomalyDetector:
    """Raises and resolves anomalies as samples arrive. Not thread-safe: feed it from one place
    (the server feeds it from the event loop)."""

    def __init__(
        self, settings: AnomalySettings | None = None, *, clock: Clock = WALL_CLOCK
    ) -> None:
        self.settings = settings or AnomalySettings()
        self.clock = clock
        self.samples_seen = 0
        self._streams: OrderedDict[_Key, _Stream] = OrderedDict()
        self._open: dict[tuple[AnomalyKind, _Key], _Open] = {}
        self._anomalies: OrderedDict[str, Anomaly] = OrderedDict()
        self._ids = itertools.count(1)

    # --- feeding ---------------------------------------------------------------------------------

    def observe(self, sample: Sample) -> list[AnomalyChange]:
        """Add one finished execution; returns the anomalies it raised or resolved."""
        s = self.settings
        if not s.enabled:
            return []
        self.samples_seen += 1
        changes = self.expire()
        for key in self._keys(sample):
            stream = self._stream(key, sample.at, changes)
            stream.last_at = max(stream.last_at, sample.at)
            for kind, finding in stream.add(sample, s):
                if finding is not None:
                    changes.extend(self._apply(kind, key, finding, sample.at))
        return changes

    def _keys(self, sample: Sample) -> list[_Key]:
        keys: list[_Key] = []
        for scope in self.settings.scopes:
            agent = sample.agent if scope in ("agent_model", "agent") else ANY
            model = sample.model if scope in ("agent_model", "model") else ANY
            key = (agent, model, sample.simulated)
            if key not in keys:
                keys.append(key)
        return keys

    def _stream(self, key: _Key, at: datetime, changes: list[AnomalyChange]) -> _Stream:
        stream = self._streams.get(key)
        if stream is not None:
            self._streams.move_to_end(key)
            return stream
        stream = self._streams[key] = _Stream(self.settings, at)
        while len(self._streams) > self.settings.max_streams:  # forget the least recently used
            old, _ = self._streams.popitem(last=False)
            for kind in KINDS:
                if (kind, old) in self._open:
                    changes.append(self._resolve((kind, old), at, "stale"))
        return stream

    def _apply(self, kind: AnomalyKind, key: _Key, f: Finding, at: datetime) -> list[AnomalyChange]:
        ref = (kind, key)
        opened = self._open.get(ref)
        if f.anomalous:
            seen = Anomaly(  # what this finding says; an open anomaly keeps its id, start, peak
                id="",
                kind=kind,
                metric=METRIC[kind],
                agent=key[0],
                model=key[1],
                simulated=key[2],
                observed=f.observed,
                baseline=f.baseline,
                expected_low=f.expected_low,
                expected_high=f.expected_high,
                score=f.score,
                peak_score=f.score,
                threshold=f.threshold,
                rule=f.rule,
                samples=f.samples,
                baseline_samples=f.baseline_samples,
                since=at,
                last_seen=at,
            )
            if opened is None:
                anomaly = replace(seen, id=f"{kind}-{next(self._ids)}")
                self._open[ref] = _Open(anomaly.id)
                self._remember(anomaly)
                return [AnomalyChange("raised", anomaly)]
            opened.normal = 0
            current = self._anomalies[opened.id]
            same_rule = f.rule == current.rule
            self._anomalies[opened.id] = replace(
                seen,
                id=current.id,
                since=current.since,
                peak_score=max(current.peak_score, f.score) if same_rule else f.score,
            )
            return []
        if opened is None:
            return []
        opened.normal += 1
        if opened.normal < self.settings.clear_after:
            return []
        return [self._resolve(ref, at, "recovered")]

    def _resolve(
        self, ref: tuple[AnomalyKind, _Key], at: datetime, how: Resolution
    ) -> AnomalyChange:
        opened = self._open.pop(ref)
        done = replace(self._anomalies[opened.id], resolved_at=at, resolution=how)
        self._anomalies[opened.id] = done
        return AnomalyChange("resolved", done)

    def _remember(self, anomaly: Anomaly) -> None:
        self._anomalies[anomaly.id] = anomaly
        excess = len(self._anomalies) - self.settings.history
        if excess > 0:
            for old_id in [i for i, a in self._anomalies.items() if not a.active][:excess]:
                del self._anomalies[old_id]

    def expire(self) -> list[AnomalyChange]:
        """Resolve, as stale, the anomalies whose scope saw nothing for ``stale_after_minutes``."""
        if not self._open:
            return []
        now = utcnow(self.clock)
        limit = now - timedelta(minutes=self.settings.stale_after_minutes)
        stale = [ref for ref in self._open if self._streams[ref[1]].last_at < limit]
        return [self._resolve(ref, now, "stale") for ref in stale]

    # --- reading ---------------------------------------------------------------------------------

    def active(self) -> list[Anomaly]:
        """The anomalies still open, oldest first (call :meth:`expire` first to drop stale ones)."""
        return [self._anomalies[o.id] for o in self._open.values()]

    def history(
        self, *, since: datetime | None = None, until: datetime | None = None
    ) -> list[Anomaly]:
        """Every remembered anomaly (open or resolved) raised in ``[since, until)``, newest first."""
        found = [
            a
            for a in self._anomalies.values()
            if (since is None or a.since >= since) and (until is None or a.since < until)
        ]
        found.sort(key=lambda a: a.since, reverse=True)
        return found


def detect(samples: Iterable[Sample], settings: AnomalySettings | None = None) -> AnomalyDetector:
    """Replay samples (oldest first) through a detector whose clock follows them; returns it,
    so that ``history()`` lists what was raised and ``active()`` what is still open."""
    clock = VirtualClock(0.0)
    detector = AnomalyDetector(settings, clock=clock)
    for sample in samples:
        clock.advance_to(sample.at.timestamp())
        detector.observe(sample)
    return detector
