"""The one thread an async store's database work runs on (see ``state/sqlite.py``).

Hand-written rather than ``loop.run_in_executor`` on a one-thread ``ThreadPoolExecutor``: a hop
there is a ``concurrent.futures.Future`` chained to an asyncio future, the pool's thread
bookkeeping on submit, and, after each job, the pool thread still holding the GIL (setting its
future, releasing its idle semaphore) while the event loop wakes up and wants it. Here a job is
one ``SimpleQueue.put`` (lock-free in C, never waits), the thread sets the caller's asyncio
future through ``call_soon_threadsafe``, and it goes straight back to waiting on the queue. Jobs
queued together (a burst of calls) run back to back and their results reach the loop in one
wake-up.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import threading
import weakref
from collections.abc import Callable
from queue import Empty, SimpleQueue
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

RESULTS_PER_WAKE = 32
"""At most this many finished jobs wait for one wake-up of their loop (a burst of lookups)."""

_Job = tuple[
    asyncio.AbstractEventLoop | None, Any, Callable[..., Any], tuple[Any, ...], dict[str, Any]
]


class _Stop:
    pass


_STOP = _Stop()
_LIVE: weakref.WeakSet[Worker] = weakref.WeakSet()


@atexit.register
def _finish_at_exit() -> None:
    """The jobs still queued when the interpreter exits (a session being written) run first."""
    for worker in list(_LIVE):
        try:
            worker.close()
        except Exception:  # exit must never fail because of a store
            log.exception("worker %s could not finish at exit", worker.name)


def _settle(results: list[tuple[Any, bool, Any]]) -> None:
    """On the loop: hand each job's outcome to its caller (unless the caller gave up)."""
    for future, ok, value in results:
        if future.cancelled():
            continue
        if ok:
            future.set_result(value)
        elif isinstance(value, StopIteration):  # an asyncio future refuses it as such
            future.set_exception(RuntimeError(f"StopIteration raised in a worker job: {value}"))
        else:
            future.set_exception(value)


def _serve(jobs: SimpleQueue[_Job | _Stop]) -> None:
    """The worker thread: run jobs in the order queued, report each batch to its loop at once."""
    while _serve_some(jobs.get(), jobs):
        pass


def _serve_some(item: _Job | _Stop, jobs: SimpleQueue[_Job | _Stop]) -> bool:
    """Run ``item`` and the jobs queued behind it (up to ``RESULTS_PER_WAKE``), then hand their
    outcomes to their loops; ``False`` once told to stop. A function of its own so that nothing
    of a finished batch (its outcomes, the last job) stays referenced while the thread waits
    for the next job."""
    done: dict[asyncio.AbstractEventLoop, list[tuple[Any, bool, Any]]] = {}
    ran = 0
    while True:
        if isinstance(item, _Stop):
            _post(done)
            return False
        loop, future, fn, args, kwargs = item
        if loop is None:  # a job of a caller outside any loop: a concurrent.futures.Future
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(fn(*args, **kwargs))
                except BaseException as exc:
                    future.set_exception(exc)
        elif not future.cancelled():  # a caller that gave up before the job started
            try:
                outcome: tuple[Any, bool, Any] = (future, True, fn(*args, **kwargs))
            except BaseException as exc:
                outcome = (future, False, exc)
            done.setdefault(loop, []).append(outcome)
            ran += 1
        del item, future, fn, args, kwargs
        if ran >= RESULTS_PER_WAKE:
            break
        try:
            item = jobs.get_nowait()
        except Empty:
            break
    _post(done)
    return True


def _post(done: dict[asyncio.AbstractEventLoop, list[tuple[Any, bool, Any]]]) -> None:
    for loop, results in done.items():
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits for these
            loop.call_soon_threadsafe(_settle, results)


class Worker:
    """The one thread an async store's database work runs on (see the module documentation).

    Started at first use; ``run`` is one hop per whole operation. ``close`` runs a last function
    (closing the connection) on the thread, then lets it go."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._jobs: SimpleQueue[_Job | _Stop] | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def started(self) -> bool:
        return self._jobs is not None

    def _queue(self) -> SimpleQueue[_Job | _Stop]:
        jobs = self._jobs
        if jobs is not None:
            return jobs
        with self._lock:
            if self._jobs is None:
                jobs = SimpleQueue()
                # a daemon thread that atexit finishes (_finish_at_exit): the jobs queued by then
                # still run, and a forgotten worker never holds the interpreter's exit up
                thread = threading.Thread(target=_serve, args=(jobs,), name=self.name, daemon=True)
                thread.start()
                self._jobs, self._thread = jobs, thread
                _LIVE.add(self)
            return self._jobs

    def submit(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> asyncio.Future[T]:
        """Queue ``fn`` now (jobs run in the order queued); await the result. A job whose
        future is cancelled before the job starts does not run."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue().put((loop, future, fn, args, kwargs))
        return future

    def submit_threadsafe(
        self,
        loop: asyncio.AbstractEventLoop,
        future: asyncio.Future[T],
        fn: Callable[..., T],
        *args: Any,
        **kwargs: Any,
    ) -> None:
        """Queue ``fn`` from any thread (another worker's job, say); its result goes to
        ``future``, which belongs to ``loop``."""
        self._queue().put((loop, future, fn, args, kwargs))

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await self.submit(fn, *args, **kwargs)

    def _take(self) -> tuple[SimpleQueue[_Job | _Stop], threading.Thread] | None:
        with self._lock:
            jobs, thread = self._jobs, self._thread
            self._jobs = self._thread = None
            _LIVE.discard(self)
        if jobs is None or thread is None:
            return None
        return jobs, thread

    async def aclose(self, last: Callable[[], object] | None = None) -> None:
        taken = self._take()
        if taken is None:
            return
        jobs, _thread = taken
        if last is not None:
            loop = asyncio.get_running_loop()
            done: asyncio.Future[object] = loop.create_future()
            jobs.put((loop, done, last, (), {}))
            jobs.put(_STOP)
            await done
        else:
            jobs.put(_STOP)

    def close(self, last: Callable[[], object] | None = None) -> None:
        """``aclose`` for callers outside an event loop (waits for the thread to end)."""
        taken = self._take()
        if taken is None:
            return
        jobs, thread = taken
        if last is not None:
            import concurrent.futures

            done: concurrent.futures.Future[object] = concurrent.futures.Future()
            jobs.put((None, done, last, (), {}))
            jobs.put(_STOP)
            done.result()
        else:
            jobs.put(_STOP)
        if thread is not threading.current_thread():
            thread.join()
