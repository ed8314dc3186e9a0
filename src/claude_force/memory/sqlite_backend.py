"""The SQLite side of agent memory: schema, writes, BM25 search (blocking: call off the loop).

Layout: ``memory_sessions`` holds the rows; full-text indexes over the task text (FTS5,
external content, porter stemming) exist twice — ``memory_fts`` over all sessions and one
``memory_fts_<n>`` per agent. The per-agent index keeps BM25's statistics (document counts,
average length) a function of that agent's sessions alone, so a write for agent B cannot
change the ranking of agent A's queries — which is what makes per-agent cache invalidation
exact. Every write bumps the agent's generation in ``memory_agents`` in the same transaction,
so another process's writes are seen precisely too (see :meth:`SessionDB.changes`).

Tables are prefixed ``memory_``: a claude-force 2.2 ``sessions.db`` keeps its own ``sessions``
table untouched next to them, and its rows are imported once (:meth:`SessionDB.import_legacy`).

Not thread-safe by itself: :class:`~claude_force.memory.store.MemoryStore` serialises access.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, overload

from ..state.checkpoint import AUTOCHECKPOINT_PRAGMA, BackgroundCheckpointer
from ..state.sqlite import Schema, app_id, open_database, tables_of, transaction
from .backend import COLUMNS, Changes, NewSession, SessionReads, session_of
from .errors import MemoryStoreError
from .records import (
    COMMON_MIN_SESSIONS,
    Hit,
    MatchPlan,
    SearchQuery,
    count_cap,
    is_common,
    match_expression,
    plan_match,
)
from .stems import STEMS, TOKENIZER, ascii_words

log = logging.getLogger(__name__)


_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS memory_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS memory_agents (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    gen INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS memory_sessions (
    id INTEGER PRIMARY KEY,
    uid TEXT NOT NULL UNIQUE,
    agent TEXT NOT NULL,
    task TEXT NOT NULL,
    summary TEXT NOT NULL,
    success INTEGER NOT NULL,
    simulated INTEGER NOT NULL DEFAULT 0,
    model TEXT NOT NULL,
    input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    execution_time_ms REAL NOT NULL DEFAULT 0,
    workflow TEXT,
    created_at REAL NOT NULL,
    redactions INTEGER NOT NULL DEFAULT 0,
    metadata TEXT NOT NULL DEFAULT '{{}}'
);
CREATE INDEX IF NOT EXISTS memory_sessions_by_agent ON memory_sessions(agent, created_at);
CREATE INDEX IF NOT EXISTS memory_sessions_by_time ON memory_sessions(created_at);
CREATE INDEX IF NOT EXISTS memory_sessions_filter
    ON memory_sessions(id, success, simulated, created_at);
CREATE VIRTUAL TABLE IF NOT EXISTS memory_fts USING fts5(
    task, content='memory_sessions', content_rowid='id', tokenize='{TOKENIZER}'
)
"""

GLOBAL_INDEX = "memory_fts"
COUNTED_TERMS = 512
"""Per index, at most this many terms' match counts are kept between queries (the newest used)."""
MMAP_BYTES = 256 * 2**20
CACHE_KIB = 16 * 1024


def _fail(message: str, hint: str) -> MemoryStoreError:
    return MemoryStoreError(message, hint=hint)


def _explain(exc: sqlite3.Error) -> MemoryStoreError | None:
    if "fts5" not in str(exc).lower():
        return None
    return MemoryStoreError(
        "this Python's SQLite has no FTS5 full-text search, which agent memory needs",
        hint='use a Python whose sqlite3 includes FTS5, or set "memory": {"enabled": false} '
        "in claude.json",
    )


SCHEMA = Schema(
    what="agent memory",
    application_id=app_id(b"cfM1"),
    migrations=(
        _SCHEMA + ";\nINSERT OR IGNORE INTO memory_meta(key, value) VALUES ('schema', '1'), "
        "('epoch', '0');",
    ),
    tables=tables_of(_SCHEMA),
    table_prefixes=("memory_",),  # the per-agent full-text indexes and FTS5's own tables
    legacy_tables=frozenset({"sessions"}),  # claude-force 2.2's, imported once, left as it is
    fail=_fail,
    explain=_explain,
    fix="point memory.path elsewhere",
    # Reads through a memory map and a larger page cache: a query touches a few thousand index
    # entries scattered over the file (both are bounds, not allocations).
    # The log is checkpointed on a thread of its own (state/checkpoint.py), not inside the
    # commit of a write that the next run's memory search would wait for.
    pragmas=(f"mmap_size = {MMAP_BYTES}", f"cache_size = -{CACHE_KIB}", AUTOCHECKPOINT_PRAGMA),
)

INLINE_MAX_SESSIONS = 10_000
"""A bounded search (``max_scored``) is made only in an index of at most this many sessions. What
it may count first does not grow with the index beyond that: each term is counted up to half
the sessions and at most one past the search budget (4,001), about 0.05 µs a session, once (kept
for the next lookups, brought up to date by counting only the newer sessions). Issue #10: at
1,000 the bound sent every lookup of an agent with a longer history to the worker thread, and
the run's overhead grew by ≈ 1 ms; measured at 10,000 sessions of everyday tasks, a lookup on
the event loop (answered or refused) takes 0.4-0.5 ms p50, 1.6 ms p99 cold, about what the
worker's would take plus its hop."""
VOCABULARY_MAX_SESSIONS = INLINE_MAX_SESSIONS
"""The largest index whose terms are kept in memory (read once on memory's worker, ≈ 4.5 ms for
ten thousand sessions of everyday tasks, then grown by the tasks written)."""


Unwritten = Callable[[str | None, Sequence[str]], bool]
"""``unwritten(agent, terms)``: whether a session of ``agent`` handed to memory and not written
yet may match any of ``terms`` (see ``memory/pending.py``)."""


class TooCostly(Exception):
    """A bounded search would score more sessions than asked (or its cost is not known yet):
    make it unbounded, off the event loop."""


class WaitingMatch(TooCostly):
    """A session handed to memory and not written yet may be among the search's results (the
    ``unwritten`` check): write the waiting sessions (those of ``agent`` that may hold one of
    ``terms``, at least), then search."""

    def __init__(self, agent: str | None, terms: Sequence[str]) -> None:
        super().__init__(agent, tuple(terms))
        self.agent = agent
        self.terms = tuple(terms)


class WriteBusy(Exception):
    """A write that was not to wait found the database's write lock held (by another process,
    or this one's checkpoint): nothing was written."""


CHECKPOINT_EVERY = 32
"""Sessions written between background checkpoints (a session is ~16 pages of log with its
two full-text index rows; SQLite's own default checkpoints every 1,000 pages)."""


@dataclass(frozen=True, slots=True)
class _Count:
    """A term's matching sessions among those with ids up to ``upto``: ``n`` exactly, or at
    least ``n`` (a count stopped at its cap)."""

    n: int
    upto: int
    exact: bool


class SessionDB(SessionReads):
    """One memory database file; opened at first use."""

    TABLE = "memory_sessions"
    P = "?"
    SUCCESS = "s.success"

    def __init__(self, path: Path, *, busy_timeout_s: float = 30.0) -> None:
        self.path = Path(path)
        self.busy_timeout_s = busy_timeout_s
        self._conn: sqlite3.Connection | None = None
        self._indexes: dict[str, str] = {}  # agent → its FTS table
        # agent (None: all) → its sessions: an upper bound of any term's matches in its index,
        # counted at first need and kept current by this connection's writes
        self._sizes: dict[str | None, int] = {}
        # index → term → its matching sessions among those up to a rowid: counted at first
        # need, then brought up to date by counting only the newer rows (sessions are only
        # appended, with growing ids, until a delete or another connection's write clears it)
        self._counts: dict[str, dict[str, _Count]] = {}
        # index → (every term it holds, the largest session id it was read after): read after
        # this connection's writes to an index of at most VOCABULARY_MAX_SESSIONS sessions (on
        # memory's worker), so a term it lacks counts 0 without a statement; cleared with counts
        self._vocab: dict[str, tuple[set[str], int]] = {}
        self._vocab_wanted: set[str] = set()  # indexes a lookup on the caller's thread searched
        self._data_version: int | None = None
        self._ckpt = BackgroundCheckpointer(
            self.path, every=CHECKPOINT_EVERY, name="claude-force-memory-checkpoint"
        )

    # --- connection ------------------------------------------------------------------------------

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = self._connect()
        return self._conn

    def _connect(self) -> sqlite3.Connection:
        conn = open_database(self.path, SCHEMA, busy_timeout_s=self.busy_timeout_s).conn
        self._data_version = int(conn.execute("PRAGMA data_version").fetchone()[0])
        return conn

    def _all(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self.conn.execute(sql, list(args)).fetchall()

    def close(self) -> None:
        self._ckpt.close()
        if self._conn is not None:
            self._conn.close()
            self._conn = None
            self._indexes.clear()
            self._forget_counts()

    def _forget_counts(self) -> None:
        self._sizes.clear()
        self._counts.clear()
        self._vocab.clear()

    def _grow_vocabulary(
        self, sessions: Sequence[NewSession], upto: int, *, read: bool = True
    ) -> None:
        """After this connection's write of ``sessions`` (ids up to ``upto``): the term list of
        each written agent's index that a lookup on the event loop has searched (a burst of
        concurrent runs never does: it is not kept for them) and that holds at most
        :data:`VOCABULARY_MAX_SESSIONS` sessions,
        for :meth:`_doc_counts` — read whole the first time, then grown by the stems of the
        tasks written (a read of the whole list after every write held the GIL long enough to
        delay the event loop by milliseconds)."""
        for agent in {s.agent for s in sessions}:
            index = self._index_of(agent)
            if index is None or index not in self._vocab_wanted:
                continue  # (kept only for the indexes lookups on the event loop search)
            if self._indexed(agent, upto=VOCABULARY_MAX_SESSIONS) is None:
                self._vocab.pop(index, None)
                continue
            known = self._vocab.get(index)
            if known is None:
                if read:  # (else at the next write that may read it: ≈ 4.5 ms at 10,000)
                    self._read_vocabulary(index)
                continue
            words: list[str] = []
            for s in sessions:
                found = ascii_words(s.task) if s.agent == agent else []
                if found is None:  # not split here: read whole at the next write
                    self._vocab.pop(index, None)
                    break
                words += found
            else:
                known[0].update(STEMS.of(words))
                self._vocab[index] = (known[0], upto)

    def _read_vocabulary(self, index: str) -> None:
        conn = self.conn
        conn.execute(
            f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.{index}_terms "
            f"USING fts5vocab(main, {index}, row)"
        )
        # the largest id first: every session up to it is in the terms read after it
        upto = int(conn.execute("SELECT coalesce(max(id), 0) FROM memory_sessions").fetchone()[0])
        terms = {str(r[0]) for r in conn.execute(f"SELECT term FROM temp.{index}_terms")}
        self._vocab[index] = (terms, upto)

    # --- generations -----------------------------------------------------------------------------

    def changed_elsewhere(self) -> bool:
        """Whether another connection committed since the last call (cheap: no table read)."""
        version = int(self.conn.execute("PRAGMA data_version").fetchone()[0])
        changed = version != self._data_version
        self._data_version = version
        if changed:
            self._forget_counts()  # it may have deleted sessions
        return changed

    def changes(self) -> Changes:
        conn = self.conn
        epoch = int(conn.execute("SELECT value FROM memory_meta WHERE key = 'epoch'").fetchone()[0])
        agents = {str(n): int(g) for n, g in conn.execute("SELECT name, gen FROM memory_agents")}
        return Changes(epoch, agents)

    # --- writes ----------------------------------------------------------------------------------

    def add(self, sessions: Iterable[NewSession], *, wait: bool = True) -> dict[str, int]:
        """Store sessions in one transaction; returns the new generation of each agent written.

        ``wait=False``: raise :class:`WriteBusy` at once, with nothing written, when the write
        lock is held, instead of waiting up to the busy timeout for it (a write on the event
        loop must not wait); the index's term list is then not read whole either (only grown)."""
        conn = self.conn
        touched: set[str] = set()
        added: dict[str, int] = {}
        sessions = list(sessions)
        try:
            if not wait:
                conn.execute("PRAGMA busy_timeout = 0")
            try:
                with transaction(conn):
                    last = conn.execute("SELECT coalesce(max(id), 0) FROM memory_sessions")
                    before = int(last.fetchone()[0])
                    gens = self._insert(conn, sessions, touched, added, before)
            finally:
                if not wait:
                    conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_s * 1000)}")
        except sqlite3.OperationalError as exc:
            self._indexes.clear()  # an agent's index created in the rolled-back transaction
            if not wait and exc.sqlite_errorcode in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                # nothing was written (in WAL mode only taking the write lock waits): the
                # counts kept still hold
                raise WriteBusy(str(exc)) from exc
            self._forget_counts()
            raise
        except BaseException:
            self._indexes.clear()  # an agent's index created in the rolled-back transaction
            self._forget_counts()
            raise
        for agent, n in added.items():
            if agent in self._sizes:
                self._sizes[agent] += n
        if None in self._sizes:
            self._sizes[None] += sum(added.values())
        self._ckpt.count(sum(added.values()))
        try:
            # (the ids of a BEGIN IMMEDIATE transaction's rows follow the largest one before)
            self._grow_vocabulary(sessions, before + sum(added.values()), read=wait)
        except sqlite3.Error as exc:  # an optimisation: the counts are made by statements then
            log.debug("memory: index terms not read: %s", exc)
            self._vocab.clear()
        return gens

    def _insert(
        self,
        conn: sqlite3.Connection,
        sessions: Iterable[NewSession],
        touched: set[str],
        added: dict[str, int],
        before: int,
    ) -> dict[str, int]:
        """The sessions' rows in one statement, then each full-text index's entries for them in
        one more (filled from the rows just written), instead of three statements a session.
        The new rows are those above the largest id before: SQLite gives a row of an ``INTEGER
        PRIMARY KEY`` table the largest id plus one, and the transaction (``BEGIN IMMEDIATE``)
        keeps every other writer out."""
        rows = []
        for s in sessions:
            self._index_for_write(s.agent)  # the agent's index exists before its rows
            rows.append(s.row())
        if not rows:
            return {}
        conn.executemany(
            "INSERT INTO memory_sessions(uid, agent, task, summary, success, "
            "simulated, model, input_tokens, output_tokens, execution_time_ms, workflow, "
            "created_at, redactions, metadata) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
            "ON CONFLICT(uid) DO NOTHING",  # a session with this id exists (an import run twice)
            rows,
        )
        for agent, n in conn.execute(
            "SELECT agent, count(*) FROM memory_sessions WHERE id > ? GROUP BY agent", (before,)
        ):
            touched.add(agent)
            added[agent] = int(n)
        if not touched:
            return {}
        new = "SELECT id, task FROM memory_sessions WHERE id > ?"
        conn.execute(f"INSERT INTO {GLOBAL_INDEX}(rowid, task) {new}", (before,))
        for agent in touched:
            index = self._index_for_write(agent)
            conn.execute(f"INSERT INTO {index}(rowid, task) {new} AND agent = ?", (before, agent))
        return self._bump(touched)

    def delete(
        self, *, before: float | None = None, agent: str | None = None
    ) -> tuple[int, set[str]]:
        """Remove sessions created before ``before`` and/or of ``agent`` (all when both are None).

        Returns how many were removed and which agents lost sessions.
        """
        conn = self.conn
        cond, params = self._where(before, agent)
        self._forget_counts()
        with transaction(conn):
            rows = conn.execute(
                f"SELECT id, agent, task FROM memory_sessions{cond}", params
            ).fetchall()
            if not rows:
                return 0, set()
            agents: set[str] = set()
            by_index: dict[str, list[tuple[str, int, str]]] = {}
            for rowid, name, task in rows:
                agents.add(name)
                index = self._index_of(name)
                if index is not None:
                    by_index.setdefault(index, []).append(("delete", rowid, task))
            if before is None and agent is None:
                conn.execute(f"INSERT INTO {GLOBAL_INDEX}({GLOBAL_INDEX}) VALUES ('delete-all')")
                for index in by_index:
                    conn.execute(f"INSERT INTO {index}({index}) VALUES ('delete-all')")
            else:
                conn.executemany(
                    f"INSERT INTO {GLOBAL_INDEX}({GLOBAL_INDEX}, rowid, task) VALUES (?, ?, ?)",
                    [("delete", r, t) for r, _, t in rows],
                )
                for index, items in by_index.items():
                    conn.executemany(
                        f"INSERT INTO {index}({index}, rowid, task) VALUES (?, ?, ?)", items
                    )
            conn.execute(f"DELETE FROM memory_sessions{cond}", params)
            self._bump(agents)
            if before is None and agent is None:
                conn.execute(
                    "UPDATE memory_meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'epoch'"
                )
        self._ckpt.count(len(rows))
        return len(rows), agents

    def _bump(self, agents: set[str]) -> dict[str, int]:
        out: dict[str, int] = {}
        for name in sorted(agents):
            row = self.conn.execute(
                "UPDATE memory_agents SET gen = gen + 1 WHERE name = ? RETURNING gen", (name,)
            ).fetchone()
            if row is not None:
                out[name] = int(row[0])
        return out

    def _index_of(self, agent: str) -> str | None:
        index = self._indexes.get(agent)
        if index is None:
            row = self.conn.execute(
                "SELECT id FROM memory_agents WHERE name = ?", (agent,)
            ).fetchone()
            if row is None:
                return None
            index = self._indexes[agent] = f"memory_fts_{int(row[0])}"
        return index

    def _index_for_write(self, agent: str) -> str:
        index = self._index_of(agent)
        if index is not None:
            return index
        cur = self.conn.execute("INSERT INTO memory_agents(name) VALUES (?)", (agent,))
        index = f"memory_fts_{int(cur.lastrowid or 0)}"
        self.conn.execute(
            f"CREATE VIRTUAL TABLE IF NOT EXISTS {index} USING fts5(task, "
            f"content='memory_sessions', content_rowid='id', tokenize='{TOKENIZER}')"
        )
        self._indexes[agent] = index
        return index

    # --- reads -----------------------------------------------------------------------------------

    def search(
        self,
        q: SearchQuery,
        *,
        cutoff: float | None,
        budget: int,
        max_scored: int | None = None,
        unwritten: Unwritten | None = None,
    ) -> list[Hit]:
        """The best sessions for ``q`` by BM25 over their task text, newest first among equals.

        ``max_scored``: raise :class:`TooCostly` instead of ranking more than that many
        sessions (``0``: answer only what needs no ranking nor counting — an agent without
        sessions, a query without words); also when the agent's index holds more than
        :data:`INLINE_MAX_SESSIONS` sessions or its size is not known yet. Counts made before
        the refusal are kept, so the unbounded search that follows does not repeat them.
        ``unwritten``: raise :class:`TooCostly` when a session not written yet may match a term
        the search would match on (it would be missing here)."""
        terms = q.terms
        index = GLOBAL_INDEX if q.agent is None else self._index_of(q.agent)
        if index is None:  # the agent has never stored a session (but one may be on its way)
            if unwritten is not None and unwritten(q.agent, terms):
                raise WaitingMatch(q.agent, terms)
            return []
        if not terms:
            return self._recent(q, cutoff)
        if max_scored is not None:
            self._vocab_wanted.add(index)  # a lookup on the caller's thread: keep its terms
            if max_scored <= 0 or self._indexed(q.agent, upto=INLINE_MAX_SESSIONS) is None:
                raise TooCostly
        sessions = self._indexed(q.agent)
        rule = q.informative_only and sessions >= COMMON_MIN_SESSIONS  # see plan_match
        if not rule and sessions * len(terms) <= budget:
            # no term is dropped as common, and every term together matches at most
            # ``budget`` sessions, so the plan would keep them all and rank exactly — the
            # per-term counts are not needed (a term that matches nothing adds nothing to the
            # query's matches or scores)
            plan = MatchPlan(terms)
            scored = sessions
            absent: tuple[str, ...] = ()
        else:
            n = sessions if rule else 0  # 0: no term is common
            counts = self._doc_counts(index, terms, count_cap(n, budget), n)
            plan = plan_match(counts, budget, n)
            scored = min(sum(df for t, df in counts if t in plan.terms), sessions, budget)
            absent = tuple(t for t, df in counts if df == 0)  # not in the plan: nothing has them
        searched = plan.terms + absent
        if unwritten is not None and unwritten(q.agent, searched):
            # a session on its way may match what is searched, or a word no session has yet
            # (a term common here stays common with it); checked before an empty plan returns
            raise WaitingMatch(q.agent, searched)
        if plan.empty:
            return []
        if max_scored is not None and scored > max_scored:
            raise TooCostly
        expr = match_expression(plan.terms)
        where = [f"{index} MATCH ?"]
        params: list[Any] = [expr]
        if plan.windowed:
            row = self.conn.execute(
                f"SELECT rowid FROM {index} WHERE {index} MATCH ? ORDER BY rowid DESC "
                "LIMIT 1 OFFSET ?",
                (expr, budget - 1),
            ).fetchone()
            if row is not None:
                where.append(f"{index}.rowid >= ?")
                params.append(int(row[0]))
        where, params = self._filters(q, cutoff, where, params)
        # Rank and filter through the narrow covering index (the wide rows are not read for
        # the thousands of candidates), then fetch only the winners.
        ranked = self.conn.execute(
            f"SELECT s.id, {index}.rank FROM {index} CROSS JOIN memory_sessions AS s "
            f"INDEXED BY memory_sessions_filter ON s.id = {index}.rowid "
            f"WHERE {' AND '.join(where)} "
            f"ORDER BY {index}.rank, s.created_at DESC, s.id DESC LIMIT ?",
            [*params, q.limit],
        ).fetchall()
        if not ranked:
            return []
        rows = {
            int(r[0]): r[1:]
            for r in self.conn.execute(
                f"SELECT s.id, {COLUMNS} FROM memory_sessions AS s WHERE s.id IN "
                f"({','.join('?' * len(ranked))})",
                [int(r[0]) for r in ranked],
            )
        }
        return [Hit(session_of(rows[int(i)]), -float(rank)) for i, rank in ranked]

    @overload
    def _indexed(self, agent: str | None) -> int: ...
    @overload
    def _indexed(self, agent: str | None, upto: int) -> int | None: ...

    def _indexed(self, agent: str | None, upto: int | None = None) -> int | None:
        """How many sessions the index of ``agent`` (``None``: the global one) holds; with
        ``upto``, ``None`` when more than that (then counted no further: a bounded cost)."""
        n = self._sizes.get(agent)
        if n is None:
            where = "" if agent is None else " WHERE agent = ?"
            args: list[object] = [] if agent is None else [agent]
            if upto is None:
                sql = "SELECT count(*) FROM memory_sessions" + where
            else:
                sql = f"SELECT count(*) FROM (SELECT 1 FROM memory_sessions{where} LIMIT ?)"
                args.append(upto + 1)
            n = int(self.conn.execute(sql, args).fetchone()[0])
            if upto is not None and n > upto:
                return None
            self._sizes[agent] = n
        return n if upto is None or n <= upto else None

    def _doc_counts(
        self, index: str, terms: Sequence[str], cap: int, sessions: int = 0
    ) -> list[tuple[str, int]]:
        """Sessions matching each term, counted up to ``cap`` (the plan needs no more), in one
        statement.

        A term counted before is brought up to date by counting only the sessions stored since
        (their ids are larger: sessions are only appended until a delete, or another
        connection's write, forgets every count). A count that stopped at a cap is a lower
        bound, and so is it plus the newer sessions' count: it serves once that reaches the cap
        asked for (a term in every session keeps doing so: it gains one match per session, the
        cap half a session); one that falls short is counted afresh, in a second statement.

        With ``sessions`` (the index's size, when the common-term rule applies), a kept count
        that already proves its term common among that many sessions is not brought up to
        date: matches only grow, so the term is common whatever the newer sessions hold, and
        the plan drops it either way. A task of the same shape as the agent's past ones (its
        words in every session) then counts only its other words (issue #10: a context
        lookup at 330 sessions of that shape, just after a write, 0.13 → 0.05 ms).
        """
        known = self._counts.setdefault(index, {})
        counts: dict[str, _Count] = {}
        asked: list[tuple[str, _Count | None]] = []
        vocab = self._vocab.get(index)
        for t in terms:
            old = known.get(t)
            if old is not None and is_common(min(old.n, cap), sessions):
                counts[t] = old  # proves the term common: the plan drops it either way
            elif old is None and vocab is not None and not STEMS.of_term(t) & vocab[0]:
                counts[t] = _Count(0, vocab[1], True)  # no session holds it (no statement)
            else:
                asked.append((t, old))
        while asked:
            short = self._count(index, asked, cap, counts)
            asked = [(t, None) for t in short]  # lower bounds short of the cap: afresh
        out: list[tuple[str, int]] = []
        for t in terms:
            count = counts[t]
            known.pop(t, None)
            known[t] = count  # the most recently used last
            out.append((t, min(count.n, cap)))
        while len(known) > COUNTED_TERMS:
            del known[next(iter(known))]
        return out

    def _count(
        self,
        index: str,
        asked: Sequence[tuple[str, _Count | None]],
        cap: int,
        counts: dict[str, _Count],
    ) -> list[str]:
        """One statement: each term's matches up to ``cap`` — afresh, or (with its kept count)
        among the sessions newer than that count — into ``counts``. Returns the terms whose
        updated count is a lower bound short of ``cap`` (not usable: count them afresh)."""
        fresh = f"(SELECT count(*) FROM (SELECT rowid FROM {index} WHERE {index} MATCH ? LIMIT ?))"
        # newest first: FTS5 finds the sessions after a rowid faster from the end (measured)
        newer = (
            f"(SELECT count(*) FROM (SELECT rowid FROM {index} WHERE {index} MATCH ? "
            "AND rowid > ? ORDER BY rowid DESC LIMIT ?))"
        )
        parts = ["(SELECT max(id) FROM memory_sessions)"]
        params: list[object] = []
        for t, old in asked:
            if old is None:
                parts.append(fresh)
                params += [f'"{t}"', cap]
            else:
                parts.append(newer)
                params += [f'"{t}"', old.upto, cap]
        row = self.conn.execute("SELECT " + ", ".join(parts), params).fetchone()
        upto = int(row[0] or 0)
        short: list[str] = []
        for (t, old), n in zip(asked, row[1:], strict=True):
            got = int(n)
            if old is None:
                counts[t] = _Count(got, upto, got < cap)
                continue
            count = _Count(old.n + got, upto, old.exact and got < cap)
            if not count.exact and count.n < cap:
                short.append(t)
            else:
                counts[t] = count
        return short

    # --- claude-force 2.2 ------------------------------------------------------------------------

    def legacy_rows(self, source: Path | None = None) -> list[tuple[Any, ...]] | None:
        """Rows of a claude-force 2.2 ``sessions`` table — in this file, or in ``source`` (the
        2.2 orchestrator's ``.claude/sessions.db``) — not imported yet (None: nothing to do)."""
        conn = self.conn
        done = conn.execute("SELECT 1 FROM memory_meta WHERE key = 'legacy_imported'").fetchone()
        if done is not None:
            return None
        schema = "main"
        if source is not None and source.resolve() != self.path.resolve():
            if not source.is_file():
                return None
            conn.execute("ATTACH DATABASE ? AS legacy", (str(source),))
            schema = "legacy"
        try:
            cols = {str(r[1]) for r in conn.execute(f"PRAGMA {schema}.table_info(sessions)")}
            needed = {"session_id", "agent_name", "task", "output", "success", "timestamp"}
            if not needed <= cols:
                return None
            optional = ["execution_time_ms", "model", "input_tokens", "output_tokens", "metadata"]
            picks = [c if c in cols else "NULL" for c in optional]
            return conn.execute(
                "SELECT session_id, agent_name, task, output, success, timestamp, "
                + ", ".join(picks)
                + f" FROM {schema}.sessions"
            ).fetchall()
        finally:
            if schema == "legacy":
                conn.execute("DETACH DATABASE legacy")

    def mark_legacy_imported(self) -> None:
        self.conn.execute(
            "INSERT OR REPLACE INTO memory_meta(key, value) VALUES ('legacy_imported', '1')"
        )
