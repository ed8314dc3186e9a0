"""The provider protocol: one async call that sends a Messages request and returns a response.

Wrappers (cache, rate limit, circuit breaker, retry) implement the same protocol around an inner
provider, so the call pipeline is a chain of small objects, one concern each.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Coroutine
from typing import Any, Protocol, TypeVar, runtime_checkable

from ..errors import StreamInterruptedError
from ..messages import MessageRequest, MessageResponse
from ..streaming import TextSink, current_sink


@runtime_checkable
class Provider(Protocol):
    """Sends one Messages request. Raises :class:`~claude_force.errors.ProviderError` on failure."""

    @property
    def name(self) -> str: ...

    @property
    def simulated(self) -> bool: ...

    async def send(self, request: MessageRequest) -> MessageResponse: ...

    async def aclose(self) -> None: ...


Reply = Coroutine[Any, Any, MessageResponse]
"""What ``send`` returns: the coroutine of the answer. A layer with nothing to do for a call may
return its inner provider's coroutine (``def send``, not ``async def``): it then adds no frame to
the call, which every call in flight would otherwise hold while it waits for the model."""


class After(Protocol):
    """What a layer does once the call below it has ended, told by the coroutine that waits for
    the answer instead of a frame of the layer's own (see :func:`send_after`)."""

    def ok(self, response: MessageResponse) -> None: ...

    def failed(self, exc: BaseException) -> None: ...


def tell_ok(after: tuple[After, ...], response: MessageResponse) -> MessageResponse:
    """Tell each of ``after`` (innermost layer first) that the call answered ``response``; one
    that raises makes the call fail for the ones after it, as nested ``try`` blocks would."""
    for i, watcher in enumerate(after):
        try:
            watcher.ok(response)
        except BaseException as exc:
            tell_failed(after[i + 1 :], exc)
            raise
    return response


def tell_failed(after: tuple[After, ...], exc: BaseException) -> None:
    """Tell each of ``after`` (innermost layer first) that the call failed with ``exc``."""
    for i, watcher in enumerate(after):
        try:
            watcher.failed(exc)
        except BaseException as new:
            tell_failed(after[i + 1 :], new)
            raise


_at_once = threading.local()  # per thread: each thread runs its own event loop's sends


def awaited_at_once() -> bool:
    """Whether the ``send`` being made now is one whose reply its caller awaits at once
    (:func:`call_at_once`: the runner's). Only then may a layer take something when ``send`` is
    *called* (a reservation, a breaker admission, a single-flight lead) and hand its settling
    down: a reply that is never awaited (a task cancelled before its first step,
    ``wait_for(..., 0)``) would leave it taken. Any other caller gets :func:`deferred` replies,
    which take nothing until they run."""
    return getattr(_at_once, "on", False)


_R = TypeVar("_R")


def call_at_once(send: Callable[[MessageRequest], _R], request: MessageRequest) -> _R:
    """``send(request)``, its caller promising to await the reply at once (see
    :func:`awaited_at_once`); the layers it reaches synchronously may then take at the call."""
    before = getattr(_at_once, "on", False)
    _at_once.on = True
    try:
        return send(request)
    finally:
        _at_once.on = before


async def deferred(
    send_now: Callable[[MessageRequest, tuple[After, ...]], Reply],
    request: MessageRequest,
    after: tuple[After, ...],
) -> MessageResponse:
    """``send_now(request, after)`` when this coroutine first runs, its reply awaited at once: a
    layer's ``send_after`` for a caller that did not promise to await at once."""
    return await send_now(request, after)


def send_after(provider: Provider, request: MessageRequest, after: tuple[After, ...]) -> Reply:
    """``provider``'s answer to ``request``; when the call ends, each of ``after`` is told how.

    A layer whose only work after the call is accounting (the rate limiter's settlement, the
    breaker's outcome) does its work before the call and hands the rest down as an ``After``
    instead of awaiting the answer in a frame of its own: every call in flight would hold that
    frame while it waits for the model. A provider with a ``send_after`` method of its own (the
    retry layer, which waits in a frame anyway) tells them from that frame; any other is
    awaited in one small coroutine for all of them. The reply must be awaited at once (as
    every ``Reply``). Raises at once only after telling ``after``.
    """
    own = getattr(type(provider), "send_after", None)  # (the class's: a mock's is made up)
    if own is not None:
        reply: Reply = own(provider, request, after)
        return reply
    try:
        reply = provider.send(request)
    except BaseException as exc:
        tell_failed(after, exc)
        raise
    return _told(reply, after)


async def _told(reply: Reply, after: tuple[After, ...]) -> MessageResponse:
    try:
        response = await reply
    except BaseException as exc:
        tell_failed(after, exc)
        raise
    return tell_ok(after, response)


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

    def send(self, request: MessageRequest) -> Reply:
        return self.inner.send(request)  # nothing of its own to do: no frame (see ``Reply``)

    async def aclose(self) -> None:
        await self.inner.aclose()


class ProviderSlot(ProviderWrapper):
    """The bottom of an engine's pipeline: the provider the engine chose, or one put in its place.

    The 2.2 faces put a caller's SDK client here (a patched ``async_client``, an assigned
    ``client``) with :meth:`insert`; every layer above — cache, rate limit, breaker, retry —
    stays as it is. Closing the slot closes the chosen provider (an inserted one belongs to
    whoever inserted it).
    """

    def __init__(self, chosen: Provider) -> None:
        super().__init__(chosen)
        self.chosen = chosen

    def insert(self, provider: Provider | None) -> None:
        """Answer with ``provider`` from now on (``None``: the chosen provider again)."""
        self.inner = provider if provider is not None else self.chosen

    def send(self, request: MessageRequest) -> Reply:
        """The provider's answer. A failure after part of a streamed answer was shown becomes
        final (``StreamInterruptedError``: no layer above retries it), whatever the provider."""
        sink = current_sink()
        if sink is None:  # nothing is shown: the provider's own coroutine (see ``Reply``)
            return self.inner.send(request)
        return self._send_shown(request, sink)

    async def _send_shown(self, request: MessageRequest, sink: TextSink) -> MessageResponse:
        shown = sink.shown
        try:
            return await self.inner.send(request)
        except StreamInterruptedError:
            raise
        except Exception as exc:
            if sink.shown == shown:
                raise
            raise StreamInterruptedError(exc, sink.shown - shown) from exc

    async def aclose(self) -> None:
        await self.chosen.aclose()
