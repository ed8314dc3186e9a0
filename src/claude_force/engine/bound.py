"""The concurrency bound of an engine: at most ``limit`` executions hold a slot at once.

An ``asyncio.Semaphore`` binds to the event loop that first waits on it, and an engine outlives
loops (the sync face drives it on its own loop thread; an async caller may reuse it across
``asyncio.run`` calls). So the bound keeps one semaphore per loop, made on first use in that loop;
the limit itself is one number (with several loops at once, each gets ``limit`` slots).
A task already holding a slot may enter again without waiting (2.2's ``execute_multiple`` takes a
slot and then calls ``execute_agent``, whose run takes one too): the holder is the asyncio task,
so tasks it starts still take slots of their own. Which task holds a slot, and the semaphore
it took it from, is a context variable of the bound, set in the holder's context (a task's own:
a task it starts sees another task there): a call in flight holds no weak reference and no table
entry of its own for it (docs/tuning.md, "Memory at 1,000 in flight"), and after a
:meth:`~ConcurrencyBound.reset` it gives its slot back to that semaphore, not to the new one.
Hand-written because no library offers a loop-independent, raisable, re-entrant bound.
"""

from __future__ import annotations

import asyncio
import weakref
from contextvars import ContextVar


class ConcurrencyBound:
    """``async with bound:`` holds one of ``limit`` slots; :meth:`raise_to` lifts the limit."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._per_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore]
        self._per_loop = weakref.WeakKeyDictionary()
        self._forget_holders()

    def _forget_holders(self) -> None:
        # the task holding a slot and the semaphore it took it from, in its own context (None,
        # or another task: not this one); the slot goes back to that semaphore, also after a
        # reset made new ones
        self._holder: ContextVar[tuple[asyncio.Task[object], asyncio.Semaphore] | None]
        self._holder = ContextVar("claude_force_bound_holder", default=None)
        # entries beyond the first, by holding task (rare: a face's slot, then the runner's)
        self._again: weakref.WeakKeyDictionary[asyncio.Task[object], int]
        self._again = weakref.WeakKeyDictionary()

    def _current(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        found = self._per_loop.get(loop)
        if found is None:
            found = self._per_loop[loop] = asyncio.Semaphore(self.limit)
        return found

    @property
    def _value(self) -> int:
        """Free slots in the current loop (``asyncio.Semaphore._value``, which 2.2 suites read)."""
        try:
            found = self._per_loop.get(asyncio.get_running_loop())
        except RuntimeError:
            found = None
        return self.limit if found is None else found._value

    def raise_to(self, limit: int) -> None:
        """Let at least ``limit`` run at once from now on (never lowers it); a semaphore in use
        gets the extra permits, so calls already waiting are admitted."""
        extra = limit - self.limit
        if extra <= 0:
            return
        self.limit = limit
        for semaphore in list(self._per_loop.values()):
            for _ in range(extra):
                semaphore.release()

    def reset(self, limit: int) -> None:
        """Start over with ``limit`` (calls in flight finish on the slots they hold, and give
        them back to the semaphores they took them from, not to the new ones)."""
        self.limit = limit
        self._per_loop = weakref.WeakKeyDictionary()

    async def __aenter__(self) -> None:
        task = asyncio.current_task()
        held = self._holder.get()
        if task is not None and held is not None and held[0] is task:
            self._again[task] = self._again.get(task, 0) + 1
            return
        semaphore = self._current()
        await semaphore.acquire()
        if task is not None:
            self._holder.set((task, semaphore))

    async def __aexit__(self, *exc_info: object) -> None:
        task = asyncio.current_task()
        held = self._holder.get()
        if task is not None and held is not None and held[0] is task:
            again = self._again.get(task, 0)
            if again > 1:
                self._again[task] = again - 1
                return
            if again == 1:
                del self._again[task]
                return
            self._holder.set(None)
            held[1].release()  # (the one it took the slot from: a reset's new ones stay exact)
            return
        found = self._per_loop.get(asyncio.get_running_loop())  # (no task: not known which)
        if found is not None:
            found.release()
