"""Run coroutines from synchronous code on one long-lived event loop in a daemon thread.

Hand-written rather than ``anyio.from_thread.start_blocking_portal`` because the portal's worker
is a non-daemon executor thread: a user who never closes the orchestrator would hang interpreter
exit. One persistent loop (not ``asyncio.run`` per call) keeps SDK connection pools reusable, and
works even when the caller's own thread already runs an event loop (Jupyter).
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable, Coroutine
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

T = TypeVar("T")
P = ParamSpec("P")


class LoopThread:
    def __init__(self, name: str = "claude-force-loop") -> None:
        self._name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def _ensure(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._loop.is_closed():
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name=self._name, daemon=True)
                thread.start()
                self._loop, self._thread = loop, thread
            return self._loop

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the loop thread and wait for its result (re-raising its exception)."""
        loop = self._ensure()
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError(
                "LoopThread.run() called from its own loop; await the coroutine instead"
            )
        return asyncio.run_coroutine_threadsafe(coro, loop).result()

    @property
    def running(self) -> bool:
        return self._loop is not None and not self._loop.is_closed()

    def close(self) -> None:
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or loop.is_closed():
            return
        loop.call_soon_threadsafe(loop.stop)
        if thread is not None:
            thread.join(timeout=5)
        loop.close()


class _OnLoop(Protocol):
    _loop: LoopThread


S = TypeVar("S", bound=_OnLoop)


def blocking(
    method: Callable[Concatenate[S, P], Coroutine[Any, Any, T]],
) -> Callable[Concatenate[S, P], T]:
    """The synchronous twin of an ``a``-prefixed coroutine method, written once: the same
    signature and documentation, run on the object's loop thread (``self._loop``). The coroutine
    method is looked up on the object at each call, so patching it patches the twin too."""
    name = method.__name__

    @functools.wraps(method)
    def twin(self: S, /, *args: P.args, **kwargs: P.kwargs) -> T:
        coroutine: Coroutine[Any, Any, T] = getattr(self, name)(*args, **kwargs)
        return self._loop.run(coroutine)

    twin.__name__ = name.removeprefix("a")
    twin.__qualname__ = method.__qualname__.removesuffix(name) + twin.__name__
    return twin
