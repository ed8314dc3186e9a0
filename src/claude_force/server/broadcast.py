"""Fan live events out to every open event stream (SSE client), without ever blocking the caller.

Each client has a bounded queue. A client that reads too slowly loses its oldest messages
(counted in ``dropped``) rather than holding memory or slowing the runs that emit events; the
periodic snapshot it still receives brings it back in step. ``publish`` may be called from any
thread: off the server's event loop it hands the message over with ``call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Message:
    seq: int
    kind: str
    data: dict[str, Any]


_CLOSED = Message(-1, "closed", {})


class StreamClosed(Exception):
    """The broadcaster closed (the server is shutting down)."""


class Subscription:
    """One client's queue."""

    def __init__(self, size: int) -> None:
        self.queue: asyncio.Queue[Message] = asyncio.Queue(maxsize=size)
        self.dropped = 0

    def put(self, message: Message) -> None:
        """Enqueue, dropping the oldest message when full (runs on the event loop)."""
        if self.queue.full():
            with contextlib.suppress(asyncio.QueueEmpty):
                self.queue.get_nowait()
                self.dropped += 1
        self.queue.put_nowait(message)

    async def get(self, wait_s: float | None) -> Message | None:
        """The next message, or ``None`` after ``wait_s`` seconds; raises :class:`StreamClosed`."""
        try:
            async with asyncio.timeout(wait_s):
                message = await self.queue.get()
        except TimeoutError:
            return None
        if message is _CLOSED:
            raise StreamClosed
        return message


class Broadcaster:
    """Publish once, deliver to every subscription of the bound event loop."""

    def __init__(self, queue_size: int = 1000) -> None:
        self.queue_size = queue_size
        self._subs: set[Subscription] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._seq = itertools.count(1)
        self._lock = threading.Lock()
        self.closed = False
        self.published = 0

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """The loop the subscriptions live on (the server's)."""
        self._loop = loop
        self.closed = False

    @property
    def clients(self) -> int:
        return len(self._subs)

    @property
    def dropped(self) -> int:
        return sum(s.dropped for s in tuple(self._subs))

    def publish(self, kind: str, data: dict[str, Any]) -> None:
        with self._lock:
            seq = next(self._seq)
            self.published += 1
        loop = self._loop
        if self.closed or loop is None or not self._subs or loop.is_closed():
            return
        message = Message(seq, kind, data)
        if _running_loop() is loop:
            self._deliver(message)
        else:
            loop.call_soon_threadsafe(self._deliver, message)

    def _deliver(self, message: Message) -> None:
        for sub in tuple(self._subs):
            sub.put(message)

    @contextlib.asynccontextmanager
    async def subscribe(self) -> AsyncIterator[Subscription]:
        if self.closed:
            raise StreamClosed
        sub = Subscription(self.queue_size)
        self._subs.add(sub)
        try:
            yield sub
        finally:
            self._subs.discard(sub)

    def close(self) -> None:
        """End every stream (thread-safe); later subscriptions fail at once."""
        self.closed = True
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        if _running_loop() is loop:
            self._close_all()
        else:
            loop.call_soon_threadsafe(self._close_all)

    def _close_all(self) -> None:
        for sub in tuple(self._subs):
            sub.put(_CLOSED)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
