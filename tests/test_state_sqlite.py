"""The one SQLite helper: owner mark, migrations, foreign and corrupt files, the worker thread."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from claude_force.errors import RunError
from claude_force.state.sqlite import (
    Schema,
    app_id,
    is_corruption,
    open_database,
    statements,
    tables_of,
    transaction,
)
from claude_force.state.worker import Worker


class Refused(RunError):
    pass


def schema(*migrations: str | object, **kw: object) -> Schema:
    script = " ".join(m for m in migrations if isinstance(m, str))
    return Schema(
        what="test store",
        application_id=app_id(b"cfX1"),
        migrations=migrations,  # type: ignore[arg-type]
        tables=tables_of(script),
        fail=lambda message, hint: Refused(message, hint=hint),
        fix="point test.path elsewhere",
        **kw,  # type: ignore[arg-type]
    )


V1 = "CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, name TEXT NOT NULL);"
V2 = "ALTER TABLE items ADD COLUMN size INTEGER NOT NULL DEFAULT 0;"


def test_a_new_file_is_marked_migrated_and_in_wal_mode(tmp_path: Path) -> None:
    opened = open_database(tmp_path / "deep" / "s.db", schema(V1))
    conn = opened.conn
    assert conn.execute("PRAGMA application_id").fetchone()[0] == app_id(b"cfX1")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert (tmp_path / "deep").stat().st_mode & 0o777 == 0o700
    assert opened.migrated_from == 0 and opened.moved_aside == 0
    conn.close()


def _new_file_held_by_a_writer(path: Path) -> sqlite3.Connection:
    """An empty rollback-journal file with another connection's write lock on it: the state two
    processes opening a new store at once leave each other in (one switching it to WAL)."""
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("VACUUM")  # a valid, empty database file
    holder.execute("BEGIN IMMEDIATE")
    return holder


def test_opening_waits_out_another_connection_switching_a_new_file(tmp_path: Path) -> None:
    # SQLite answers a contended switch into WAL at once, without its busy handler: before the
    # wait in _enter_wal, the second of two processes opening a new store failed "locked".
    path = tmp_path / "s.db"
    holder = _new_file_held_by_a_writer(path)
    released = threading.Timer(0.2, holder.execute, ("COMMIT",))
    released.start()
    try:
        opened = open_database(path, schema(V1), busy_timeout_s=10)
    finally:
        released.join()
        holder.close()
    assert released.finished.is_set()  # it did wait for the holder
    assert opened.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert opened.conn.execute("PRAGMA user_version").fetchone()[0] == 1
    opened.conn.close()


def test_opening_a_file_locked_past_the_busy_timeout_names_it(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    holder = _new_file_held_by_a_writer(path)
    try:
        with pytest.raises(Refused, match=r"s\.db cannot be used: database is locked"):
            open_database(path, schema(V1), busy_timeout_s=0.05)
    finally:
        holder.close()


def test_migrations_run_from_the_version_found(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    conn = open_database(path, schema(V1)).conn
    conn.execute("INSERT INTO items (name) VALUES ('kept')")
    conn.close()
    calls: list[int] = []

    def v3(c: sqlite3.Connection) -> None:
        calls.append(int(c.execute("SELECT count(*) FROM items").fetchone()[0]))

    opened = open_database(path, schema(V1, V2, v3))
    assert opened.migrated_from == 1 and calls == [1]
    assert opened.conn.execute("SELECT name, size FROM items").fetchall() == [("kept", 0)]
    assert opened.conn.execute("PRAGMA user_version").fetchone()[0] == 3
    opened.conn.close()
    again = open_database(path, schema(V1, V2, v3))  # nothing left to run
    assert again.migrated_from == 3 and calls == [1]
    again.conn.close()


def test_a_newer_file_is_refused_with_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    open_database(path, schema(V1, V2)).conn.close()
    with pytest.raises(Refused, match="newer claude-force") as info:
        open_database(path, schema(V1))
    assert str(path) in str(info.value) and "test.path" in (info.value.hint or "")


@pytest.mark.parametrize("foreign_id", [0, 1234])
def test_a_foreign_database_is_refused_and_left_untouched(tmp_path: Path, foreign_id: int) -> None:
    path = tmp_path / "s.db"
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA application_id = {foreign_id}")
        conn.execute("CREATE TABLE ledger (id INTEGER)")
    before = path.read_bytes()
    with pytest.raises(Refused, match="not a claude-force test store") as info:
        open_database(path, schema(V1))
    assert str(path) in str(info.value) and "move that file away" in (info.value.hint or "")
    assert path.read_bytes() == before and not list(tmp_path.glob("*.corrupt-*"))


def test_legacy_tables_may_share_the_file(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE sessions (id INTEGER)")
        conn.execute("INSERT INTO sessions VALUES (7)")
    opened = open_database(path, schema(V1, legacy_tables=frozenset({"sessions"})))
    assert opened.conn.execute("SELECT id FROM sessions").fetchall() == [(7,)]
    opened.conn.close()


def test_a_damaged_file_is_moved_aside_once_and_a_fresh_one_started(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "s.db"
    path.write_bytes(b"\x00garbage" * 512)
    opened = open_database(path, schema(V1))
    assert opened.moved_aside == 1
    assert opened.conn.execute("SELECT count(*) FROM items").fetchone()[0] == 0
    opened.conn.close()
    [aside] = tmp_path.glob("s.db.corrupt-*")
    assert aside.read_bytes() == b"\x00garbage" * 512
    assert "test store" in caplog.text and "moved aside" in caplog.text


def test_read_only_reports_a_damaged_file_and_leaves_it(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    path.write_bytes(b"\x00garbage" * 512)
    with pytest.raises(Refused, match="damaged"):
        open_database(path, schema(V1), read_only=True)
    assert path.read_bytes() == b"\x00garbage" * 512


def test_an_unreadable_folder_is_an_error_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "s.db").mkdir()
    with pytest.raises(Refused, match=r"s\.db"):
        open_database(tmp_path / "s.db", schema(V1))


def test_transaction_is_all_or_nothing(tmp_path: Path) -> None:
    conn = open_database(tmp_path / "s.db", schema(V1)).conn
    with pytest.raises(sqlite3.IntegrityError), transaction(conn):
        conn.execute("INSERT INTO items (name) VALUES ('a')")
        conn.execute("INSERT INTO items (name) VALUES (NULL)")
    assert conn.execute("SELECT count(*) FROM items").fetchone()[0] == 0
    assert not conn.in_transaction
    conn.close()


def test_statements_keep_a_trigger_whole() -> None:
    script = (
        "CREATE TABLE a (x);\nCREATE TRIGGER t AFTER INSERT ON a BEGIN\n"
        "  INSERT INTO a VALUES (1);\n  INSERT INTO a VALUES (2);\nEND;\n;\nCREATE TABLE b (y)"
    )
    parts = list(statements(script))
    assert len(parts) == 3 and "END" in parts[1] and parts[2].strip() == "CREATE TABLE b (y)"


def test_corruption_is_told_apart_from_contention() -> None:
    assert is_corruption(sqlite3.DatabaseError("file is not a database"))
    assert is_corruption(sqlite3.OperationalError("database disk image is malformed"))
    assert not is_corruption(sqlite3.OperationalError("database is locked"))
    assert not is_corruption(ValueError("malformed"))


async def test_the_worker_runs_jobs_in_order_on_one_thread() -> None:
    worker = Worker("test-worker")
    seen: list[tuple[int, int]] = []

    def job(n: int) -> int:
        seen.append((n, threading.get_ident()))
        return n * 2

    futures = [worker.submit(job, n) for n in range(5)]  # queued at once, before any await
    assert await asyncio.gather(*futures) == [0, 2, 4, 6, 8]
    assert [n for n, _ in seen] == [0, 1, 2, 3, 4] and len({t for _, t in seen}) == 1
    assert await worker.run(job, n=9) == 18
    closed: list[int] = []
    await worker.aclose(lambda: closed.append(threading.get_ident()))
    assert closed == [seen[0][1]] and not worker.started
    await worker.aclose(lambda: closed.append(0))  # closing twice: nothing more runs
    assert len(closed) == 1


def test_the_worker_closes_outside_a_loop() -> None:
    worker = Worker("test-worker")
    assert asyncio.run(worker.run(lambda: 5)) == 5
    done: list[bool] = []
    worker.close(lambda: done.append(True))
    assert done == [True]
    worker.close()


async def test_jobs_queued_together_reach_the_loop_in_one_wake_up() -> None:
    worker = Worker("test-worker")
    loop = asyncio.get_running_loop()
    gate = threading.Event()
    wakes: list[int] = []
    real = loop.call_soon_threadsafe

    def counting(callback: Any, *args: Any, **kwargs: Any) -> Any:
        wakes.append(len(args[0]) if args and isinstance(args[0], list) else -1)
        return real(callback, *args, **kwargs)

    loop.call_soon_threadsafe = counting  # type: ignore[method-assign]
    try:
        first = worker.submit(gate.wait, 5)  # holds the thread until the others are queued
        rest = [worker.submit(lambda n=n: n) for n in range(4)]
        gate.set()
        assert await asyncio.gather(first, *rest) == [True, 0, 1, 2, 3]
    finally:
        loop.call_soon_threadsafe = real  # type: ignore[method-assign]
    # the five results in one wake-up (two if the thread finished the first job before the
    # others were queued); never one wake-up per job
    assert sum(wakes) == 5 and len(wakes) <= 2
    await worker.aclose()


async def test_a_job_cancelled_before_it_starts_does_not_run() -> None:
    worker = Worker("test-worker")
    gate = threading.Event()
    ran: list[int] = []
    blocker = worker.submit(gate.wait, 5)
    doomed = worker.submit(ran.append, 1)
    doomed.cancel()
    gate.set()
    await blocker
    await worker.run(ran.append, 2)
    assert ran == [2]
    await worker.aclose()


async def test_a_job_error_reaches_its_caller_and_the_thread_goes_on() -> None:
    worker = Worker("test-worker")

    def fails() -> None:
        raise StopIteration("done")  # an asyncio future refuses StopIteration itself

    with pytest.raises(RuntimeError, match="StopIteration"):
        await worker.run(fails)
    with pytest.raises(ZeroDivisionError):
        await worker.run(lambda: 1 / 0)
    assert await worker.run(lambda: 3) == 3
    worker.close()
    assert not worker.started
