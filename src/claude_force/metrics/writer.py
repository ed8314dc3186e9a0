"""A batched background writer: the request path only enqueues; a thread does the I/O.

Hand-written because it must serve synchronous callers (``PerformanceTracker``, the CLI) and the
event loop alike, without ever blocking the loop: ``submit`` is a ``SimpleQueue.put`` (lock-free
in C, never waits). The writer thread collects up to ``batch_size`` records or waits at most
``flush_interval_s`` and hands each batch to ``sink`` — one transaction per batch. While a batch
fills, the thread sleeps on an event that only a full batch, ``flush()`` or ``close()`` sets,
and takes what was queued when it wakes: a record does not wake it (each wake-up is a thread
switch that takes the GIL from the event loop). ``flush()``
waits until everything submitted before it is written; live writers are flushed at interpreter
exit (``atexit``). A process killed outright loses at most the records not yet flushed.
"""

from __future__ import annotations

import atexit
import logging
import queue
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class _Flush:
    done: threading.Event


class _Stop:
    pass


class _Empty:
    pass


_STOP = _Stop()
_EMPTY = _Empty()
_LIVE: weakref.WeakSet[BatchWriter[object]] = weakref.WeakSet()


@atexit.register
def _flush_all_at_exit() -> None:
    for writer in list(_LIVE):
        try:
            writer.close(timeout=10)
        except Exception:  # exit must never fail because of metrics
            log.exception("metrics writer could not flush at exit")


class BatchWriter(Generic[T]):
    """Collects items and writes them in batches on a daemon thread."""

    def __init__(
        self,
        sink: Callable[[Sequence[T]], None],
        *,
        batch_size: int = 256,
        flush_interval_s: float = 1.0,
        max_pending: int = 100_000,
        on_open: Callable[[], None] | None = None,
        name: str = "claude-force-metrics",
        retry_delay_s: float = 0.5,
        max_failures: int = 5,
    ) -> None:
        self._sink = sink
        self.batch_size = batch_size
        self.flush_interval_s = flush_interval_s
        self.max_pending = max_pending
        self._on_open = on_open
        self._name = name
        self._retry_delay_s = retry_delay_s
        self._max_failures = max_failures
        self._q: queue.SimpleQueue[T | _Flush | _Stop] = queue.SimpleQueue()
        self._urgent = threading.Event()  # a full batch, a flush or close: write now
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._closed = False
        self.written = 0
        self.dropped = 0
        self.batches = 0
        self.failures = 0

    # --- the request path --------------------------------------------------------------------------

    def submit(self, item: T) -> bool:
        """Enqueue without waiting. False (and counted) when closed or over ``max_pending``."""
        if self._closed or self._q.qsize() >= self.max_pending:
            self.dropped += 1
            return False
        self._q.put(item)
        if self._thread is None:
            self._start()
        elif self._q.qsize() >= self.batch_size:
            self._urgent.set()
        return True

    # --- control ------------------------------------------------------------------------------

    def _start(self) -> None:
        with self._start_lock:
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
                _LIVE.add(self)  # type: ignore[arg-type]

    def flush(self, timeout: float | None = 30.0) -> bool:
        """Wait until every item submitted before this call is written (or failed for good)."""
        if self._thread is None or not self._thread.is_alive():
            return self._q.empty()
        done = threading.Event()
        self._q.put(_Flush(done))
        self._urgent.set()
        return done.wait(timeout)

    def close(self, timeout: float | None = 30.0) -> None:
        """Flush, then stop the thread. Idempotent."""
        if self._closed:
            return
        self._closed = True
        _LIVE.discard(self)  # type: ignore[arg-type]
        thread = self._thread
        if thread is not None and thread.is_alive():
            self._q.put(_STOP)
            self._urgent.set()
            thread.join(timeout)

    @property
    def pending(self) -> int:
        return self._q.qsize()

    # --- the writer thread ------------------------------------------------------------------------

    def _run(self) -> None:
        if self._on_open is not None:
            try:
                self._on_open()
            except Exception:
                log.exception("metrics store housekeeping failed; recording continues")
        batch: list[T] = []
        deadline = 0.0
        while True:
            item: T | _Flush | _Stop | _Empty
            if not batch:
                item = self._q.get()  # idle: the first record of a batch wakes the thread
            else:  # a batch fills without a wake-up per record (see the module documentation)
                left = deadline - time.monotonic()
                if left > 0:
                    self._urgent.wait(left)  # cut short by a full batch, a flush or close
                item = self._next()
            self._urgent.clear()  # what set it is in the queue, taken now
            # one item at a time, straight from the queue: nothing but ``batch`` refers to a
            # record, so a written batch is let go at once (a list of everything taken would
            # keep them until the next record arrives, however long the writer then idles)
            while not isinstance(item, _Empty):
                if isinstance(item, _Flush):
                    self._write(batch)
                    batch = []
                    item.done.set()
                elif isinstance(item, _Stop):
                    self._write(batch)
                    return
                else:
                    if not batch:
                        deadline = time.monotonic() + self.flush_interval_s
                    batch.append(item)
                    if len(batch) >= self.batch_size:
                        self._write(batch)
                        batch = []
                item = self._next()
            if batch and time.monotonic() >= deadline:
                self._write(batch)
                batch = []

    def _next(self) -> T | _Flush | _Stop | _Empty:
        try:
            return self._q.get_nowait()
        except queue.Empty:
            return _EMPTY

    def _write(self, batch: list[T]) -> None:
        if not batch:
            return
        for attempt in range(1, self._max_failures + 1):
            try:
                self._sink(batch)
            except Exception:
                self.failures += 1
                if attempt == self._max_failures:
                    log.exception(
                        "metrics batch of %d records dropped after %d tries", len(batch), attempt
                    )
                    self.dropped += len(batch)
                    return
                log.warning("metrics batch write failed (try %d); retrying", attempt, exc_info=True)
                time.sleep(self._retry_delay_s * attempt)  # on the writer thread, never the loop
            else:
                self.written += len(batch)
                self.batches += 1
                return
