"""Where task vectors live, beside the response cache: SQLite (default), memory, or Redis.

A row is (partition, cache key, task, vector, expiry). Beside the rows, a store keeps the
vectors of single words that the false-hit guard compares (one per word, shared by all entries):
they are embedded when an entry is written, so that a lookup only embeds the new task. Every process keeps its own in-memory
index per partition (:mod:`.index`) and reads the rows that other processes added since its last
look (``since``); an entry whose response is gone from the exact cache is dropped lazily.
"""

from __future__ import annotations

import json
import sqlite3
from base64 import b64decode, b64encode
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ...state.sqlite import Schema, app_id, open_database, tables_of, transaction
from ...state.worker import Worker
from ..errors import CacheBackendError, ForeignStorageError

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True, slots=True)
class VectorRow:
    partition: str
    key: str
    task: str
    vector: bytes  # float32, little-endian
    expires_at: float

    def array(self) -> np.ndarray[Any, np.dtype[np.float32]]:
        import numpy as np

        return np.frombuffer(self.vector, dtype="<f4").astype(np.float32)


class VectorStore(Protocol):
    name: str

    async def add(self, row: VectorRow) -> None: ...

    async def since(self, partition: str, cursor: Any) -> tuple[list[VectorRow], Any]: ...

    async def remove(self, key: str) -> None: ...

    async def add_words(self, vectors: dict[str, bytes]) -> None: ...

    async def words(self, names: list[str]) -> dict[str, bytes]: ...

    async def clear(self) -> int: ...

    async def count(self) -> int: ...

    async def aclose(self) -> None: ...


class MemoryVectorStore:
    """Per process (``cache.backend = "memory"``)."""

    name = "memory"

    def __init__(self) -> None:
        self._rows: dict[str, list[VectorRow]] = {}
        self._words: dict[str, bytes] = {}

    async def add(self, row: VectorRow) -> None:
        self._rows.setdefault(row.partition, []).append(row)

    async def since(self, partition: str, cursor: Any) -> tuple[list[VectorRow], Any]:
        rows = self._rows.get(partition, [])
        start = int(cursor or 0)
        return rows[start:], len(rows)

    async def remove(self, key: str) -> None:
        for part, rows in self._rows.items():
            self._rows[part] = [r for r in rows if r.key != key]

    async def add_words(self, vectors: dict[str, bytes]) -> None:
        self._words.update(vectors)

    async def words(self, names: list[str]) -> dict[str, bytes]:
        return {w: self._words[w] for w in names if w in self._words}

    async def clear(self) -> int:
        n = sum(len(r) for r in self._rows.values())
        self._rows.clear()
        self._words.clear()
        return n

    async def count(self) -> int:
        return sum(len(r) for r in self._rows.values())

    async def aclose(self) -> None:
        return None


_SCHEMA = """
CREATE TABLE IF NOT EXISTS vectors (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    partition TEXT NOT NULL,
    key TEXT NOT NULL,
    task TEXT NOT NULL,
    vector BLOB NOT NULL,
    expires_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS vectors_partition ON vectors(partition, seq);
CREATE INDEX IF NOT EXISTS vectors_key ON vectors(key);
"""

# version 2: the guard's single-word vectors (see the module docstring)
_WORDS = """
CREATE TABLE IF NOT EXISTS words (
    word TEXT PRIMARY KEY,
    vector BLOB NOT NULL
);
"""

SCHEMA = Schema(
    what="semantic cache",
    application_id=app_id(b"cfV1"),
    migrations=(_SCHEMA, _WORDS),
    tables=tables_of(_SCHEMA, _WORDS),
    fail=lambda message, hint: CacheBackendError(message, hint=hint),
    foreign=lambda message, hint: ForeignStorageError(message, hint=hint),
    fix="point paths.state elsewhere",
)


class SqliteVectorStore:
    """``semantic.db`` in the state directory, next to ``cache.db``: opened under the state
    rules (``state.sqlite``: WAL, owner mark, foreign and damaged files), every operation one
    job on the store's worker thread."""

    name = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None
        self._worker = Worker("claude-force-semantic")

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = open_database(self.path, SCHEMA).conn
        return self._conn

    def _run(self, sql: str, args: tuple[Any, ...] = ()) -> list[Any]:
        return self._db().execute(sql, args).fetchall()

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    async def add(self, row: VectorRow) -> None:
        await self._worker.run(
            self._run,
            "INSERT INTO vectors(partition, key, task, vector, expires_at) VALUES (?, ?, ?, ?, ?)",
            (row.partition, row.key, row.task, row.vector, row.expires_at),
        )

    async def add_many(self, rows: list[VectorRow]) -> None:
        """Many rows in one transaction (loading a store; the cache adds one row at a time)."""

        def insert() -> None:
            with transaction(self._db()) as conn:
                conn.executemany(
                    "INSERT INTO vectors(partition, key, task, vector, expires_at)"
                    " VALUES (?, ?, ?, ?, ?)",
                    [(r.partition, r.key, r.task, r.vector, r.expires_at) for r in rows],
                )

        await self._worker.run(insert)

    async def since(self, partition: str, cursor: Any) -> tuple[list[VectorRow], Any]:
        rows = await self._worker.run(
            self._run,
            "SELECT seq, key, task, vector, expires_at FROM vectors"
            " WHERE partition = ? AND seq > ? ORDER BY seq",
            (partition, int(cursor or 0)),
        )
        out = [VectorRow(partition, r[1], r[2], bytes(r[3]), float(r[4])) for r in rows]
        return out, (rows[-1][0] if rows else cursor)

    async def remove(self, key: str) -> None:
        await self._worker.run(self._run, "DELETE FROM vectors WHERE key = ?", (key,))

    async def add_words(self, vectors: dict[str, bytes]) -> None:
        def insert() -> None:
            with transaction(self._db()) as conn:
                conn.executemany(
                    "INSERT OR REPLACE INTO words(word, vector) VALUES (?, ?)",
                    list(vectors.items()),
                )

        await self._worker.run(insert)

    async def words(self, names: list[str]) -> dict[str, bytes]:
        if not names:
            return {}
        marks = ", ".join("?" * len(names))
        rows = await self._worker.run(
            self._run, f"SELECT word, vector FROM words WHERE word IN ({marks})", tuple(names)
        )
        return {str(r[0]): bytes(r[1]) for r in rows}

    async def clear(self) -> int:
        if not self.path.exists():
            return 0
        rows = await self._worker.run(self._run, "DELETE FROM vectors RETURNING seq")
        await self._worker.run(self._run, "DELETE FROM words")
        return len(rows)

    async def count(self) -> int:
        if not self.path.exists():
            return 0
        rows = await self._worker.run(self._run, "SELECT count(*) FROM vectors")
        return int(rows[0][0])

    async def aclose(self) -> None:
        await self._worker.aclose(self._close)


class RedisVectorStore:
    """Team mode (``cache.backend = "redis"``): one Redis list per partition, shared by all."""

    name = "redis"

    def __init__(self, url: str, *, prefix: str = "claude_force:semantic:") -> None:
        import redis.asyncio as aioredis

        self._redis = aioredis.Redis.from_url(url)
        self.prefix = prefix

    def _key(self, partition: str) -> str:
        return f"{self.prefix}{partition}"

    @property
    def _words_key(self) -> str:
        # a hash (word → vector), outside ``prefix*`` so that count() and clear() see only lists
        return f"{self.prefix.rstrip(':')}-words"

    async def add(self, row: VectorRow) -> None:
        item = json.dumps(
            {
                "key": row.key,
                "task": row.task,
                "vector": b64encode(row.vector).decode(),
                "expires_at": row.expires_at,
            }
        )
        await self._redis.rpush(self._key(row.partition), item)  # type: ignore[misc]

    async def since(self, partition: str, cursor: Any) -> tuple[list[VectorRow], Any]:
        start = int(cursor or 0)
        raw = await self._redis.lrange(self._key(partition), start, -1)  # type: ignore[misc]
        rows = []
        for item in raw:
            d = json.loads(item)
            rows.append(
                VectorRow(partition, d["key"], d["task"], b64decode(d["vector"]), d["expires_at"])
            )
        return rows, start + len(raw)

    async def remove(self, key: str) -> None:
        return None  # lists are append-only; readers drop entries whose response is gone

    async def add_words(self, vectors: dict[str, bytes]) -> None:
        if vectors:
            await self._redis.hset(self._words_key, mapping=vectors)  # type: ignore[arg-type,misc]

    async def words(self, names: list[str]) -> dict[str, bytes]:
        if not names:
            return {}
        found = await self._redis.hmget(self._words_key, names)  # type: ignore[misc]
        return {
            w: v.encode("latin-1") if isinstance(v, str) else bytes(v)
            for w, v in zip(names, found, strict=True)
            if v is not None
        }

    async def clear(self) -> int:
        n = 0
        async for k in self._redis.scan_iter(match=self.prefix + "*"):
            n += int(await self._redis.llen(k))  # type: ignore[misc]
            await self._redis.delete(k)
        await self._redis.delete(self._words_key)
        return n

    async def count(self) -> int:
        n = 0
        async for k in self._redis.scan_iter(match=self.prefix + "*"):
            n += int(await self._redis.llen(k))  # type: ignore[misc]
        return n

    async def aclose(self) -> None:
        await self._redis.aclose()
