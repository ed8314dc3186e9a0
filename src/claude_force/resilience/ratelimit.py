"""Client-side rate limiting: a first-in-first-out wait for the model's token buckets.

A call reserves one request, its estimated input tokens and its ``max_tokens`` of output, waits
its turn (callers are served in arrival order; work is delayed, never dropped), and after the
response replaces the reservation by the actual usage. A call cancelled or timed out — waiting
or in flight — gives its reservation back; no background task is left behind. A caller whose
deadline cannot be met fails with :class:`RateLimitDeadlineError` as soon as that is certain.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType

from .. import callctx
from ..clock import SYSTEM_CLOCK, Clock
from ..errors import CircuitOpenError, ProviderError, RunError
from ..events import EventBus, RateLimitWait
from ..messages import MessageRequest, MessageResponse, Usage
from ..providers.base import (
    After,
    Provider,
    ProviderWrapper,
    Reply,
    awaited_at_once,
    deferred,
    send_after,
    tell_failed,
)
from .buckets import BucketSnapshot, Kind, ModelBuckets, Need, counted_input
from .config import RateLimitSettings


class RateLimitDeadlineError(RunError):
    """The client-side rate limit cannot serve this call before its deadline."""

    def __init__(self, model: str, limit: str | None, wait_s: float, left_s: float) -> None:
        self.model = model
        self.limit = limit
        self.wait_s = wait_s
        self.left_s = left_s
        what = f"{limit.replace('_', ' ')} per minute" if limit else "its turn in the queue"
        super().__init__(
            f"rate limit for {model}: {what} would need {wait_s:.3g}s more, "
            f"but the call's deadline is {max(0.0, left_s):.3g}s away",
            hint="raise resilience.rate_limits for this model, lower max_tokens, or allow a longer timeout",
        )


_NOTHING_TAKEN: Mapping[Kind, int] = MappingProxyType({})
"""What a reservation of a model without limits holds (one read-only mapping for all: every
call in flight holds its reservation)."""


class _Waiter:
    __slots__ = ("event", "need")

    def __init__(self, need: Need) -> None:
        self.need = need
        self.event = asyncio.Event()


class Reservation:
    """What a call holds from the buckets until :meth:`settle` or :meth:`release`."""

    __slots__ = ("_limiter", "model", "open", "taken")  # one per call in flight

    def __init__(self, limiter: RateLimiter, model: str, taken: Mapping[Kind, int]) -> None:
        self._limiter = limiter
        self.model = model
        self.taken = taken
        self.open = True

    def settle(self, usage: Usage) -> None:
        """Replace the reservation by the response's actual usage."""
        if not self.open:
            return
        self.open = False
        cache_reads = self._limiter.settings.count_cache_reads
        actual: dict[Kind, int] = {
            "requests": 1,
            "input_tokens": counted_input(usage, count_cache_reads=cache_reads),
            "output_tokens": usage.output_tokens,
        }
        self._limiter._settle(self, actual)

    # --- as an ``After`` of the call (see ``providers.base.send_after``) ------------------------

    def ok(self, response: MessageResponse) -> None:
        self.settle(response.usage)
        if response.headers:
            self._limiter.observe(self.model, response.headers)

    def failed(self, exc: BaseException) -> None:
        if isinstance(exc, CircuitOpenError):
            # Rejected before sending (sent nothing), or a retry stopped by a circuit that opened
            # meanwhile (the earlier attempts did reach the API: the error's cause is theirs).
            self.release(sent=isinstance(exc.__cause__, ProviderError))
        elif isinstance(exc, ProviderError):
            self.release(sent=True)
            if exc.headers:  # a 429 says how much is left as well as a 200 does
                self._limiter.observe(self.model, exc.headers)
        else:  # cancelled, timed out, or a bug: give everything back
            self.release(sent=False)

    def release(self, *, sent: bool) -> None:
        """Give everything back (keeping the request when it reached the API: it counted)."""
        if not self.open:
            return
        self.open = False
        actual: dict[Kind, int] = {"input_tokens": 0, "output_tokens": 0}
        actual["requests"] = 1 if sent else 0
        self._limiter._settle(self, actual)


class RateLimiter:
    """Token buckets per model with a FIFO queue of waiting callers."""

    def __init__(
        self,
        settings: RateLimitSettings,
        *,
        clock: Clock = SYSTEM_CLOCK,
        bus: EventBus | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.bus = bus
        self._models: dict[str, ModelBuckets] = {}
        self._queues: dict[str, deque[_Waiter]] = {}

    # --- state ----------------------------------------------------------------------------------

    def buckets(self, model: str) -> ModelBuckets:
        found = self._models.get(model)
        if found is None:
            found = self._models[model] = ModelBuckets(
                self.settings.limits_for(model),
                self.clock.now(),
                adapt=self.settings.adapt_to_headers,
            )
        return found

    def queued(self, model: str) -> int:
        return len(self._queues.get(model, ()))

    def outstanding(self, model: str) -> dict[Kind, int]:
        return dict(self.buckets(model).outstanding)

    def snapshot(self) -> dict[str, list[BucketSnapshot]]:
        now = self.clock.now()
        return {m: b.snapshot(now) for m, b in sorted(self._models.items()) if b.limited}

    def _kick(self, model: str) -> None:
        """Wake the head of the model's queue to re-check (capacity may have come back)."""
        queue = self._queues.get(model)
        if queue:
            queue[0].event.set()

    # --- acquiring ------------------------------------------------------------------------------

    def try_acquire(self, model: str, need: Need) -> Reservation | None:
        """The reservation of ``need`` now, when nobody waits ahead and it fits (or the model
        has no limit); ``None``: :meth:`acquire` must wait for it."""
        queue = self._queues.get(model)
        if queue:
            return None
        buckets = self.buckets(model)
        if not buckets.limited:
            return Reservation(self, model, _NOTHING_TAKEN)
        now = self.clock.now()
        if buckets.wait_time(need, now)[0] <= 0:
            return Reservation(self, model, buckets.take(need, now))
        return None

    async def acquire(
        self, model: str, need: Need, *, deadline: float | None = None
    ) -> Reservation:
        """Wait (in arrival order) until ``need`` fits the model's buckets, then reserve it."""
        served = self.try_acquire(model, need)  # nobody waits ahead and it fits: at once
        if served is not None:
            return served
        buckets = self.buckets(model)
        queue = self._queues.get(model)
        if queue is None:  # (not setdefault: that would build a deque on every call)
            queue = self._queues[model] = deque()
        waiter = _Waiter(need)
        queue.append(waiter)
        announced = False
        try:
            while True:
                now = self.clock.now()
                left = None if deadline is None else deadline - now
                if queue[0] is waiter:
                    wait, kind = buckets.wait_time(need, now)
                    if wait <= 0:
                        taken = buckets.take(need, now)
                        queue.popleft()
                        self._kick(model)
                        return Reservation(self, model, taken)
                    if left is not None and (
                        left <= 0
                        or (wait > left and not buckets.outstanding.get(kind or "requests"))
                    ):
                        # Refills alone come too late and no reservation in flight can refund.
                        raise RateLimitDeadlineError(model, kind, wait, left)
                    timeout: float | None = wait if left is None else min(wait, left)
                else:
                    if left is not None and left <= 0:
                        ahead = list(queue)[: queue.index(waiter)]
                        projected = buckets.projected_wait([*(w.need for w in ahead), need], now)
                        raise RateLimitDeadlineError(model, None, projected, left)
                    kind = None
                    timeout = left
                if not announced:
                    announced = True
                    self._announce(model, buckets, queue, waiter, kind, now)
                waiter.event.clear()
                await self._wait(waiter.event, timeout)
        finally:
            if waiter in queue:
                was_head = queue[0] is waiter
                queue.remove(waiter)
                if was_head:
                    self._kick(model)

    def _announce(
        self,
        model: str,
        buckets: ModelBuckets,
        queue: deque[_Waiter],
        waiter: _Waiter,
        kind: Kind | None,
        now: float,
    ) -> None:
        if self.bus is None:
            return
        position = list(queue).index(waiter)
        needs = [w.need for w in list(queue)[: position + 1]]
        if kind is None:
            _, kind = buckets.wait_time(needs[0], now)
        ctx = callctx.current()
        self.bus.emit(
            RateLimitWait(
                model=model,
                limit=kind or "requests",
                wait_s=buckets.projected_wait(needs, now),
                queued_ahead=position,
                agent=ctx.agent,
                execution_id=ctx.execution_id,
            )
        )

    async def _wait(self, event: asyncio.Event, seconds: float | None) -> None:
        """Until ``event`` is set or ``seconds`` pass on the clock (a virtual clock works too, which
        ``asyncio.timeout`` would not); leaves no task behind."""
        if seconds is None:
            await event.wait()
            return
        sleeper = asyncio.ensure_future(self.clock.sleep(seconds))
        setter = asyncio.ensure_future(event.wait())
        try:
            await asyncio.wait((sleeper, setter), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (sleeper, setter):
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(sleeper, setter, return_exceptions=True)

    # --- after the call -------------------------------------------------------------------------

    def _settle(self, reservation: Reservation, actual: Mapping[Kind, int]) -> None:
        buckets = self.buckets(reservation.model)
        buckets.settle(reservation.taken, actual, self.clock.now())
        self._kick(reservation.model)

    def charge(self, model: str, kind: Kind = "requests", amount: int = 1) -> None:
        """Usage nobody reserved, such as a retry's extra request (never waits)."""
        self.buckets(model).charge(kind, amount, self.clock.now())

    def observe(self, model: str, headers: Iterable[tuple[str, str]] | Mapping[str, str]) -> None:
        """Adapt the model's buckets to ``anthropic-ratelimit-*`` response headers."""
        if self.buckets(model).observe(headers, self.clock.now()):
            self._kick(model)


class RateLimitedProvider(ProviderWrapper):
    """Reserves capacity before ``inner.send`` and settles it with the actual usage after.

    ``precheck(provider, model)`` runs first (the hub passes the breaker's cheap peek, so a call
    to an open circuit fails at once instead of queueing for capacity it will not use).
    """

    def __init__(
        self,
        inner: Provider,
        limiter: RateLimiter,
        *,
        precheck: Callable[[str, str], None] | None = None,
    ) -> None:
        super().__init__(inner)
        self.limiter = limiter
        self._precheck = precheck

    def send(self, request: MessageRequest) -> Reply:
        return self.send_after(request, ())

    def send_after(self, request: MessageRequest, after: tuple[After, ...]) -> Reply:
        """``send``, and each of ``after`` (the layers above) told how the call ended.

        A call served at once (nobody queued ahead, capacity now) reserves here and hands its
        :class:`Reservation` down to be settled by the coroutine that waits for the answer
        (:func:`~claude_force.providers.base.send_after`): no frame of this layer waits with
        it. A call that must queue waits in a coroutine of its own."""
        if not awaited_at_once():  # nothing taken before the reply runs (providers.base)
            return deferred(self._send_now, request, after)
        return self._send_now(request, after)

    def _send_now(self, request: MessageRequest, after: tuple[After, ...]) -> Reply:
        model = request.model
        try:
            if self._precheck is not None:
                self._precheck(self.name, model)
            need = Need.for_request(request)
            reservation = self.limiter.try_acquire(model, need)
        except BaseException as exc:
            tell_failed(after, exc)
            raise
        if reservation is None:
            return self._queued(request, need, after)
        return send_after(self.inner, request, (reservation, *after))

    async def _queued(
        self, request: MessageRequest, need: Need, after: tuple[After, ...]
    ) -> MessageResponse:
        """A call that waits its turn for capacity, then is sent as one served at once."""
        try:
            reservation = await self.limiter.acquire(
                request.model, need, deadline=callctx.current().deadline
            )
        except BaseException as exc:
            tell_failed(after, exc)
            raise
        return await send_after(self.inner, request, (reservation, *after))
