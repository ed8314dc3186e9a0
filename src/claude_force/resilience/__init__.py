"""Resilience: one retry layer, circuit breakers, client-side rate limits, model fallback.

Each concern is a pure policy with an injected clock (:mod:`.retry`, :mod:`.breaker`,
:mod:`.buckets`) driven by a small async wrapper around the next provider;
:class:`ResilienceHub` builds the layers from the ``resilience`` section of ``claude.json``.
See ``docs/reliability.md``.
"""

from typing import TYPE_CHECKING

from .._lazy import lazy_exports
from ..clock import SYSTEM_CLOCK, Clock, SystemClock, VirtualClock, run_virtual

if TYPE_CHECKING:
    from .breaker import BreakerBoard, BreakerPolicy, CircuitBreakerProvider, outcome_of
    from .buckets import Need, TokenBucket, parse_ratelimit_headers
    from .config import (
        BreakerSettings,
        FallbackSettings,
        ModelLimits,
        RateLimitSettings,
        ResilienceSettings,
        RetrySettings,
    )
    from .fallback import FallbackProvider
    from .hub import ResilienceHub, hub_of
    from .ratelimit import RateLimitDeadlineError, RateLimitedProvider, RateLimiter, Reservation
    from .retry import GiveUp, Retry, RetryBudget, RetryingProvider, RetryPolicy, is_retryable

# Imported lazily: loading claude.json imports this package's settings module, and must not
# import every policy and wrapper with it (read-only commands start fast).
_EXPORTS: dict[str, str] = {
    "BreakerBoard": ".breaker",
    "BreakerPolicy": ".breaker",
    "CircuitBreakerProvider": ".breaker",
    "outcome_of": ".breaker",
    "Need": ".buckets",
    "TokenBucket": ".buckets",
    "parse_ratelimit_headers": ".buckets",
    "BreakerSettings": ".config",
    "FallbackSettings": ".config",
    "ModelLimits": ".config",
    "RateLimitSettings": ".config",
    "ResilienceSettings": ".config",
    "RetrySettings": ".config",
    "FallbackProvider": ".fallback",
    "ResilienceHub": ".hub",
    "hub_of": ".hub",
    "RateLimitDeadlineError": ".ratelimit",
    "RateLimitedProvider": ".ratelimit",
    "RateLimiter": ".ratelimit",
    "Reservation": ".ratelimit",
    "GiveUp": ".retry",
    "Retry": ".retry",
    "RetryBudget": ".retry",
    "RetryingProvider": ".retry",
    "RetryPolicy": ".retry",
    "is_retryable": ".retry",
}

__all__ = [
    "SYSTEM_CLOCK",
    "BreakerBoard",
    "BreakerPolicy",
    "BreakerSettings",
    "CircuitBreakerProvider",
    "Clock",
    "FallbackProvider",
    "FallbackSettings",
    "GiveUp",
    "ModelLimits",
    "Need",
    "RateLimitDeadlineError",
    "RateLimitSettings",
    "RateLimitedProvider",
    "RateLimiter",
    "Reservation",
    "ResilienceHub",
    "ResilienceSettings",
    "Retry",
    "RetryBudget",
    "RetryPolicy",
    "RetrySettings",
    "RetryingProvider",
    "SystemClock",
    "TokenBucket",
    "VirtualClock",
    "hub_of",
    "is_retryable",
    "outcome_of",
    "parse_ratelimit_headers",
    "run_virtual",
]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, __all__)
