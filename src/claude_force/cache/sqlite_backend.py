"""The SQLite backend: the default, one file in the project's state directory.

Safe across processes: WAL journal, every change in one ``BEGIN IMMEDIATE`` transaction (entry,
recency, byte total and counters move together, so two processes never lose an update), and a
busy timeout instead of failures under contention.

Why not aiosqlite: a lookup is one transaction of several statements, and aiosqlite hops to its
thread once per statement. Here each whole transaction runs as one job on the store's one worker
thread that owns the connection (``state/worker.py``), so a hit costs one hop and the event
loop never blocks.

Damage: a file that is not SQLite, or a database SQLite reports as corrupt, is renamed aside
(``cache.db.corrupt-<time>``, with its ``-wal``/``-shm``) and a fresh cache is started; the
incident counts as an integrity failure. A valid SQLite database that belongs to something else
is never modified: the backend refuses it with :class:`ForeignStorageError`.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ..state.checkpoint import AUTOCHECKPOINT_PRAGMA, BackgroundCheckpointer
from ..state.sqlite import (
    WRITE_CACHE_PRAGMA,
    Schema,
    app_id,
    is_corruption,
    move_aside,
    open_database,
    transaction,
)
from .errors import CacheBackendError, ForeignStorageError
from .records import BackendStats, Counters, EntryInfo, Judge, PutOutcome, Record, Verdict

if TYPE_CHECKING:
    import asyncio

    from ..state.worker import Worker

log = logging.getLogger(__name__)

T = TypeVar("T")

APPLICATION_ID = app_id(b"cfC1")  # marks the file as a claude-force cache
_TOTALS = ("seq", "bytes", "entries")
CHECKPOINT_EVERY = 128  # operations between background checkpoints (state/checkpoint.py)
# Queued puts written per transaction: a burst of 1,000 answers is 16 commits, not one holding
# 1,000 encoded records at once (docs/tuning.md, "Memory at 1,000 in flight").
PUTS_PER_TRANSACTION = 64
PUT_DELAY_S = 0.05
"""How long a put waits for the next ones before its write job is queued (unless
``PUTS_PER_TRANSACTION`` wait, or another job of the backend is queued: jobs run in order). The
answer is served from memory meanwhile (``ResponseStore._storing``); a burst of answers is one
transaction, and the write does not take the CPU from the next call (docs/caching.md, "When an
answer is written")."""
_LIVE: weakref.WeakSet[SqliteBackend] = weakref.WeakSet()


@atexit.register
def _write_at_exit() -> None:
    """Puts still waiting for their write job when the interpreter exits are written first."""
    for backend in list(_LIVE):
        try:
            backend.write_at_exit()
        except Exception:  # exit must never fail because of the cache
            log.exception("response cache: answers not stored at exit")


FILTER_FRESH_S = 1.0  # the key filter answers "surely absent" this long after its last refresh
FILTER_SLACK = 1024  # stale prefixes (keys other processes deleted) tolerated before a reload


_QueuedPut = tuple[
    "asyncio.AbstractEventLoop",
    "asyncio.Future[PutOutcome]",
    Callable[[], Record | None],
    int,
    float,
    Counters,
]
"""A put waiting for the write job: its loop and future, the builder, max bytes, now, counters."""


def key_prefix(key: str) -> int:
    """What the key filter holds of a key: Python's 64-bit hash of the string (this process's
    own: the filter never leaves it), computed once per string object and cached by Python."""
    return hash(key)


_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    key TEXT PRIMARY KEY,
    namespace TEXT NOT NULL,
    agent TEXT NOT NULL,
    model TEXT NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    last_used_at REAL NOT NULL,
    seq INTEGER NOT NULL,
    size INTEGER NOT NULL,
    hits INTEGER NOT NULL DEFAULT 0,
    payload BLOB NOT NULL,
    sig BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS entries_by_recency ON entries(seq);
CREATE INDEX IF NOT EXISTS entries_by_expiry ON entries(expires_at);
CREATE INDEX IF NOT EXISTS entries_by_agent ON entries(agent);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
"""

SCHEMA = Schema(
    what="cache",
    application_id=APPLICATION_ID,
    migrations=(_SCHEMA,),
    tables=frozenset({"entries", "counters"}),
    fail=lambda message, hint: CacheBackendError(message, hint=hint),
    foreign=lambda message, hint: ForeignStorageError(message, hint=hint),
    fix="point paths.state (or ResponseCache's cache_dir) elsewhere",
    # a small page cache: the connection mostly appends entries (state/sqlite.py)
    pragmas=(AUTOCHECKPOINT_PRAGMA, WRITE_CACHE_PRAGMA),
)

_ROW = "key, namespace, agent, model, created_at, expires_at, payload, sig, last_used_at, hits"


def _blob(value: object) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):  # a row edited with text functions
        return value.encode("utf-8", "surrogateescape")
    raise TypeError(f"not a blob: {type(value).__name__}")


def _record(row: tuple[Any, ...]) -> Record:
    """The row as a record; ``TypeError``/``ValueError`` when a column has an impossible value."""
    return Record(
        key=str(row[0]),
        namespace=str(row[1]),
        agent=str(row[2]),
        model=str(row[3]),
        created_at=float(row[4]),
        expires_at=float(row[5]),
        payload=_blob(row[6]),
        sig=_blob(row[7]),
        last_used_at=float(row[8]),
        hits=int(row[9]),
    )


def _float(value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return float("-inf")


def _int(value: object) -> int:
    try:
        return int(value)  # type: ignore[call-overload, no-any-return]
    except (TypeError, ValueError):
        return 0


def _add(conn: sqlite3.Connection, counters: Counters, **totals: int) -> None:
    changes = counters.nonzero() + [(k, v) for k, v in totals.items() if v]
    if changes:
        conn.executemany(
            "UPDATE counters SET value = value + ? WHERE name = ?", [(v, k) for k, v in changes]
        )


def _next_seq(conn: sqlite3.Connection) -> int:
    row = conn.execute(
        "UPDATE counters SET value = value + 1 WHERE name = 'seq' RETURNING value"
    ).fetchone()
    return int(row[0])


def _delete(conn: sqlite3.Connection, key: str) -> int | None:
    row = conn.execute("DELETE FROM entries WHERE key = ? RETURNING size", (key,)).fetchone()
    return None if row is None else _int(row[0])


class _Totals:
    """The totals a write transaction changes (``seq``, ``bytes``, ``entries``) and the counters
    it adds, read once at its start and written once at its end: its puts run two statements
    each (delete the old entry, insert the new) instead of six. Exact because the transaction
    is ``BEGIN IMMEDIATE``: no other connection writes the counters meanwhile."""

    __slots__ = ("_bytes0", "_seq0", "added", "bytes", "entries", "seq")

    def __init__(self, conn: sqlite3.Connection) -> None:
        found = dict(
            conn.execute("SELECT name, value FROM counters WHERE name IN ('seq', 'bytes')")
        )
        self._seq0 = self.seq = _int(found.get("seq"))
        self._bytes0 = self.bytes = _int(found.get("bytes"))
        self.entries = 0
        self.added: dict[str, int] = {}

    def add(self, counters: Counters) -> None:
        for name, value in counters.nonzero():
            self.added[name] = self.added.get(name, 0) + value

    def count(self, name: str, n: int) -> None:
        if n:
            self.added[name] = self.added.get(name, 0) + n

    def write(self, conn: sqlite3.Connection) -> None:
        changes = [(v, k) for k, v in self.added.items() if v]
        for name, delta in (
            ("seq", self.seq - self._seq0),
            ("bytes", self.bytes - self._bytes0),
            ("entries", self.entries),
        ):
            if delta:
                changes.append((delta, name))
        if changes:
            conn.executemany("UPDATE counters SET value = value + ? WHERE name = ?", changes)


class SqliteBackend:
    name = "sqlite"
    persistent = True

    def __init__(
        self, path: Path, *, busy_timeout_s: float = 30.0, read_only: bool = False
    ) -> None:
        self.path = Path(path)
        self.busy_timeout_s = busy_timeout_s
        # read_only: a damaged file is reported, not moved aside (``cache stats/list/inspect``)
        self.read_only = read_only
        self._worker_: Worker | None = None  # made at the first async operation
        self._conn: sqlite3.Connection | None = None
        self._inode: int | None = None
        self._incidents = 0  # quarantines not yet counted in the (new) database
        self._ckpt = BackgroundCheckpointer(
            self.path, every=CHECKPOINT_EVERY, name="claude-force-cache-checkpoint"
        )
        # puts queued for the next write job (put_built), shared by the loop and the worker
        self._puts: list[_QueuedPut] = []
        self._puts_lock = threading.Lock()
        self._put_scheduled = False  # a write job is queued on the worker, not started yet
        self._put_timer: asyncio.TimerHandle | None = None  # queues it after PUT_DELAY_S
        self._put_timer_loop: asyncio.AbstractEventLoop | None = None
        # the counters of misses not written yet (a miss is a read; they join the next write,
        # and stats and close write them): touched only on the worker thread
        self._pending = Counters()
        # The key filter: the 8-byte prefixes of the keys the database may hold, kept by the
        # worker thread (loaded when the store opens, updated by this process's writes, and
        # refreshed in every job when another process has written), read from any thread by
        # surely_absent. ``None``: not loaded (or to be reloaded). See docs/caching.md.
        self._keys: set[int] | None = None
        self._filtering = False  # open() turns it on: a read-only `cache stats` never loads it
        self._seen_version: int | None = None  # PRAGMA data_version at the last refresh
        self._seen_seq = 0  # the highest entry seq read into the filter
        self._refreshed_at = float("-inf")  # time.monotonic() of the last refresh
        self._skipped = 0  # lookups skipped as sure misses, not counted yet (any thread)
        self._skipped_lock = threading.Lock()
        self._gone: list[str] = []  # keys deleted by the transaction in progress (worker thread)

    @property
    def location(self) -> str:
        return str(self.path)

    @property
    def _worker(self) -> Worker:
        """The thread that owns the connection (asyncio loads with it: ``cache stats`` reads
        through :meth:`stats_now` without either)."""
        if self._worker_ is None:
            from ..state.worker import Worker

            self._worker_ = Worker("claude-force-cache")
        return self._worker_

    def stats_now(self) -> BackendStats:
        """:meth:`stats`, read on the calling thread, then closed: for a process that only reads
        them (``cache stats``) and so needs no event loop."""
        try:
            return self._guarded(self._stats, ())
        finally:
            self._close()

    # --- the worker thread --------------------------------------------------------------------------

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        self.write_now()  # jobs run in order: this one sees the puts made before it
        return await self._worker.run(self._guarded, fn, args)

    def _guarded(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        """Run ``fn(conn, *args)``; on corruption quarantine the file and retry once, fresh."""
        try:
            conn = self._connection()
            try:
                if self._filtering:
                    self._refresh(conn)
                result = fn(conn, *args)
                self._ckpt.count()
                return result
            except sqlite3.DatabaseError as exc:
                if not is_corruption(exc):
                    raise
                self._quarantine(str(exc))
            return fn(self._connection(), *args)
        except ForeignStorageError:
            raise
        except (sqlite3.Error, OSError) as exc:
            raise CacheBackendError(
                f"SQLite cache {self.path}: {exc}",
                hint="check the state directory's permissions and free space",
            ) from exc

    def _connection(self) -> sqlite3.Connection:
        if self._conn is not None:
            return self._conn
        opened = open_database(
            self.path, SCHEMA, busy_timeout_s=self.busy_timeout_s, read_only=self.read_only
        )
        conn = opened.conn
        try:
            # counters added by a later version of this module start at zero
            conn.executemany(
                "INSERT OR IGNORE INTO counters(name, value) VALUES (?, 0)",
                [(n,) for n in (*_TOTALS, *Counters.names())],
            )
            incidents = self._incidents + opened.moved_aside
            if incidents:
                _add_locked(conn, Counters(integrity_failures=incidents))
                self._incidents = 0
        except BaseException:
            conn.close()
            raise
        self._inode = opened.inode
        self._conn = conn
        return conn

    def _quarantine(self, reason: str) -> None:
        """Move a cache found damaged mid-operation aside (see ``state.sqlite.move_aside``); a
        fresh one is created next. Read-only: raise :class:`CacheBackendError` and leave it."""
        if self.read_only:
            raise CacheBackendError(
                f"the response cache {self.path} is damaged ({reason}); it was left as it is",
                hint="a command that uses the cache (execute, run) moves it aside and starts "
                "fresh, as does 'claude-force cache clear'",
            )
        if self._conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()
            self._conn = None
        self._keys = None  # a fresh database: the filter is loaded again
        self._ckpt.reset()
        if move_aside(self.path, reason, "response cache", inode=self._inode):
            self._incidents += 1
        self._inode = None

    # --- operations (each runs whole on the worker thread) ----------------------------------------

    @contextlib.contextmanager
    def _with_pending(self) -> Iterator[Counters]:
        """The misses' counters not written yet, for a write transaction to add; they are kept
        for the next one if the transaction fails."""
        taken, self._pending = self._pending + self._take_skipped(), Counters()
        try:
            yield taken
        except BaseException:
            self._pending = self._pending + taken
            self._gone.clear()  # rolled back: the keys are still there
            raise
        gone, self._gone = self._gone, []
        for key in gone:  # committed: deleted keys leave the filter
            self._forget(key)

    # --- the key filter --------------------------------------------------------------------------------

    def surely_absent(self, key: str) -> bool:
        """Whether the database surely holds no entry for ``key`` (any thread, no I/O): the
        filter is loaded, was refreshed within ``FILTER_FRESH_S``, and lacks the key's prefix.
        ``False`` means "maybe": look it up. A key another process stored since the last
        refresh is the one wrong answer (bounded by ``FILTER_FRESH_S``)."""
        keys = self._keys
        return (
            keys is not None
            and time.monotonic() - self._refreshed_at < FILTER_FRESH_S
            and key_prefix(key) not in keys
        )

    def count_skipped(self) -> None:
        """Count a lookup skipped because :meth:`surely_absent` said so: a miss, written with
        the next write as any other miss (any thread)."""
        with self._skipped_lock:
            self._skipped += 1

    def _take_skipped(self) -> Counters:
        with self._skipped_lock:
            n, self._skipped = self._skipped, 0
        return Counters(misses=n) if n else Counters()

    @property
    def filter_size(self) -> int:
        """How many key prefixes the filter holds (0: not loaded)."""
        keys = self._keys
        return 0 if keys is None else len(keys)

    def _refresh(self, conn: sqlite3.Connection) -> None:
        """On the worker thread, before each job: bring the filter up to date. Cheap when no
        other process wrote (one ``PRAGMA data_version``); else the keys stored since the last
        refresh (by ``seq``, which every write and hit raises), or a reload when the database is
        new, ``seq`` went back (a replaced file) or too many prefixes are stale."""
        version = int(conn.execute("PRAGMA data_version").fetchone()[0])
        keys = self._keys
        if keys is not None and version == self._seen_version:
            self._refreshed_at = time.monotonic()
            return
        totals = dict(
            conn.execute("SELECT name, value FROM counters WHERE name IN ('seq', 'entries')")
        )
        seq, entries = _int(totals.get("seq")), _int(totals.get("entries"))
        if keys is None or seq < self._seen_seq or len(keys) > 2 * entries + FILTER_SLACK:
            keys, self._seen_seq = set(), 0
        rows = conn.execute(
            "SELECT key, seq FROM entries WHERE seq > ?", (self._seen_seq,)
        ).fetchall()
        for key, row_seq in rows:
            if isinstance(key, str):
                keys.add(key_prefix(key))
            self._seen_seq = max(self._seen_seq, _int(row_seq))
        self._keys = keys
        self._seen_version = version
        self._refreshed_at = time.monotonic()

    def _forget(self, key: str) -> None:
        """This process deleted ``key``: its prefix leaves the filter (worker thread)."""
        if self._keys is not None:
            self._keys.discard(key_prefix(key))

    def _lookup(
        self, conn: sqlite3.Connection, key: str, now: float, judge: Judge, miss: Counters
    ) -> Verdict | None:
        # A miss is one read, no transaction: nothing is written on the miss path. Its counters
        # join the next write of this connection (the answer's store, which follows a miss).
        if conn.execute("SELECT 1 FROM entries WHERE key = ?", (key,)).fetchone() is None:
            self._pending = self._pending + miss
            return None
        with self._with_pending() as pending, transaction(conn):
            _add(conn, pending)
            row = conn.execute(f"SELECT {_ROW} FROM entries WHERE key = ?", (key,)).fetchone()
            if row is None:  # removed by another process since the read above
                _add(conn, miss)
                return None
            try:
                record = _record(row)
            except (TypeError, ValueError):  # a column with an impossible value: tampered
                self._gone.append(key)
                size = _delete(conn, key) or 0
                _add(conn, miss + Counters(integrity_failures=1), bytes=-size, entries=-1)
                return None
            if not now < record.expires_at:
                self._gone.append(key)
                _delete(conn, key)
                _add(conn, miss + Counters(expirations=1), bytes=-record.size, entries=-1)
                return None
            verdict = judge(record)
            if verdict.valid:
                conn.execute(
                    "UPDATE entries SET seq = ?, last_used_at = ?, hits = hits + 1 WHERE key = ?",
                    (_next_seq(conn), now, key),
                )
                _add(conn, verdict.counters)
            else:
                self._gone.append(key)
                _delete(conn, key)
                _add(conn, verdict.counters, bytes=-record.size, entries=-1)
            return verdict

    @staticmethod
    def _peek(conn: sqlite3.Connection, key: str) -> Record | None:
        row = conn.execute(f"SELECT {_ROW} FROM entries WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        try:
            return _record(row)
        except (TypeError, ValueError):
            return Record(str(row[0]), str(row[1]), str(row[2]), str(row[3]), 0.0, 0.0, b"", b"")

    def _put(
        self,
        conn: sqlite3.Connection,
        record: Record,
        max_bytes: int,
        now: float,
        counters: Counters,
    ) -> PutOutcome:
        if record.size > max_bytes:
            return PutOutcome(stored=False)
        with self._with_pending() as pending, transaction(conn):
            totals = _Totals(conn)
            totals.add(pending)
            outcome = self._put_in(conn, record, max_bytes, now, counters, totals)
            totals.write(conn)
            return outcome

    def _put_in(
        self,
        conn: sqlite3.Connection,
        record: Record,
        max_bytes: int,
        now: float,
        counters: Counters,
        totals: _Totals,
    ) -> PutOutcome:
        """:meth:`_put` inside the caller's transaction, its changes to the totals and counters
        kept in ``totals`` (which the caller writes before the commit)."""
        old = _delete(conn, record.key)
        if self._keys is not None:  # in before the commit: at worst a false "maybe"
            self._keys.add(key_prefix(record.key))
        totals.seq += 1
        conn.execute(
            "INSERT INTO entries(key, namespace, agent, model, created_at, expires_at, "
            "last_used_at, seq, size, hits, payload, sig) VALUES (?,?,?,?,?,?,?,?,?,0,?,?)",
            (
                record.key,
                str(record.namespace),
                record.agent,
                record.model,
                record.created_at,
                record.expires_at,
                now,
                totals.seq,
                record.size,
                record.payload,
                record.sig,
            ),
        )
        total = totals.bytes + record.size - (old or 0)
        if old is None:
            totals.entries += 1
        evicted = expired = 0
        while total > max_bytes:
            victims = conn.execute(
                "SELECT key, size, expires_at FROM entries WHERE key != ? ORDER BY seq LIMIT 64",
                (record.key,),
            ).fetchall()
            if not victims:
                break
            for victim_key, size, expires_at in victims:
                if total <= max_bytes:
                    break
                conn.execute("DELETE FROM entries WHERE key = ?", (victim_key,))
                self._gone.append(str(victim_key))
                total -= _int(size)
                totals.entries -= 1
                if now < _float(expires_at):
                    evicted += 1
                else:
                    expired += 1
        totals.bytes = total
        totals.add(counters)
        totals.count("evictions", evicted)
        totals.count("expirations", expired)
        return PutOutcome(stored=True, evicted=evicted, expired=expired)

    def _remove(self, conn: sqlite3.Connection, key: str, counters: Counters) -> bool:
        with transaction(conn):
            size = _delete(conn, key)
            if size is None:
                return False
            _add(conn, counters, bytes=-size, entries=-1)
        self._forget(key)
        return True

    def _bump(self, conn: sqlite3.Connection, counters: Counters) -> None:
        with self._with_pending() as pending:
            _add_locked(conn, counters + pending)

    def _write_pending(self, conn: sqlite3.Connection) -> None:
        if self._pending.nonzero() or self._skipped:
            self._bump(conn, Counters())

    def _stats(self, conn: sqlite3.Connection) -> BackendStats:
        self._write_pending(conn)
        raw = {str(k): int(v) for k, v in conn.execute("SELECT name, value FROM counters")}
        return BackendStats(Counters.from_mapping(raw), raw.get("entries", 0), raw.get("bytes", 0))

    @staticmethod
    def _entries(conn: sqlite3.Connection, agent: str | None, limit: int | None) -> list[EntryInfo]:
        sql = (
            "SELECT key, namespace, agent, model, created_at, expires_at, last_used_at, size, hits "
            "FROM entries"
        )
        params: list[object] = []
        if agent is not None:
            sql += " WHERE agent = ?"
            params.append(agent)
        sql += " ORDER BY seq DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [
            EntryInfo(
                key=r[0],
                namespace=r[1],
                agent=r[2],
                model=r[3],
                created_at=float(r[4]),
                expires_at=float(r[5]),
                last_used_at=float(r[6]),
                size=int(r[7]),
                hits=int(r[8]),
            )
            for r in conn.execute(sql, params)
        ]

    def _prune(self, conn: sqlite3.Connection, now: float) -> int:
        self._keys = None  # reloaded by the next job
        with transaction(conn):
            sizes = [
                _int(r[0])
                for r in conn.execute(
                    "DELETE FROM entries WHERE expires_at <= ? RETURNING size", (now,)
                ).fetchall()
            ]
            _add(conn, Counters(expirations=len(sizes)), bytes=-sum(sizes), entries=-len(sizes))
        return len(sizes)

    def _clear(self, conn: sqlite3.Connection, agent: str | None) -> int:
        self._keys = None  # reloaded by the next job
        with transaction(conn):
            if agent is None:
                cur = conn.execute("DELETE FROM entries RETURNING size")
            else:
                cur = conn.execute("DELETE FROM entries WHERE agent = ? RETURNING size", (agent,))
            sizes = [_int(r[0]) for r in cur.fetchall()]
            _add(conn, Counters(), bytes=-sum(sizes), entries=-len(sizes))
        return len(sizes)

    def _close(self) -> None:
        self._keys = None
        if self._conn is not None:
            try:
                self._write_pending(self._conn)
            except sqlite3.Error as exc:  # counters only: closing goes on
                log.warning("response cache %s: miss counters not written: %s", self.path, exc)
        self._ckpt.close()
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # --- the protocol ---------------------------------------------------------------------------------

    async def open(self, key_id: str = "") -> None:
        self._filtering = not self.read_only  # the job loads the key filter
        await self._run(lambda conn: None)

    async def aclose(self) -> None:
        await self._worker.aclose(self._close)

    async def lookup(self, key: str, now: float, judge: Judge, miss: Counters) -> Verdict | None:
        return await self._run(self._lookup, key, now, judge, miss)

    async def lookup_along(
        self,
        along: Callable[[], tuple[T, str | None]],
        now: float,
        judge: Judge,
        miss: Counters,
        then: Callable[[], None] | None = None,
    ) -> tuple[T, str | None, Verdict | Exception | None]:
        """``along()`` — a read the caller needs anyway, which also says the key — then
        :meth:`lookup` of that key, in one job on the worker thread (one hop for both), then
        ``then()`` there unless a valid entry was found. Returns ``along()``'s value, the key
        (``None``: nothing was looked up) and the verdict, or the storage error (``along`` and
        ``then`` must not raise)."""
        self.write_now()
        return await self._worker.run(self._lookup_along, along, now, judge, miss, then)

    def _lookup_along(
        self,
        along: Callable[[], tuple[T, str | None]],
        now: float,
        judge: Judge,
        miss: Counters,
        then: Callable[[], None] | None,
    ) -> tuple[T, str | None, Verdict | Exception | None]:
        value, key = along()
        outcome: Verdict | Exception | None = None
        if key is not None:
            try:
                outcome = self._guarded(self._lookup, (key, now, judge, miss))
            except Exception as exc:  # the store counts and reports it; the value still counts
                outcome = exc
        if then is not None and not (isinstance(outcome, Verdict) and outcome.valid):
            try:
                then()
            except Exception:  # the caller starts it itself when it sees the miss
                log.exception("what follows a cache miss could not be started")
        return value, key, outcome

    async def peek(self, key: str) -> Record | None:
        return await self._run(self._peek, key)

    async def put(
        self, record: Record, max_bytes: int, now: float, counters: Counters
    ) -> PutOutcome:
        return await self._run(self._put, record, max_bytes, now, counters)

    async def put_built(
        self, build: Callable[[], Record | None], max_bytes: int, now: float, counters: Counters
    ) -> PutOutcome:
        """:meth:`put` of the record ``build()`` returns, built on the worker thread (``None``:
        nothing to store). Puts queued while none has started are written by one job, in
        transactions of ``PUTS_PER_TRANSACTION`` (a burst of answers is a few commits)."""
        return await self.queue_put_built(build, max_bytes, now, counters)

    def queue_put_built(
        self, build: Callable[[], Record | None], max_bytes: int, now: float, counters: Counters
    ) -> asyncio.Future[PutOutcome]:
        """:meth:`put_built` without a coroutine (on the event loop): the future of the put,
        queued now (the store's background writes hold no task and no frame while they wait)."""
        import asyncio  # here: reading the cache (``cache stats``) never imports asyncio

        loop = asyncio.get_running_loop()
        future: asyncio.Future[PutOutcome] = loop.create_future()
        with self._puts_lock:
            self._puts.append((loop, future, build, max_bytes, now, counters))
            queued, full = self._put_scheduled, len(self._puts) >= PUTS_PER_TRANSACTION
        if not queued:  # (else the job queued, not started yet, takes this put too)
            _LIVE.add(self)
            if full or self._put_timer_loop not in (None, loop):
                self.write_now()  # a full transaction; or another loop's timer (it may be gone)
            elif self._put_timer is None:
                self._put_timer = loop.call_later(PUT_DELAY_S, self.write_now)
                self._put_timer_loop = loop
        return future

    def write_now(self) -> None:
        """Queue the write job of the puts waiting for one (on the event loop they came from;
        none waiting, or its job queued already: nothing)."""
        if self._put_timer is not None:
            self._put_timer.cancel()
            self._put_timer = self._put_timer_loop = None
        with self._puts_lock:
            if self._put_scheduled or not self._puts:
                return
            self._put_scheduled = True
        self._worker.submit(self._put_queued).add_done_callback(_retrieved)

    def write_at_exit(self) -> None:
        """At interpreter exit: write the puts still waiting for a job, on this thread (their
        loop is gone or no longer runs its timers; the worker's own exit handler may have run)."""
        with self._puts_lock:
            waiting = bool(self._puts) and not self._put_scheduled
        if waiting:
            self._put_queued()

    def _put_queued(self) -> None:
        """On the worker thread: write every put queued so far, ``PUTS_PER_TRANSACTION`` to a
        transaction (only that many records are built and encoded at once). Each chunk's callers
        hear at its commit, and its builders (with the answers they hold) are let go then: a
        burst's answers are not all kept until the last chunk is written."""
        with self._puts_lock:
            batch, self._puts = self._puts, []
            self._put_scheduled = False
        batch.reverse()  # taken from the end, in the order queued: each chunk leaves the list
        while batch:
            self._put_chunk([batch.pop() for _ in range(min(PUTS_PER_TRANSACTION, len(batch)))])

    def _put_chunk(self, taken: list[_QueuedPut]) -> None:
        """One transaction of queued puts, then their outcomes to their loops (a method of its
        own: nothing of the chunk outlives it)."""
        try:
            outcomes: list[PutOutcome | BaseException] = self._guarded(
                self._put_batch, ([t[2:] for t in taken],)
            )
        except BaseException as exc:
            outcomes = [exc] * len(taken)
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[Any, PutOutcome | BaseException]]] = {}
        for queued, outcome in zip(taken, outcomes, strict=True):
            by_loop.setdefault(queued[0], []).append((queued[1], outcome))
        for loop, settled in by_loop.items():
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
                loop.call_soon_threadsafe(_settle_puts, settled)

    def _put_batch(
        self,
        conn: sqlite3.Connection,
        items: list[tuple[Callable[[], Record | None], int, float, Counters]],
    ) -> list[PutOutcome | BaseException]:
        records: list[Record | BaseException | None] = []
        for build, *_ in items:
            try:
                records.append(build())
            except Exception as exc:  # that caller's error; the others are written
                records.append(exc)
        outcomes: list[PutOutcome | BaseException] = []
        with self._with_pending() as pending, transaction(conn):
            totals = _Totals(conn)
            totals.add(pending)
            for record, (_, max_bytes, now, counters) in zip(records, items, strict=True):
                if isinstance(record, BaseException):
                    outcomes.append(record)
                elif record is None or record.size > max_bytes:
                    outcomes.append(PutOutcome(stored=False))
                else:
                    outcomes.append(self._put_in(conn, record, max_bytes, now, counters, totals))
            totals.write(conn)
        return outcomes

    async def remove(self, key: str, counters: Counters) -> bool:
        return await self._run(self._remove, key, counters)

    async def bump(self, counters: Counters) -> None:
        if counters.nonzero():
            await self._run(self._bump, counters)

    async def stats(self) -> BackendStats:
        return await self._run(self._stats)

    async def entries(self, agent: str | None = None, limit: int | None = None) -> list[EntryInfo]:
        return await self._run(self._entries, agent, limit)

    async def prune(self, now: float) -> int:
        return await self._run(self._prune, now)

    async def clear(self, agent: str | None = None) -> int:
        return await self._run(self._clear, agent)


def _settle_puts(settled: list[tuple[Any, PutOutcome | BaseException]]) -> None:
    for future, outcome in settled:
        if future.cancelled():
            continue
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)


def _retrieved(job: asyncio.Future[None]) -> None:
    if not job.cancelled():
        job.exception()  # the job reports its errors to each put's own future


def _add_locked(conn: sqlite3.Connection, counters: Counters) -> None:
    with transaction(conn):
        _add(conn, counters)
