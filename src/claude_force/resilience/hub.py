"""Wire the resilience layers of one call pipeline from the ``resilience`` settings.

Order (outermost first): cache → fallback → rate limit → circuit breaker → retry → provider.
Fallback sits in the pipeline's ``rate_limit`` slot, outside the rate limiter, so that each
alternate model is limited, broken and retried as itself. The hub owns the shared state (the
breakers, buckets and retry budgets); the engine keeps its hub as an attribute, so that
``claude-force health`` and the server report the state of the pipeline that runs.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ..clock import SYSTEM_CLOCK, Clock
from ..errors import ProviderError
from ..events import EventBus
from ..messages import MessageRequest
from ..providers.base import Provider
from .breaker import BreakerBoard, CircuitBreakerProvider
from .config import ResilienceSettings
from .fallback import FallbackProvider
from .ratelimit import RateLimitedProvider, RateLimiter
from .retry import RetryBudget, RetryingProvider, RetryPolicy

if TYPE_CHECKING:
    from ..config import Project


class ResilienceHub:
    """The breakers, rate limiter and retry budgets of one pipeline, and its layers."""

    def __init__(
        self,
        settings: ResilienceSettings | None = None,
        *,
        bus: EventBus | None = None,
        clock: Clock = SYSTEM_CLOCK,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
        max_attempts: int | None = None,
        rng: random.Random | None = None,
        sampling_allowed: Callable[[str], bool] = lambda _model: True,
    ) -> None:
        self.settings = settings or ResilienceSettings()
        self.bus = bus
        self.clock = clock
        s = self.settings
        self.retry_policy = RetryPolicy.from_settings(s.retry, max_attempts=max_attempts, rng=rng)
        self.breakers = BreakerBoard(s.breaker, clock=clock, bus=bus, wall=wall)
        self.limiter = RateLimiter(s.rate_limits, clock=clock, bus=bus)
        self._budgets: dict[str, RetryBudget] = {}
        self._sampling_allowed = sampling_allowed

    @classmethod
    def from_project(
        cls,
        project: Project,
        bus: EventBus | None = None,
        *,
        max_attempts: int | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> ResilienceHub:
        settings: ResilienceSettings = (
            getattr(project.settings, "resilience", None) or ResilienceSettings()
        )
        fb = settings.fallback
        if fb.models or fb.agents:  # aliases ("haiku") become model ids, as everywhere else

            def resolve(model: str) -> str:
                return project.catalog.resolve(
                    model, where="resilience.fallback", file=project.config_path
                )

            fb = fb.model_copy(
                update={
                    "models": [resolve(m) for m in fb.models],
                    "agents": {a: [resolve(m) for m in ms] for a, ms in fb.agents.items()},
                }
            )
            settings = settings.model_copy(update={"fallback": fb})
        return cls(
            settings,
            bus=bus,
            clock=clock,
            max_attempts=max_attempts,
            sampling_allowed=project.catalog.sampling_allowed,
        )

    # --- shared state -----------------------------------------------------------------------------

    def budget(self, model: str) -> RetryBudget:
        found = self._budgets.get(model)
        if found is None:
            r = self.settings.retry
            found = self._budgets[model] = RetryBudget(
                r.budget_ratio,
                r.budget_min_retries,
                r.budget_window_seconds,
                r.budget_storm_failure_rate,
            )
        return found

    # --- layers -----------------------------------------------------------------------------------

    def retry_layer(self, inner: Provider) -> Provider:
        on_retry: Callable[[MessageRequest], None] | None = None
        on_error: Callable[[MessageRequest, ProviderError], None] | None = None
        if self.settings.rate_limits.enabled:

            def on_retry(request: MessageRequest) -> None:
                self.limiter.charge(request.model, "requests", 1)

            def on_error(request: MessageRequest, exc: ProviderError) -> None:
                if exc.headers:  # each failed attempt's 429 headers, not only the last one's
                    self.limiter.observe(request.model, exc.headers)

        return RetryingProvider(
            inner,
            self.retry_policy,
            budgets=self.budget,
            bus=self.bus,
            clock=self.clock,
            on_retry=on_retry,
            on_error=on_error,
            # no retry is sent to a circuit that opened while this call was backing off
            gate=self.breakers.check_open if self.settings.breaker.enabled else None,
        )

    def breaker_layer(self, inner: Provider) -> Provider:
        return CircuitBreakerProvider(inner, self.breakers)

    def rate_limit_layer(self, inner: Provider) -> Provider:
        """Rate limit, with fallback around it when fallback models are configured."""
        s = self.settings
        layer = inner
        if s.rate_limits.enabled:
            precheck = self.breakers.check if s.breaker.enabled else None
            layer = RateLimitedProvider(inner, self.limiter, precheck=precheck)
        if s.fallback.models or s.fallback.agents:
            layer = FallbackProvider(
                layer,
                s.fallback,
                bus=self.bus,
                clock=self.clock,
                sampling_allowed=self._sampling_allowed,
            )
        return layer

    # --- reporting --------------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """Breaker states and rate-limit headroom, as plain data (for health and the server)."""
        now = self.clock.now()
        breakers = []
        for (provider, model), b in self.breakers.items():
            snap = b.snapshot(now)
            breakers.append(
                {
                    "provider": provider,
                    "model": model,
                    "state": snap.state,
                    "failure_rate": round(snap.failure_rate, 4),
                    "calls_in_window": snap.calls,
                    "failures_in_window": snap.failures,
                    "retry_in_s": None if snap.retry_in_s is None else round(snap.retry_in_s, 3),
                }
            )
        limits = {
            model: {
                s.kind: {
                    "per_minute": s.per_minute,
                    "available": max(0.0, round(s.available, 1)),
                    "headroom": round(max(0.0, s.available) / s.per_minute, 4)
                    if s.per_minute
                    else None,
                    "source": s.source,
                }
                for s in snaps
            }
            for model, snaps in self.limiter.snapshot().items()
        }
        return {"breakers": breakers, "rate_limits": limits}
