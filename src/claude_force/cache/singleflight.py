"""Single-flight: concurrent calls with the same key share one execution.

The first caller (the leader) runs the work itself, in its own task: no task, shield or future
is made for a call nobody else waits for (nearly every miss). Callers that arrive while it runs
(followers) each wait on a future of their own (cancelling a task cancels the future it awaits:
one shared future would fail them all); the leader resolves them with its result (``shared``)
or its exception (they re-raise it).

Cancellation: a follower that is cancelled (its timeout, say) just leaves; the leader and the
other followers go on. A leader that is cancelled while followers wait does not fail them: its
work is cancelled with it (it ran in the leader's task), and the first follower still waiting
becomes the leader and runs the work itself (its own ``fn``), the others following it. So a
cancelled leader costs at most one more execution, and only when others waited for its key.
(Before, the work ran in a task of its own, cancelled only when every waiter had gone; that cost
a task, a shield per waiter and a loop iteration on every call for a rare case.)

Hand-written because the asyncio primitives need exactly this waiter accounting and hand-over,
and no well-kept library offers it for asyncio.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")


class _Turn(enum.Enum):
    """What a follower's future holds when the leader was cancelled: it leads now."""

    LEAD = enum.auto()


class Flight(Generic[T]):
    """One key's execution: led by one caller, awaited by the others (its followers)."""

    __slots__ = ("followers", "waiters")

    def __init__(self) -> None:
        self.waiters = 1  # callers in this flight, the one running it included
        # made by the first follower: a flight nobody else joins allocates no future
        self.followers: list[asyncio.Future[T | _Turn]] | None = None


class SingleFlight(Generic[T]):
    """:meth:`do` runs a call through single-flight. A caller that cannot wrap its work in a
    callable (the response store runs it inline: one coroutine less per call) uses the steps
    :meth:`lead`, :meth:`follow`, then :meth:`land` / :meth:`fail` / :meth:`drop`, as ``do``
    does."""

    def __init__(self) -> None:
        self._flights: dict[str, Flight[T]] = {}

    def __len__(self) -> int:
        return len(self._flights)

    def __contains__(self, key: object) -> bool:
        return key in self._flights

    def waiters(self, key: str) -> int:
        """How many callers await the flight for ``key``, the one running it included (0 when
        none runs)."""
        flight = self._flights.get(key)
        return 0 if flight is None else flight.waiters

    async def do(self, key: str, fn: Callable[[], Awaitable[T]]) -> tuple[T, bool]:
        """``fn()``'s result and whether it was shared (``True``: another caller ran it)."""
        flight = self.lead(key)
        if flight is None:
            outcome = await self.follow(key)
            if not isinstance(outcome, Flight):
                return outcome, True
            flight = outcome  # the leader was cancelled: this caller leads now
        try:
            result = await fn()
        except Exception as exc:
            self.fail(key, flight, exc)
            raise
        except BaseException:  # cancelled (or interrupted): the followers are not failed
            self.drop(key, flight)
            raise
        self.land(key, flight, result)
        return result, False

    def lead(self, key: str) -> Flight[T] | None:
        """A new flight for ``key``, which the caller leads: it runs the work, then reports
        how it ended (:meth:`land`, :meth:`fail` or :meth:`drop`: exactly one, always).
        ``None``: a flight for ``key`` runs already (:meth:`follow` it)."""
        if key in self._flights:
            return None
        flight: Flight[T] = Flight()
        self._flights[key] = flight
        return flight

    async def follow(self, key: str) -> T | Flight[T]:
        """The result of the flight running for ``key`` (re-raises its error), or, when its
        leader was cancelled, that flight: the caller leads it now (as after :meth:`lead`)."""
        flight = self._flights[key]
        flight.waiters += 1
        waiting: asyncio.Future[T | _Turn] = asyncio.get_running_loop().create_future()
        if flight.followers is None:
            flight.followers = [waiting]
        else:
            flight.followers.append(waiting)
        try:
            outcome = await waiting
        except asyncio.CancelledError:
            self._leave(key, flight, waiting)
            raise
        return flight if isinstance(outcome, _Turn) else outcome

    def land(self, key: str, flight: Flight[T], result: T) -> None:
        """The leader's work returned ``result``: the followers share it."""
        for follower in self._end(key, flight):
            follower.set_result(result)

    def fail(self, key: str, flight: Flight[T], error: Exception) -> None:
        """The leader's work raised ``error``: the followers re-raise it (each awaits its
        future, so each copy is retrieved: no "never retrieved" warning)."""
        for follower in self._end(key, flight):
            follower.set_exception(error)

    def drop(self, key: str, flight: Flight[T]) -> None:
        """The leader is gone without a result (cancelled): the first follower still waiting
        leads now; with none, the flight ends."""
        flight.waiters -= 1
        self._hand_over(key, flight)

    def _end(self, key: str, flight: Flight[T]) -> Sequence[asyncio.Future[T | _Turn]]:
        """End ``flight``; the followers still waiting, to be resolved."""
        if self._flights.get(key) is flight:
            del self._flights[key]
        followers = flight.followers
        if not followers:
            return ()
        flight.followers = None
        return [f for f in followers if not f.done()]  # done: cancelled, leaving

    def _hand_over(self, key: str, flight: Flight[T]) -> None:
        followers = flight.followers
        while followers:
            follower = followers.pop(0)
            if not follower.done():  # done: cancelled, leaving
                follower.set_result(_Turn.LEAD)
                return
        if self._flights.get(key) is flight:
            del self._flights[key]

    def _leave(self, key: str, flight: Flight[T], waiting: asyncio.Future[T | _Turn]) -> None:
        """A follower was cancelled: it stops waiting (and, if it had just been made the
        leader, passes that on)."""
        flight.waiters -= 1
        if not waiting.done() or waiting.cancelled():
            followers = flight.followers
            if followers is not None and waiting in followers:
                followers.remove(waiting)
        elif waiting.exception() is None and waiting.result() is _Turn.LEAD:
            self._hand_over(key, flight)  # made the leader just as it was cancelled
