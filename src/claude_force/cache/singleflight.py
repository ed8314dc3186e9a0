"""Single-flight: concurrent calls with the same key share one execution.

The first caller (the leader) starts the work as a task; everyone who arrives while it runs
awaits the same task. Each waiter is shielded, so one caller's cancellation (its timeout, say)
does not cancel the others; the work itself is cancelled only when every waiter has gone.
Hand-written because the asyncio primitives need exactly this waiter accounting and no
well-kept library offers it for asyncio.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass
class _Flight(Generic[T]):
    task: asyncio.Task[T]
    waiters: int = 0


class SingleFlight(Generic[T]):
    def __init__(self) -> None:
        self._flights: dict[str, _Flight[T]] = {}

    def __len__(self) -> int:
        return len(self._flights)

    def __contains__(self, key: object) -> bool:
        return key in self._flights

    def waiters(self, key: str) -> int:
        """How many callers await the flight for ``key`` (0 when none runs)."""
        flight = self._flights.get(key)
        return 0 if flight is None else flight.waiters

    async def do(self, key: str, fn: Callable[[], Awaitable[T]]) -> tuple[T, bool]:
        """``fn()``'s result and whether it was shared (``True``: another caller ran it)."""
        flight = self._flights.get(key)
        leader = flight is None
        if flight is None:

            async def run() -> T:
                return await fn()

            flight = _Flight(asyncio.create_task(run()))
            self._flights[key] = flight
            flight.task.add_done_callback(functools.partial(self._done, key, flight))
        flight.waiters += 1
        try:
            return await asyncio.shield(flight.task), not leader
        except asyncio.CancelledError:
            if flight.waiters == 1 and not flight.task.done():
                flight.task.cancel()
            raise
        finally:
            flight.waiters -= 1

    def _done(self, key: str, flight: _Flight[T], _task: object) -> None:
        if self._flights.get(key) is flight:
            del self._flights[key]
        if not flight.task.cancelled():
            flight.task.exception()  # mark retrieved: waiters re-raise it themselves
