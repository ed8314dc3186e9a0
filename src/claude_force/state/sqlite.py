"""The one way claude-force keeps state in SQLite: cache, memory and metrics all open through here.

What every database gets:

- **Pragmas.** WAL journal, ``synchronous = NORMAL``, a busy timeout (other processes share the
  file through SQLite's own locking), plus the store's own (:attr:`Schema.pragmas`).
- **An owner mark.** ``PRAGMA application_id`` names the store that owns the file (the cache,
  memory, metrics); ``PRAGMA user_version`` is its schema version.
- **Migrations.** :attr:`Schema.migrations` ``[n]`` brings version ``n`` to ``n + 1``; they run
  at open, in one ``BEGIN IMMEDIATE`` transaction, so two processes opening an old file at once
  migrate it once. A file written by a newer claude-force (a higher version) is refused.
- **Foreign-file policy.** A valid SQLite database that belongs to something else — another
  application id, or no id and tables that are not the store's — is never modified: it is
  refused with an error naming the file and the fix. (A file without an id whose tables are all
  the store's, or 2.2's known tables, was written before ids existed and is adopted.)
- **Corrupt-file policy.** A file that is not SQLite, or that SQLite reports as corrupt, is moved
  aside (``<name>.corrupt-<time>-<pid>``, with its ``-wal``/``-shm``) with a warning that says
  where, and a fresh database is started: state is a cache of the past, never a reason to fail a
  run. Read-only opens (``cache stats``) report the damage and leave the file as it is.
- **One thread model.** A connection is used by one thread at a time: a store's blocking methods
  hold the store's lock, and async callers reach them through the store's one :class:`Worker`
  thread (``state/worker.py``) — one hop per operation (not per statement, which is why not
  aiosqlite), and the event loop never blocks. This module imports neither asyncio nor a thread
  pool: the read-only commands (``memory stats``, ``analytics summary``) open stores through it
  without loading them.

Hand-written on the standard library's ``sqlite3`` on purpose: the policies above are the point,
and no maintained library offers them together.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)


SQLITE_MAGIC = b"SQLite format 3\x00"

WRITE_CACHE_KIB = 256
"""The page cache of a connection that mostly appends (the response cache's entries, the metrics
rows): SQLite's default bound is 2 MB per connection, and such a connection fills it with the
pages it has just written, which nothing reads again soon (a lookup reads one entry's pages;
analytics scan tables far larger than any cache). 256 KiB holds a write transaction's index
pages (docs/tuning.md, "Memory at 1,000 in flight": −2 MB at the peak there)."""
WRITE_CACHE_PRAGMA = f"cache_size = -{WRITE_CACHE_KIB}"
_SQLITE_CORRUPT = 11
_SQLITE_NOTADB = 26

Migration = str | Callable[[sqlite3.Connection], None]
"""A SQL script (statements separated by ``;``) or a function given the connection."""

ErrorFactory = Callable[[str, str], Exception]
"""``(message, hint)`` → the store's own error type."""


def app_id(tag: bytes) -> int:
    """A four-byte tag as an ``application_id`` (``b"cfC1"`` for the cache)."""
    return int.from_bytes(tag, "big")


def tables_of(*scripts: str) -> frozenset[str]:
    """The tables a schema script creates."""
    found = re.findall(
        r"CREATE\s+(?:VIRTUAL\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)", "\n".join(scripts), re.I
    )
    return frozenset(found)


@dataclass(frozen=True, slots=True)
class Schema:
    """What one store's database holds, and how its errors read."""

    what: str
    """The store in words, for messages: ``"response cache"``, ``"agent memory"``…"""
    application_id: int
    migrations: tuple[Migration, ...]
    tables: frozenset[str]
    """The store's tables (to adopt a file written before application ids)."""
    fail: ErrorFactory
    """The error raised when the file cannot be used (its message names the file)."""
    foreign: ErrorFactory | None = None
    """The error for a file that belongs to something else (default: ``fail``)."""
    explain: Callable[[sqlite3.Error], Exception | None] | None = None
    """A store's own reading of an error at open (memory: SQLite without FTS5); ``None``: the
    generic message."""
    fix: str = "point the setting at another file"
    """What the user does about a foreign or newer file (names the setting)."""
    table_prefixes: tuple[str, ...] = ()
    """Tables starting with one of these are the store's too (FTS indexes made at run time)."""
    legacy_tables: frozenset[str] = frozenset()
    """2.2 tables that may share the file; left untouched."""
    pragmas: tuple[str, ...] = ()
    """Further ``PRAGMA`` settings, after the common ones."""
    fresh_pragmas: tuple[str, ...] = ()
    """Pragmas that must precede the first table (``auto_vacuum``): run on an empty file only."""

    @property
    def version(self) -> int:
        return len(self.migrations)

    def owns(self, table: str) -> bool:
        return (
            table.startswith("sqlite_")
            or table in self.tables
            or table in self.legacy_tables
            or table.startswith(self.table_prefixes or ("\0",))
        )


def is_corruption(exc: BaseException) -> bool:
    """Whether SQLite says the file is damaged or not a database (not: locked, full, missing)."""
    if not isinstance(exc, sqlite3.DatabaseError):
        return False
    if isinstance(exc, sqlite3.OperationalError) and "malformed" not in str(exc):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int) and code & 0xFF in (_SQLITE_CORRUPT, _SQLITE_NOTADB):
        return True
    text = str(exc).lower()
    return "malformed" in text or "not a database" in text


@contextlib.contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One ``BEGIN IMMEDIATE`` transaction (a connection opened here is in autocommit mode):
    all of it is committed, or none of it."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def statements(script: str) -> Iterator[str]:
    """The complete statements of a script (triggers' ``BEGIN … END`` kept whole)."""
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            if pending.strip().strip(";").strip():
                yield pending
            pending = ""
    if pending.strip():
        yield pending


def move_aside(path: Path, reason: str, what: str, *, inode: int | None = None) -> str | None:
    """Rename a damaged database (and its ``-wal``/``-shm``) to ``<name>.corrupt-<stamp>`` and
    log a warning; returns the stamp. ``None`` when there was nothing to move, or ``inode`` no
    longer matches (another process already replaced the file: just reconnect)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    if inode is not None and st.st_ino != inode:
        return None
    stamp = time.strftime("%Y%m%dT%H%M%S") + f"-{os.getpid()}"
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.replace(f"{path}{suffix}", f"{path}{suffix}.corrupt-{stamp}")
    log.warning(
        "%s %s was damaged (%s); moved aside as %s.corrupt-%s, starting fresh",
        what,
        path,
        reason,
        path.name,
        stamp,
    )
    return stamp


@dataclass(slots=True)
class Opened:
    conn: sqlite3.Connection
    inode: int
    moved_aside: int = 0
    """How many damaged files were moved aside on the way (the cache counts them)."""
    migrated_from: int = field(default=0)


def open_database(
    path: Path,
    schema: Schema,
    *,
    busy_timeout_s: float = 30.0,
    read_only: bool = False,
) -> Opened:
    """Open (creating it and its folder, mode 0700) the database at ``path`` under the policies
    above. ``read_only``: a damaged file raises ``schema.fail`` instead of being moved aside."""
    moved = 0
    for attempt in (1, 2):
        try:
            if _damaged_header(path, schema):
                moved += _quarantine(path, "not a SQLite database", schema, read_only)
            opened = _open(path, schema, busy_timeout_s)
            opened.moved_aside = moved
            return opened
        except sqlite3.DatabaseError as exc:
            if attempt == 2 or not is_corruption(exc):
                explained = schema.explain(exc) if schema.explain else None
                if explained is not None:
                    raise explained from exc
                raise schema.fail(
                    f"the {schema.what} {path} cannot be used: {exc}",
                    "check the state directory's permissions and free space",
                ) from exc
            moved += _quarantine(path, str(exc), schema, read_only)
    raise AssertionError("unreachable")


def _damaged_header(path: Path, schema: Schema) -> bool:
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with open(path, "rb") as fh:
            head = fh.read(len(SQLITE_MAGIC))
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise schema.fail(
            f"cannot open the {schema.what} {path}: {exc}",
            "check the state directory's permissions and free space",
        ) from exc
    return bool(head) and head != SQLITE_MAGIC


def _quarantine(path: Path, reason: str, schema: Schema, read_only: bool) -> int:
    if read_only:
        raise schema.fail(
            f"the {schema.what} {path} is damaged ({reason}); it was left as it is",
            "a command that writes it moves it aside and starts fresh",
        )
    return 1 if move_aside(path, reason, schema.what) else 0


def _open(path: Path, schema: Schema, busy_timeout_s: float) -> Opened:
    try:
        conn = sqlite3.connect(
            path, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False
        )
    except sqlite3.Error as exc:
        raise schema.fail(
            f"cannot open the {schema.what} {path}: {exc}",
            "check the state directory's permissions and free space",
        ) from exc
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
        found = int(conn.execute("PRAGMA application_id").fetchone()[0])
        if found != schema.application_id:
            _check_adoptable(conn, path, schema, found)
            if not conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchone():
                for pragma in schema.fresh_pragmas:
                    conn.execute(f"PRAGMA {pragma}")
        _enter_wal(conn, busy_timeout_s)
        conn.execute("PRAGMA synchronous = NORMAL")
        for pragma in schema.pragmas:
            conn.execute(f"PRAGMA {pragma}")
        before = _migrate(conn, path, schema)
    except BaseException:
        conn.close()
        raise
    return Opened(conn, os.stat(path).st_ino, migrated_from=before)


def _enter_wal(conn: sqlite3.Connection, busy_timeout_s: float) -> None:
    """Switch the file to WAL (a no-op once it is), waiting out other processes doing the same.

    Two processes opening a new file at once race to switch it, and SQLite answers the loser's
    switch with "database is locked" at once, without calling its busy handler (the switch needs
    the file to itself, and waiting inside it could deadlock). So the wait is here: a short
    backoff, bounded by the same busy timeout as every other statement.
    """
    deadline = time.monotonic() + busy_timeout_s
    pause = 0.001
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            code = getattr(exc, "sqlite_errorcode", None)
            if not isinstance(code, int) or code & 0xFF != sqlite3.SQLITE_BUSY:
                raise
            if time.monotonic() + pause > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.05)


def _check_adoptable(conn: sqlite3.Connection, path: Path, schema: Schema, found: int) -> None:
    names = [str(r[0]) for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    if found == 0 and all(schema.owns(n) for n in names):
        return
    whose = f"application id {found:#x}" if found else f"tables {', '.join(sorted(names)[:4])}"
    raise (schema.foreign or schema.fail)(
        f"{path} is a SQLite database that is not a claude-force {schema.what} ({whose}); "
        "it was left untouched",
        f"{schema.fix}, or move that file away",
    )


def _migrate(conn: sqlite3.Connection, path: Path, schema: Schema) -> int:
    """Bring the file to ``schema.version``; returns the version it had."""
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    current = int(conn.execute("PRAGMA application_id").fetchone()[0]) == schema.application_id
    if version == schema.version and current:
        return version
    if version > schema.version:
        raise schema.fail(
            f"the {schema.what} {path} was written by a newer claude-force (schema {version}, "
            f"this one reads {schema.version})",
            f"upgrade claude-force, or {schema.fix}",
        )
    with transaction(conn):
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])  # another process?
        for step in schema.migrations[version:]:
            if callable(step):
                step(conn)
            else:
                for sql in statements(step):
                    conn.execute(sql)
        conn.execute(f"PRAGMA application_id = {schema.application_id}")
        conn.execute(f"PRAGMA user_version = {schema.version}")
    return version
