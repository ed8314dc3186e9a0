"""The provider protocol: one async call that sends a Messages request and returns a response.

Wrappers (cache, rate limit, circuit breaker, retry) implement the same protocol around an inner
provider, so the call pipeline is a chain of small objects, one concern each.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from ..messages import MessageRequest, MessageResponse


@runtime_checkable
class Provider(Protocol):
    """Sends one Messages request. Raises :class:`~claude_force.errors.ProviderError` on failure."""

    @property
    def name(self) -> str: ...

    @property
    def simulated(self) -> bool: ...

    async def send(self, request: MessageRequest) -> MessageResponse: ...

    async def aclose(self) -> None: ...


class ProviderWrapper:
    """Base for one-concern wrappers: delegates everything to ``inner`` unless overridden."""

    def __init__(self, inner: Provider) -> None:
        self.inner = inner

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def simulated(self) -> bool:
        return self.inner.simulated

    async def send(self, request: MessageRequest) -> MessageResponse:
        return await self.inner.send(request)

    async def aclose(self) -> None:
        await self.inner.aclose()
