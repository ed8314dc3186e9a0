"""The one thread an async store's database work runs on (see ``state/sqlite.py``)."""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


class Worker:
    """The one thread an async store's database work runs on (see the module documentation).

    Created at first use; ``run`` is one hop per whole operation. ``close`` runs a last function
    (closing the connection) on the thread, then lets it go."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    @property
    def started(self) -> bool:
        return self._pool is not None

    def _executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=self._name)
            return self._pool

    def submit(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> asyncio.Future[T]:
        """Queue ``fn`` now (jobs run in the order queued); await the result."""
        loop = asyncio.get_running_loop()
        return loop.run_in_executor(self._executor(), functools.partial(fn, *args, **kwargs))

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await self.submit(fn, *args, **kwargs)

    async def aclose(self, last: Callable[[], object] | None = None) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is None:
            return
        if last is not None:
            await asyncio.get_running_loop().run_in_executor(pool, last)
        pool.shutdown(wait=False)

    def close(self, last: Callable[[], object] | None = None) -> None:
        """``aclose`` for callers outside an event loop."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is None:
            return
        if last is not None:
            pool.submit(last).result()
        pool.shutdown(wait=True)
