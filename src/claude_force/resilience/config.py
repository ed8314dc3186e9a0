"""The ``resilience`` section of ``claude.json``: retry, breaker, rate_limits, fallback.

Every key is optional; the defaults are documented in ``docs/reliability.md``. Like the other
sections, unknown keys are kept and reported as warnings by the loader (``extra='allow'``).
This module imports nothing from :mod:`claude_force.config` so that ``config.schema`` can import
it without a cycle.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .._ordered import at_least


class _Section(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)


class RetrySettings(_Section):
    """One retry layer: exponential backoff with full jitter, ``retry-after``, a retry budget."""

    enabled: bool = True
    max_attempts: int = Field(default=3, ge=1, le=50)
    base_delay_seconds: float = Field(default=0.5, ge=0, le=3_600)
    max_delay_seconds: float = Field(default=30.0, ge=0, le=86_400)
    max_retry_after_seconds: float = Field(default=60.0, ge=0, le=86_400)
    budget_ratio: float = Field(default=0.2, ge=0, le=100)
    budget_min_retries: int = Field(default=10, ge=0, le=1_000_000)
    budget_window_seconds: float = Field(default=10.0, gt=0, le=86_400)
    # the budget applies only while at least this share of the window's attempts failed
    budget_storm_failure_rate: float = Field(default=0.5, ge=0, le=1)

    @model_validator(mode="after")
    def _delays(self) -> RetrySettings:
        at_least(self, "max_delay_seconds", "base_delay_seconds")
        return self


class BreakerSettings(_Section):
    """A circuit breaker per (provider, model)."""

    enabled: bool = True
    failure_rate_threshold: float = Field(default=0.5, gt=0, le=1)
    minimum_calls: int = Field(default=10, ge=1, le=1_000_000)
    window_seconds: float = Field(default=60.0, gt=0, le=86_400)
    cooldown_seconds: float = Field(default=30.0, ge=0, le=86_400)
    max_cooldown_seconds: float = Field(default=300.0, ge=0, le=604_800)
    half_open_max_calls: int = Field(default=1, ge=1, le=10_000)
    success_threshold: int = Field(default=1, ge=1, le=10_000)

    @model_validator(mode="after")
    def _cooldowns(self) -> BreakerSettings:
        at_least(self, "max_cooldown_seconds", "cooldown_seconds")
        at_least(self, "half_open_max_calls", "success_threshold")
        return self


class ModelLimits(_Section):
    """Per-minute limits of one model (``None``: not limited until the API's headers say so)."""

    requests_per_minute: int | None = Field(default=None, ge=1, le=10**9)
    input_tokens_per_minute: int | None = Field(default=None, ge=1, le=10**12)
    output_tokens_per_minute: int | None = Field(default=None, ge=1, le=10**12)


class RateLimitSettings(_Section):
    """Client-side token buckets per model; ``models`` entries override ``default`` per key."""

    enabled: bool = True
    default: ModelLimits = Field(default_factory=ModelLimits)
    models: dict[str, ModelLimits] = Field(default_factory=dict)
    adapt_to_headers: bool = True
    count_cache_reads: bool = False

    def limits_for(self, model: str) -> ModelLimits:
        """The default limits with the model's own entries laid over them."""
        specific = self.models.get(model)
        if specific is None:
            return self.default
        merged = self.default.model_dump()
        merged.update(specific.model_dump(exclude_unset=True))
        return ModelLimits.model_validate(merged)


class FallbackSettings(_Section):
    """Alternate models, in order: per agent (replaces the global list), else global."""

    models: list[str] = Field(default_factory=list)
    agents: dict[str, list[str]] = Field(default_factory=dict)

    def chain_for(self, agent: str | None) -> list[str]:
        if agent is not None and agent in self.agents:
            return list(self.agents[agent])
        return list(self.models)


class ResilienceSettings(_Section):
    retry: RetrySettings = Field(default_factory=RetrySettings)
    breaker: BreakerSettings = Field(default_factory=BreakerSettings)
    rate_limits: RateLimitSettings = Field(default_factory=RateLimitSettings)
    fallback: FallbackSettings = Field(default_factory=FallbackSettings)
