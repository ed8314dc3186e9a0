"""WAL checkpoints on their own thread (state/checkpoint.py), for the cache and agent memory."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from claude_force.memory.sqlite_backend import CHECKPOINT_EVERY, SessionDB
from claude_force.memory.store import MemoryStore
from claude_force.state.checkpoint import AUTOCHECKPOINT_PAGES, BackgroundCheckpointer


def _wal_db(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(f"PRAGMA wal_autocheckpoint = {AUTOCHECKPOINT_PAGES}")
    conn.execute("CREATE TABLE t(x)")
    return conn


def test_a_checkpoint_is_queued_each_time_every_operations_have_passed(tmp_path: Path) -> None:
    conn = _wal_db(tmp_path / "db")
    ckpt = BackgroundCheckpointer(tmp_path / "db", every=3, name="t-ckpt")
    ckpt.count()
    ckpt.count()
    ckpt.close()
    assert ckpt.checkpoints == 0  # 2 of 3: none yet
    ckpt.count()
    ckpt.close()
    assert ckpt.checkpoints == 1
    ckpt.count(5)  # 3 → 8 crosses 6 once
    ckpt.close()
    assert ckpt.checkpoints == 2
    conn.close()


def test_the_checkpoint_copies_the_log_into_the_file_on_its_own_thread(tmp_path: Path) -> None:
    conn = _wal_db(tmp_path / "db")
    conn.executemany("INSERT INTO t VALUES (?)", [(b"x" * 4000,) for _ in range(50)])
    threads: list[str] = []
    ckpt = BackgroundCheckpointer(tmp_path / "db", every=1, name="t-ckpt")
    original = ckpt._checkpoint

    def spy() -> None:
        threads.append(threading.current_thread().name)
        original()

    ckpt._checkpoint = spy  # type: ignore[method-assign]
    ckpt.count()
    ckpt.close()
    assert threads and threads[0].startswith("t-ckpt")
    assert threads[0] != threading.current_thread().name
    # every frame of the log is in the database file now: a new checkpoint finds nothing to copy
    busy, log_frames, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    assert (busy, log_frames) == (0, copied) and log_frames > 0
    conn.close()


def test_a_failed_checkpoint_is_skipped_and_the_next_one_still_runs(tmp_path: Path) -> None:
    ckpt = BackgroundCheckpointer(tmp_path / "missing" / "db", every=1, name="t-ckpt")
    ckpt.count()  # no such folder: sqlite3 cannot open it; logged at debug, nothing raised
    ckpt.close()
    assert ckpt.checkpoints == 0
    (tmp_path / "missing").mkdir()
    _wal_db(tmp_path / "missing" / "db").close()
    ckpt.count()  # not stuck "pending" after the failure
    ckpt.close()
    assert ckpt.checkpoints == 1


def test_reset_drops_the_connection_and_a_later_checkpoint_opens_a_new_one(
    tmp_path: Path,
) -> None:
    conn = _wal_db(tmp_path / "db")
    ckpt = BackgroundCheckpointer(tmp_path / "db", every=1, name="t-ckpt")
    ckpt.reset()  # nothing started yet: nothing to do
    ckpt.count()
    ckpt.reset()
    assert ckpt._conn is None
    ckpt.count()
    ckpt.close()
    assert ckpt.checkpoints == 2
    conn.close()


def test_memory_writes_do_not_checkpoint_inside_their_commit(tmp_path: Path) -> None:
    """The memory database raises SQLite's automatic checkpoint to a safety net, and its writes
    are checkpointed by the background thread every CHECKPOINT_EVERY sessions instead."""
    store = MemoryStore(tmp_path / "memory.db")
    for i in range(CHECKPOINT_EVERY * 2):
        store.add("worker", f"task {i} about parsing", "answer", True)
    db = store._db
    assert isinstance(db, SessionDB)
    pages = db.conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
    assert pages == AUTOCHECKPOINT_PAGES
    db._ckpt.close()
    assert db._ckpt.checkpoints >= 1
    hits = store.context_with_ids("worker", "parsing task 17 again")[1]
    assert hits
    db.close()


@pytest.mark.parametrize("n", [0, CHECKPOINT_EVERY - 1])
def test_fewer_memory_writes_than_the_interval_start_no_thread(tmp_path: Path, n: int) -> None:
    store = MemoryStore(tmp_path / "memory.db")
    for i in range(n):
        store.add("worker", f"task {i}", "answer", True)
    db = store._db
    assert isinstance(db, SessionDB)
    assert db._ckpt._pool is None
    db.close()
