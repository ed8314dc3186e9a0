"""The one clock of claude-force: a ``Clock`` protocol, the real clocks, and a virtual one.

A :class:`Clock` has ``now()`` (seconds) and an async ``sleep``. Two real clocks implement it:

* :data:`SYSTEM_CLOCK` — ``time.monotonic`` (durations, deadlines, backoff, breaker cooldowns;
  the scale ``callctx.CallContext.deadline`` uses);
* :data:`WALL_CLOCK` — ``time.time``, seconds since the epoch (timestamps that are stored or
  shown: cache expiry, metrics, memory, the dashboard). :func:`utcnow` turns any clock's reading
  into an aware UTC ``datetime``.

:class:`VirtualClock` is the test double for both: time moves only when a test says so (or, with
``auto=True``, at once to each sleeper's wake time). Every policy takes ``now`` as an argument
and every driver takes a ``Clock``, so backoff, cooldowns, expiry and rollups are tested without
waiting.
"""

from __future__ import annotations

import heapq
import itertools
import time
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol, TypeVar, runtime_checkable

if TYPE_CHECKING:
    import asyncio

T = TypeVar("T")


@runtime_checkable
class Clock(Protocol):
    """A monotonic time source with an async sleep on the same scale."""

    def now(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """``time.monotonic`` and ``asyncio.sleep``."""

    def now(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        import asyncio  # here: loading claude.json imports this module, not asyncio

        await asyncio.sleep(max(0.0, seconds))


SYSTEM_CLOCK = SystemClock()


class WallClock(SystemClock):
    """``time.time`` (seconds since the epoch) and ``asyncio.sleep``."""

    def now(self) -> float:
        return time.time()


WALL_CLOCK = WallClock()


def utcnow(clock: Clock = WALL_CLOCK) -> datetime:
    """The clock's reading as an aware UTC ``datetime`` (the clock must be on the epoch scale)."""
    return datetime.fromtimestamp(clock.now(), UTC)


class VirtualClock:
    """Time that moves only when told to (``manual``) or at once to each sleeper's wake time.

    * ``auto=False`` (default): ``sleep`` blocks until :meth:`advance` or :meth:`jump` moves the
      clock past the sleeper's wake time; sleepers wake in wake-time order. Use it to check
      exactly what happens at each instant.
    * ``auto=True``: ``sleep(d)`` yields once and then moves the clock to at least ``now + d``
      (concurrent sleepers overlap, as they would in real time). Use it where only the decisions
      matter (e.g. end-to-end tests over real sockets) and nobody should wait for real.

    ``sleeps`` records every requested duration, in order.
    """

    def __init__(self, start: float | datetime = 1000.0, *, auto: bool = False) -> None:
        if isinstance(start, datetime):  # a wall-clock instant: the clock is on the epoch scale
            start = start.timestamp()
        self._now = start
        self.auto = auto
        self.sleeps: list[float] = []
        self._seq = itertools.count()
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []

    def now(self) -> float:
        return self._now

    async def sleep(self, seconds: float) -> None:
        import asyncio

        seconds = max(0.0, seconds)
        self.sleeps.append(seconds)
        target = self._now + seconds
        if self.auto:
            await asyncio.sleep(0)
            self._now = max(self._now, target)
            return
        if seconds == 0:
            await asyncio.sleep(0)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (target, next(self._seq), fut))
        try:
            await fut
        finally:
            if not fut.done():
                fut.cancel()  # advance_to skips a cancelled sleeper

    @property
    def pending(self) -> int:
        """Sleepers still waiting (cancelled ones excluded)."""
        return sum(1 for _, _, f in self._sleepers if not f.done())

    def next_wake(self) -> float | None:
        """The earliest wake time of a waiting sleeper, if any."""
        self._drop_done()
        return self._sleepers[0][0] if self._sleepers else None

    def set(self, when: float | datetime) -> None:
        """Move the clock to ``when`` (forward or back: wall clocks can jump), waking sleepers."""
        self._now = when.timestamp() if isinstance(when, datetime) else when
        self.advance_to(self._now)

    def advance(self, seconds: float) -> None:
        """Move the clock forward and wake every sleeper whose time has come."""
        self.advance_to(self._now + max(0.0, seconds))

    def advance_to(self, when: float) -> None:
        self._now = max(self._now, when)
        self._drop_done()
        while self._sleepers and self._sleepers[0][0] <= self._now:
            _, _, fut = heapq.heappop(self._sleepers)
            if not fut.done():
                fut.set_result(None)
            self._drop_done()

    def jump(self) -> bool:
        """Advance to the next sleeper's wake time; False when nobody sleeps."""
        wake = self.next_wake()
        if wake is None:
            return False
        self.advance_to(wake)
        return True

    def _drop_done(self) -> None:
        while self._sleepers and self._sleepers[0][2].done():
            heapq.heappop(self._sleepers)


async def run_virtual(
    clock: VirtualClock, *aws: Awaitable[T], idle_rounds: int = 20
) -> list[T | BaseException]:
    """Run awaitables to completion on a manual :class:`VirtualClock`, jumping time when idle.

    "Idle" means ``idle_rounds`` trips through the event loop passed and some awaitable is still
    running: the clock then jumps to the next sleeper's wake time. The awaitables must not wait
    on real I/O (that would look like a deadlock, which raises ``RuntimeError``). Results come
    back in order, exceptions returned rather than raised (like ``gather(return_exceptions=True)``).
    """
    import asyncio

    tasks = [asyncio.ensure_future(a) for a in aws]
    try:
        while True:
            for _ in range(idle_rounds):
                await asyncio.sleep(0)
            if all(t.done() for t in tasks):
                break
            if not clock.jump():
                raise RuntimeError("run_virtual: tasks wait on something other than the clock")
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    out: list[T | BaseException] = []
    for t in tasks:
        if t.cancelled():
            out.append(asyncio.CancelledError())
        else:
            exc = t.exception()
            out.append(exc if exc is not None else t.result())
    return out
