"""The ``anomalies`` section of ``claude.json`` (imports only pydantic: the config schema uses it).

Two families of detectors share these settings (see ``docs/dashboard.md`` for the algorithms):

* **shift** detectors (``latency``, ``cost``): a robust z-score of the median of the last
  ``recent`` values against the median/MAD of the ``baseline`` values before them, in log space;
* **rate** detectors (``error_rate``, ``cache_hit_rate``): an exact binomial test of the last
  ``recent`` executions against the rate of the ``baseline`` executions before them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .._ordered import at_least

Scope = Literal["agent_model", "model", "agent", "all"]


def _default_scopes() -> list[Scope]:
    return ["agent_model", "all"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)


class ShiftSettings(_Section):
    """Latency or cost per execution: alert when the recent median rises above the baseline.

    ``threshold``: robust z-score (log space, in standard errors of the recent median) at or
    above which the recent median is anomalous. ``min_spread``: floor of the robust standard
    deviation in log space, so that a perfectly steady stream (MAD 0) does not alert on a tiny
    change (0.15 ≈ a 15% spread).
    ``min_increase``: the recent median must also exceed the baseline median by this much, in
    the metric's unit (ms for latency, USD for cost).
    """

    enabled: bool = True
    threshold: float = Field(default=4.0, gt=0, le=1_000)
    baseline: int = Field(default=100, ge=5, le=10_000)
    recent: int = Field(default=7, ge=1, le=1_000)
    min_samples: int = Field(default=20, ge=2, le=10_000)
    min_spread: float = Field(default=0.15, ge=0, le=1_000_000)
    min_increase: float = Field(default=0.0, ge=0, le=1_000_000)

    @model_validator(mode="after")
    def _check(self) -> ShiftSettings:
        at_least(self, "baseline", "min_samples")
        return self


class RateSettings(_Section):
    """Error rate (alert on a rise) or cache hit rate (alert on a drop).

    ``threshold``: −log10 of the binomial p-value (4 = a chance of 1 in 10,000 under the
    baseline rate). ``min_change``: the recent rate must also differ from the baseline rate by at
    least this much (absolute, 0–1). ``min_samples``: executions needed in the recent window,
    ``min_baseline``: in the baseline window. ``absolute``: alert whenever the recent rate reaches
    this level, baseline or not (error rate only; ``null`` switches it off).
    """

    enabled: bool = True
    threshold: float = Field(default=4.0, gt=0, le=1_000)
    baseline: int = Field(default=200, ge=5, le=10_000)
    recent: int = Field(default=30, ge=2, le=1_000)
    min_samples: int = Field(default=10, ge=1, le=1_000)
    min_baseline: int = Field(default=30, ge=1, le=10_000)
    min_change: float = Field(default=0.15, ge=0, le=1)
    absolute: float | None = Field(default=None, gt=0, le=1)

    @model_validator(mode="after")
    def _check(self) -> RateSettings:
        at_least(self, "recent", "min_samples")
        at_least(self, "baseline", "min_baseline")
        return self


class AnomalySettings(_Section):
    """Anomaly detection over finished executions (the dashboard, the server, the CLI).

    ``scopes``: which groups of executions get their own baselines: per agent and model, per
    model, per agent, and all executions together. ``clear_after``: consecutive normal
    evaluations before an anomaly is resolved. ``stale_after_minutes``: an anomaly whose group
    saw no execution for this long is resolved as stale.
    """

    enabled: bool = True
    scopes: list[Scope] = Field(default_factory=_default_scopes, min_length=1)
    latency: ShiftSettings = Field(default_factory=lambda: ShiftSettings(min_increase=250.0))
    cost: ShiftSettings = Field(default_factory=lambda: ShiftSettings(min_increase=0.0001))
    error_rate: RateSettings = Field(
        default_factory=lambda: RateSettings(min_change=0.15, absolute=0.5)
    )
    cache_hit_rate: RateSettings = Field(default_factory=lambda: RateSettings(min_change=0.2))
    clear_after: int = Field(default=3, ge=1, le=10_000)
    stale_after_minutes: float = Field(default=60.0, gt=0, le=525_600)
    max_streams: int = Field(default=1_000, ge=1, le=1_000_000)
    history: int = Field(default=500, ge=1, le=100_000)
