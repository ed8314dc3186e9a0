"""The batched background writer, and crash safety of the SQLite metrics store."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest

from claude_force.metrics.sqlite_backend import SQLiteMetricsStore
from claude_force.metrics.writer import BatchWriter, _flush_all_at_exit

TESTS = Path(__file__).resolve().parent


class Sink:
    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.written = threading.Event()

    def __call__(self, batch: Sequence[int]) -> None:
        self.batches.append(list(batch))
        self.written.set()


def test_batches_by_size_and_flush_writes_the_rest() -> None:
    sink = Sink()
    w: BatchWriter[int] = BatchWriter(sink, batch_size=4, flush_interval_s=3600)
    for i in range(10):
        assert w.submit(i)
    assert w.flush(timeout=10)
    assert sink.batches == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert (w.written, w.batches, w.dropped) == (10, 3, 0)
    w.close()


def test_the_interval_flushes_a_partial_batch_without_being_asked() -> None:
    sink = Sink()
    w: BatchWriter[int] = BatchWriter(sink, batch_size=1000, flush_interval_s=0.001)
    w.submit(1)
    assert sink.written.wait(timeout=10)
    assert sink.batches == [[1]]
    w.close()


def test_a_full_queue_drops_instead_of_blocking() -> None:
    entered, release = threading.Event(), threading.Event()
    seen: list[int] = []

    def slow(batch: Sequence[int]) -> None:
        entered.set()
        release.wait(timeout=10)
        seen.extend(batch)

    w: BatchWriter[int] = BatchWriter(slow, batch_size=1, flush_interval_s=3600, max_pending=3)
    w.submit(0)
    assert entered.wait(timeout=10)  # the writer holds item 0; the queue is empty again
    assert all(w.submit(i) for i in (1, 2, 3))
    assert w.submit(4) is False
    assert (w.dropped, w.pending) == (1, 3)
    release.set()
    assert w.flush(timeout=10)
    assert seen == [0, 1, 2, 3]
    w.close()


def test_failed_writes_are_retried_then_dropped(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[int] = []

    def flaky(batch: Sequence[int]) -> None:
        calls.append(len(batch))
        if len(calls) <= 2:
            raise OSError("disk busy")

    w: BatchWriter[int] = BatchWriter(flaky, batch_size=5, retry_delay_s=0, max_failures=5)
    for i in range(5):
        w.submit(i)
    assert w.flush(timeout=10)
    assert (w.written, w.failures, w.dropped) == (5, 2, 0)
    w.close()

    def broken(batch: Sequence[int]) -> None:
        raise OSError("disk gone")

    w2: BatchWriter[int] = BatchWriter(broken, batch_size=2, retry_delay_s=0, max_failures=3)
    with caplog.at_level(logging.ERROR, logger="claude_force.metrics.writer"):
        w2.submit(1)
        w2.submit(2)
        assert w2.flush(timeout=10)
    assert (w2.written, w2.failures, w2.dropped) == (0, 3, 2)
    assert "dropped after 3 tries" in caplog.text
    w2.close()


def test_close_flushes_and_later_submits_are_refused(caplog: pytest.LogCaptureFixture) -> None:
    sink = Sink()

    def bad_open() -> None:
        raise RuntimeError("housekeeping failed")

    w: BatchWriter[int] = BatchWriter(sink, batch_size=100, flush_interval_s=3600, on_open=bad_open)
    assert w.flush() is True  # nothing submitted, no thread: trivially flushed
    with caplog.at_level(logging.ERROR):
        w.submit(1)
        w.submit(2)
        w.close()
    assert sink.batches == [[1, 2]]
    assert "housekeeping failed" in caplog.text
    assert w.submit(3) is False
    w.close()  # idempotent
    _flush_all_at_exit()  # nothing live: a no-op


# --- crash safety (real processes) ------------------------------------------------------------------

CHILD = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {tests!r})
    from _metrics_data import make_records
    from claude_force.metrics.sqlite_backend import SQLiteMetricsStore
    from claude_force.metrics.writer import BatchWriter

    store = SQLiteMetricsStore({db!r})
    committed = 0

    def sink(batch):
        global committed
        store.upsert(batch)
        committed += len(batch)
        print("committed", committed, flush=True)

    writer = BatchWriter(sink, batch_size={batch}, flush_interval_s=3600, max_pending=10**7)
    records = make_records({n}, days=5, retries=False, seed=1)
    for r in records:
        writer.submit(r)
    {tail}
    """
)


def _child(tmp_path: Path, *, batch: int, n: int, tail: str) -> subprocess.Popen[str]:
    code = CHILD.format(tests=str(TESTS), db=str(tmp_path / "m.db"), batch=batch, n=n, tail=tail)
    return subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )


def test_a_process_killed_during_batched_writes_loses_at_most_the_unflushed_batch(
    tmp_path: Path,
) -> None:
    batch = 500
    # the child keeps writing: it re-submits its records forever (upserts of the same keys
    # would hide losses, so every round uses fresh execution ids), keeping four batches queued
    # so the writer is always mid-batch. (Submitting without a pause starved the writer thread
    # of the GIL: 3 s per batch of 500, 27 s for the test.)
    tail = textwrap.dedent(
        """
        import dataclasses, itertools, time
        for round_ in itertools.count(1):
            while writer.pending > 4 * {batch}:
                time.sleep(0.002)
            for r in records:
                writer.submit(dataclasses.replace(r, execution_id=f"{r.execution_id}-{round_}"))
        """
    ).replace("{batch}", str(batch))
    proc = _child(tmp_path, batch=batch, n=2000, tail=tail)
    assert proc.stdout is not None
    acknowledged = 0
    for line in proc.stdout:
        acknowledged = int(line.split()[1])
        if acknowledged >= 12 * batch:
            break
    proc.send_signal(signal.SIGKILL)  # in the middle of the next batches
    proc.wait(timeout=30)
    assert acknowledged >= 12 * batch, proc.stderr.read() if proc.stderr else ""

    store = SQLiteMetricsStore(tmp_path / "m.db")
    assert store.integrity_ok()
    rows = store.stats().raw_rows
    assert rows >= acknowledged  # nothing that was committed is lost
    assert rows % batch == 0  # … and no batch is half-written
    store.upsert([])  # still writable
    store.close()


def test_records_still_queued_are_written_at_normal_exit(tmp_path: Path) -> None:
    proc = _child(tmp_path, batch=10_000, n=1234, tail="pass  # exit without close()")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert out.strip().splitlines()[-1] == "committed 1234"
    store = SQLiteMetricsStore(tmp_path / "m.db")
    assert store.stats().raw_rows == 1234
    store.close()


def test_records_do_not_wake_the_writer_thread_one_by_one() -> None:
    """While a batch fills, the writer sleeps until its interval ends (or a flush, a close or a
    full batch): the records queued meanwhile cost no thread switch each."""
    import queue
    import time

    class CountingQueue:
        def __init__(self) -> None:
            self.inner: queue.SimpleQueue[object] = queue.SimpleQueue()
            self.blocking_gets = 0

        def get(self, block: bool = True, timeout: float | None = None) -> object:
            self.blocking_gets += 1
            return self.inner.get(block, timeout)

        def get_nowait(self) -> object:
            return self.inner.get_nowait()

        def put(self, item: object) -> None:
            self.inner.put(item)

        def qsize(self) -> int:
            return self.inner.qsize()

        def empty(self) -> bool:
            return self.inner.empty()

    sink = Sink()
    w: BatchWriter[int] = BatchWriter(sink, batch_size=1000, flush_interval_s=3600)
    counting = CountingQueue()
    w._q = counting  # type: ignore[assignment]
    for i in range(50):
        w.submit(i)
        time.sleep(0.001)  # the thread has every chance to wake per record: it does not
    assert sink.batches == []  # the interval has not ended
    assert counting.blocking_gets == 1  # the first record woke it, none of the 49 others
    assert w.flush(timeout=10)
    assert sink.batches == [list(range(50))]
    w.close()
