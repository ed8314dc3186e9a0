"""Agent memory in PostgreSQL (cluster mode): the same interface as the SQLite session database,
so :class:`~claude_force.memory.store.MemoryStore` (redaction, retention, the query cache) runs
unchanged on top of it.

Relevance: PostgreSQL full-text search over the task text (a stored ``tsvector`` with a GIN
index; the query's terms OR-ed, ranked by ``ts_rank``, newest first among equals). As with
SQLite, a term found in at least half of the agent's sessions is not searched on once it has
:data:`~claude_force.memory.records.COMMON_MIN_SESSIONS` of them (``docs/memory.md``). The query
cache of every process stays exact across processes: each write bumps a global version and the
writing agent's generation in the same transaction, and :meth:`changed_elsewhere` reads the
version (one indexed row) before a cached answer is used.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import psycopg

from ..memory.backend import COLUMNS, Changes, NewSession, SessionReads, session_of
from ..memory.records import COMMON_MIN_SESSIONS, Hit, SearchQuery, count_cap, is_common
from . import pgschema
from .liveness import conninfo

MIGRATIONS = [
    """
CREATE TABLE IF NOT EXISTS claude_force.memory_sessions (
    id BIGSERIAL PRIMARY KEY,
    uid TEXT NOT NULL UNIQUE,
    agent TEXT NOT NULL,
    task TEXT NOT NULL,
    summary TEXT NOT NULL,
    success BOOLEAN NOT NULL,
    simulated BOOLEAN NOT NULL,
    model TEXT NOT NULL,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    execution_time_ms DOUBLE PRECISION NOT NULL,
    workflow TEXT,
    created_at DOUBLE PRECISION NOT NULL,
    redactions INTEGER NOT NULL,
    metadata TEXT NOT NULL,
    tsv TSVECTOR GENERATED ALWAYS AS (to_tsvector('english', task)) STORED
);
CREATE INDEX IF NOT EXISTS memory_sessions_tsv ON claude_force.memory_sessions USING GIN (tsv);
CREATE INDEX IF NOT EXISTS memory_sessions_agent ON claude_force.memory_sessions (agent, created_at);
CREATE TABLE IF NOT EXISTS claude_force.memory_agents (name TEXT PRIMARY KEY, gen BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS claude_force.memory_meta (key TEXT PRIMARY KEY, value BIGINT NOT NULL);
INSERT INTO claude_force.memory_meta (key, value) VALUES ('epoch', 0), ('version', 0)
ON CONFLICT (key) DO NOTHING;
""",
]

_S = "claude_force.memory_sessions"
_WORD = re.compile(r"[^\w]+", re.UNICODE)


def tsquery_of(terms: Sequence[str]) -> str:
    """``a | b | c`` from the query's terms (non-word characters dropped: no tsquery syntax)."""
    words = [w for t in terms for w in _WORD.split(t) if w]
    return " | ".join(dict.fromkeys(words))


class PgSessionDB(SessionReads):
    """The memory tables in the cluster's PostgreSQL (blocking; thread-safe)."""

    TABLE = _S
    P = "%s"
    SUCCESS = "s.success::int"

    def __init__(self, database_url: str) -> None:
        self.url = conninfo(database_url)
        self._lock = threading.RLock()
        self._conn: psycopg.Connection[Any] | None = None
        self._version = -1
        self._sizes: dict[str | None, int] = {}  # agent (None: all) → its sessions
        host, _, db = self.url.partition("@")[2].partition("/")
        self.location = f"postgresql://{host}/{db}"
        self.path = Path(self.location)

    @property
    def conn(self) -> psycopg.Connection[Any]:
        with self._lock:
            if self._conn is None or self._conn.closed:
                pgschema.migrate(self.url, "memory", MIGRATIONS)
                self._conn = psycopg.connect(self.url, autocommit=True, connect_timeout=10)
            return self._conn

    def close(self) -> None:
        with self._lock:
            self._sizes.clear()
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def _flag(self, value: bool) -> object:
        return value

    def _all(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self.conn.execute(sql, list(args)).fetchall()  # type: ignore[arg-type]

    # --- generations -----------------------------------------------------------------------------

    def changed_elsewhere(self) -> bool:
        version = int(
            self._all("SELECT value FROM claude_force.memory_meta WHERE key = 'version'")[0][0]
        )
        changed = version != self._version
        self._version = version
        if changed:
            with self._lock:
                self._sizes.clear()
        return changed

    def changes(self) -> Changes:
        epoch = int(
            self._all("SELECT value FROM claude_force.memory_meta WHERE key = 'epoch'")[0][0]
        )
        agents = {
            str(n): int(g) for n, g in self._all("SELECT name, gen FROM claude_force.memory_agents")
        }
        return Changes(epoch, agents)

    # --- writes ----------------------------------------------------------------------------------

    def add(self, sessions: Iterable[NewSession]) -> dict[str, int]:
        touched: set[str] = set()
        with self._lock, self.conn.transaction():
            self._sizes.clear()
            for s in sessions:
                row = s.row()
                cur = self.conn.execute(
                    f"INSERT INTO {_S} (uid, agent, task, summary, success, simulated, model, "
                    "input_tokens, output_tokens, execution_time_ms, workflow, created_at, "
                    "redactions, metadata) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, "
                    "%s, %s, %s) ON CONFLICT (uid) DO NOTHING",
                    (*row[:4], bool(row[4]), bool(row[5]), *row[6:]),
                )
                if cur.rowcount == 1:  # a session stored again (a re-run step) is stored once
                    touched.add(s.agent)
            return self._bump(touched)

    def _bump(self, agents: set[str], *, epoch: bool = False) -> dict[str, int]:
        out: dict[str, int] = {}
        for name in sorted(agents):
            row = self.conn.execute(
                "INSERT INTO claude_force.memory_agents (name, gen) VALUES (%s, 1) "
                "ON CONFLICT (name) DO UPDATE SET gen = claude_force.memory_agents.gen + 1 "
                "RETURNING gen",
                (name,),
            ).fetchone()
            assert row is not None
            out[name] = int(row[0])
        keys = ["version", "epoch"] if epoch else ["version"]
        if agents or epoch:
            self.conn.execute(
                "UPDATE claude_force.memory_meta SET value = value + 1 WHERE key = ANY(%s)", (keys,)
            )
        return out

    def delete(
        self, *, before: float | None = None, agent: str | None = None
    ) -> tuple[int, set[str]]:
        cond, args = self._where(before, agent)
        with self._lock, self.conn.transaction():
            self._sizes.clear()
            rows = self.conn.execute(f"DELETE FROM {_S}{cond} RETURNING agent", args).fetchall()  # type: ignore[arg-type]
            agents = {str(r[0]) for r in rows}
            self._bump(agents, epoch=before is None and agent is None)
        return len(rows), agents

    # --- reads -----------------------------------------------------------------------------------

    def search(self, q: SearchQuery, *, cutoff: float | None, budget: int) -> list[Hit]:
        """The best sessions for ``q`` by full-text rank over their task, newest first among
        equals (``budget`` bounds the candidates ranked: the newest matches)."""
        query = tsquery_of(q.terms)
        if not query:
            return self._recent(q, cutoff)
        sessions = self._indexed(q.agent) if q.informative_only else 0
        if sessions >= COMMON_MIN_SESSIONS:
            # the same rule as SQLite's: a term in at least half of the agent's sessions says
            # nothing about the task and is not searched on (nor one that matches nothing);
            # none left, no result
            counts = self._doc_counts(q.agent, q.terms, count_cap(sessions, budget))
            query = tsquery_of([t for t, df in counts if df and not is_common(df, sessions)])
            if not query:
                return []
        where, args = self._filters(q, cutoff, ["s.tsv @@ to_tsquery('english', %s)"], [query])
        if q.agent is not None:
            where.append("s.agent = %s")
            args.append(q.agent)
        sql = (
            f"SELECT {COLUMNS}, ts_rank(s.tsv, to_tsquery('english', %s)) AS rank FROM "
            f"(SELECT * FROM {_S} AS s WHERE {' AND '.join(where)} "
            "ORDER BY s.created_at DESC, s.id DESC LIMIT %s) AS s "
            "ORDER BY rank DESC, s.created_at DESC, s.id DESC LIMIT %s"
        )
        rows = self._all(sql, [query, *args, budget, q.limit])
        return [Hit(session_of(r), float(r[13])) for r in rows]

    def _indexed(self, agent: str | None) -> int:
        """How many sessions ``agent`` (``None``: all agents) has; counted at first need and
        again after any write (this process's or another's: :meth:`changed_elsewhere`)."""
        with self._lock:
            n = self._sizes.get(agent)
            if n is None:
                cond, args = ("WHERE agent = %s", [agent]) if agent is not None else ("", [])
                n = self._sizes[agent] = int(
                    self._all(f"SELECT count(*) FROM {_S} {cond}", args)[0][0]
                )
            return n

    def _doc_counts(
        self, agent: str | None, terms: Sequence[str], cap: int
    ) -> list[tuple[str, int]]:
        """Sessions of ``agent`` matching each term, counted up to ``cap``, in one statement."""
        cond = " AND agent = %s" if agent is not None else ""
        one = (
            f"(SELECT count(*) FROM (SELECT 1 FROM {_S} WHERE "
            f"tsv @@ to_tsquery('english', %s){cond} LIMIT %s) AS c)"
        )
        params: list[object] = []
        for t in terms:
            params += [tsquery_of([t]), *([agent] if agent is not None else []), cap]
        row = self._all("SELECT " + ", ".join([one] * len(terms)), params)[0]
        return [(t, int(n)) for t, n in zip(terms, row, strict=True)]

    def legacy_rows(self, source: Path | None = None) -> list[tuple[Any, ...]] | None:
        return None  # a 2.2 file is imported by the SQLite store, not into the cluster

    def mark_legacy_imported(self) -> None:
        return None
