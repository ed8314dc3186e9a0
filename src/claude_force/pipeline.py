"""Assemble the call pipeline: cache → rate limit → circuit breaker → retry → provider.

Each concern is one :class:`~claude_force.providers.base.ProviderWrapper` around the next. This
module only decides the order and which layers a project's settings switch on; the resilience
layers come from the engine's :class:`~claude_force.resilience.hub.ResilienceHub` (which owns
their shared state), the cache layer from ``cache.layer``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .cache.layer import cache_layer
from .config import Project
from .events import EventBus
from .providers.base import Provider
from .resilience.hub import ResilienceHub
from .telemetry.tracing import tracing_layer

Layer = Callable[[Provider], Provider]


@dataclass
class PipelineSpec:
    """The layers to wrap around the provider, outermost first (cache, rate limit, breaker, retry)."""

    cache: Layer | None = None
    rate_limit: Layer | None = None
    breaker: Layer | None = None
    retry: Layer | None = None
    extra: list[Layer] = field(default_factory=list)

    def layers(self) -> list[Layer]:
        ordered = [self.cache, self.rate_limit, self.breaker, self.retry, *self.extra]
        return [layer for layer in ordered if layer is not None]


def wrap(provider: Provider, spec: PipelineSpec) -> Provider:
    """Apply the spec's layers so that the first one listed is the outermost."""
    result = provider
    for layer in reversed(spec.layers()):
        result = layer(result)
    return result


def resilient_spec(hub: ResilienceHub, *, cache: Layer | None = None) -> PipelineSpec:
    """A spec with the hub's ``rate_limit`` (with fallback around it), ``breaker`` and ``retry``
    layers, as its settings enable them, below ``cache``."""
    s = hub.settings
    return PipelineSpec(
        cache=cache,
        rate_limit=hub.rate_limit_layer,
        breaker=hub.breaker_layer if s.breaker.enabled else None,
        retry=hub.retry_layer if s.retry.enabled else None,
    )


def project_spec(
    project: Project, hub: ResilienceHub, bus: EventBus, *, cache: Layer | None
) -> PipelineSpec:
    """The layers of an engine: ``cache`` and the hub's layers, and in cluster mode the layer
    that shares rate limits and breaker state through Redis (inside the process's limiter)."""
    spec = resilient_spec(hub, cache=cache)
    if project.settings.cluster.database_url is not None:  # cluster mode: limits shared by Redis
        from .cluster.shared import install_shared

        install_shared(spec, project, bus)
    traced = tracing_layer()  # innermost: one "chat" span per call that reaches the model
    if traced is not None:
        spec.extra.append(traced)
    return spec


def default_spec(project: Project, hub: ResilienceHub) -> PipelineSpec:
    """The layers a project's settings ask for: its response cache and the hub's layers."""
    return project_spec(project, hub, hub.bus or EventBus(), cache=cache_layer(project))
