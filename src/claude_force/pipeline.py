"""Assemble the call pipeline: cache → rate limit → circuit breaker → retry → provider.

Each concern is one :class:`~claude_force.providers.base.ProviderWrapper` around the next. This
module only decides the order and which layers a project's settings switch on.
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


def default_spec(
    project: Project, bus: EventBus, *, max_attempts: int | None = None
) -> PipelineSpec:
    """The layers a project's settings ask for (each later issue plugs its layer in here).

    ``max_attempts`` overrides ``resilience.retry.max_attempts`` (the orchestrator's
    ``max_retries`` argument).
    """
    spec = PipelineSpec(cache=cache_layer(project))
    ResilienceHub.from_project(project, bus, max_attempts=max_attempts).install(spec)
    if project.settings.cluster.database_url is not None:  # cluster mode: limits shared by Redis
        from .cluster.shared import install_shared

        install_shared(spec, project, bus)
    traced = tracing_layer()  # innermost: one "chat" span per call that reaches the model
    if traced is not None:
        spec.extra.append(traced)
    return spec
