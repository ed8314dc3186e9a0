"""``TaskBound``: the concurrency bound, which a task already holding a slot may enter again.

claude-force 2.2's ``execute_multiple`` took a slot of the bound and then called
``execute_agent``; test suites patch ``execute_agent`` and count how many run at once. Here the
agent runner takes a slot of the same bound, so the call made while holding a slot must not wait
for a second one (with every slot held that would deadlock). Hand-written because asyncio has no
re-entrant semaphore; the holder is the asyncio task, so tasks it starts still take slots of
their own.
"""

from __future__ import annotations

import asyncio
from types import TracebackType


class TaskBound(asyncio.Semaphore):
    """An ``asyncio.Semaphore`` whose ``async with`` is re-entrant per asyncio task."""

    def __init__(self, value: int = 1) -> None:
        super().__init__(value)
        self._depth: dict[asyncio.Task[object], int] = {}

    async def __aenter__(self) -> None:
        task = asyncio.current_task()
        if task is not None and task in self._depth:
            self._depth[task] += 1
            return
        await self.acquire()
        if task is not None:
            self._depth[task] = 1

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        task = asyncio.current_task()
        if task is not None and task in self._depth:
            self._depth[task] -= 1
            if self._depth[task]:
                return
            del self._depth[task]
        self.release()
