"""Model fallback: when a model's breaker is open, its retries are exhausted or its rate limit
cannot serve the call in time, send the same request to the next model of an ordered list.

The list comes from ``resilience.fallback`` (per agent, else global). The response's ``model``
is the model that answered, so the execution records it; every switch is a
:class:`~claude_force.events.ModelFallback` event.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from .. import callctx
from ..clock import SYSTEM_CLOCK, Clock
from ..errors import CircuitOpenError
from ..events import EventBus, ModelFallback
from ..messages import MessageRequest, MessageResponse
from ..providers.base import Provider, ProviderWrapper
from .config import FallbackSettings
from .ratelimit import RateLimitDeadlineError
from .retry import is_retryable


def falls_back(exc: BaseException) -> bool:
    """Failures another model may not share: an open breaker, a rate limit, transient errors
    that survived the retries. A request error (400, 401, 404 …) would fail on any model."""
    return isinstance(exc, CircuitOpenError | RateLimitDeadlineError) or is_retryable(exc)


def for_model(
    request: MessageRequest, model: str, sampling_allowed: Callable[[str], bool]
) -> MessageRequest:
    """``request`` sent to ``model`` (sampling parameters dropped where the model rejects them)."""
    changed = dataclasses.replace(request, model=model)
    if not sampling_allowed(model):
        changed = dataclasses.replace(changed, temperature=None, top_p=None, top_k=None)
    return changed


class FallbackProvider(ProviderWrapper):
    def __init__(
        self,
        inner: Provider,
        settings: FallbackSettings,
        *,
        bus: EventBus | None = None,
        clock: Clock = SYSTEM_CLOCK,
        sampling_allowed: Callable[[str], bool] = lambda _model: True,
    ) -> None:
        super().__init__(inner)
        self.settings = settings
        self._bus = bus
        self._clock = clock
        self._sampling_allowed = sampling_allowed

    def chain(self, model: str, agent: str | None) -> list[str]:
        """The models to try, in order: the requested one, then its alternates (no repeats)."""
        out = [model]
        for m in self.settings.chain_for(agent):
            if m not in out:
                out.append(m)
        return out

    async def send(self, request: MessageRequest) -> MessageResponse:
        ctx = callctx.current()
        chain = self.chain(request.model, ctx.agent)
        tried: list[str] = []
        for i, model in enumerate(chain):
            attempt = (
                request
                if model == request.model
                else for_model(request, model, self._sampling_allowed)
            )
            try:
                return await self.inner.send(attempt)
            except Exception as exc:
                last = i == len(chain) - 1
                expired = ctx.deadline is not None and self._clock.now() >= ctx.deadline
                if last or expired or not falls_back(exc):
                    if tried:
                        exc.add_note("fallback chain: " + " → ".join([*tried, model]))
                    raise
                tried.append(f"{model} ({type(exc).__name__})")
                if self._bus is not None:
                    self._bus.emit(
                        ModelFallback(
                            from_model=model,
                            to_model=chain[i + 1],
                            reason=type(exc).__name__,
                            agent=ctx.agent,
                            execution_id=ctx.execution_id,
                        )
                    )
        raise AssertionError("unreachable: the chain always has the requested model")
