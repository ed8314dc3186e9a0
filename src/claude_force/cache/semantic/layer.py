"""The semantic cache: a paraphrase of a cached task is answered from the cache (opt-in).

Only a request identical in everything but the wording of the task can match: its *partition*
is the hash of the whole request with the task text cut out (model, parameters, system prompt =
agent definition and contract, memory context, provider), so a match is only ever looked for
among tasks sent with exactly the same rest. Within the partition the nearest cached task must
reach ``cache.semantic.threshold`` (cosine similarity of all-MiniLM-L6-v2 embeddings) and pass
the false-hit guard (:mod:`.guards`). The exact cache is always tried first.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...embeddings import Embedder, EmbeddingsUnavailable, load_embedder
from ...messages import MessageRequest
from ..keys import Namespace, canonical_json, request_material
from . import guards
from .index import Neighbour, PartitionIndex
from .store import VectorRow, VectorStore

log = logging.getLogger(__name__)

TASK_SLOT = "\u0000{task}\u0000"
NEIGHBOURS = 4  # the nearest few are checked against the guard, best first
WORD_VECTORS = 8192  # words whose vectors are kept for the guard (1.5 kB each)


@functools.lru_cache(maxsize=4096)
def facts_of(task: str) -> guards.TaskFacts:
    """A task's facts, read once (the nearest cached tasks recur from lookup to lookup)."""
    return guards.facts(task)


@dataclass(frozen=True, slots=True)
class Match:
    key: str
    similarity: float
    cached_task: str


@dataclass(slots=True)
class Lookup:
    vector: Any  # the task's embedding (reused when the fresh answer is stored)
    match: Match | None = None
    refused: int = 0  # neighbours above the threshold that the guard refused


def partition_of(
    request: MessageRequest, task: str, *, namespace: Namespace, provider: str
) -> str | None:
    """The hash of the request without the task's wording, or ``None`` when the task is not
    the end of the last user message (then only the exact cache applies)."""
    body = request.to_api()
    messages = body.get("messages")
    if not task.strip() or not isinstance(messages, list) or not messages:
        return None
    last = dict(messages[-1])
    content = last.get("content")
    if isinstance(content, list) and len(content) == 1 and isinstance(content[0], dict):
        content = content[0].get("text")
    if last.get("role") != "user" or not isinstance(content, str) or not content.endswith(task):
        return None
    last["content"] = content[: len(content) - len(task)] + TASK_SLOT
    body = {**body, "messages": [*messages[:-1], last]}
    material = {"ns": namespace, "provider": provider, "request": request_material(body)}
    return hashlib.sha256(canonical_json(material)).hexdigest()


class WordVectors:
    """Single-word vectors for the guard's synonym check, kept per process (the same words
    recur: a cached task's words are compared again at every near lookup). Bounded; the oldest
    word goes first. Used from worker threads, hence the lock. It never embeds: the cache fills
    it in one batch before the guard runs."""

    def __init__(self, size: int = WORD_VECTORS) -> None:
        self._size = size
        self._vectors: dict[str, Any] = {}
        self._lock = threading.Lock()

    def missing(self, words: list[str]) -> list[str]:
        with self._lock:
            return [w for w in dict.fromkeys(words) if w not in self._vectors]

    def known(self, words: list[str]) -> dict[str, Any]:
        with self._lock:
            return {w: self._vectors[w] for w in words if w in self._vectors}

    def add(self, words: list[str], vectors: Any) -> None:
        with self._lock:
            for w, v in zip(words, vectors, strict=True):
                self._vectors[w] = v
            while len(self._vectors) > self._size:
                del self._vectors[next(iter(self._vectors))]

    def similarity(self, a: list[str], b: list[str]) -> list[list[float]]:
        """Cosine similarities of ``a``'s words against ``b``'s (all present: see ``missing``)."""
        with self._lock:
            va = np.stack([self._vectors[w] for w in a])
            vb = np.stack([self._vectors[w] for w in b])
        out: list[list[float]] = (va @ vb.T).tolist()
        return out


def _blob(vector: Any) -> bytes:
    return np.ascontiguousarray(vector, dtype="<f4").tobytes()


class SemanticCache:
    def __init__(
        self,
        store: VectorStore,
        threshold: float,
        *,
        embedder: Embedder | None = None,
        loader: Callable[[], Embedder] = load_embedder,
    ) -> None:
        self.store = store
        self.threshold = threshold
        self._embedder = embedder
        self._loader = loader  # loads the model at the first lookup (about a second)
        self._indexes: dict[str, PartitionIndex] = {}
        self._words = WordVectors()
        self._lock: asyncio.Lock | None = None
        self.unavailable: str | None = None

    def embedder(self) -> Embedder | None:
        if self._embedder is None and self.unavailable is None:
            try:
                self._embedder = self._loader()
            except EmbeddingsUnavailable as exc:
                self.unavailable = str(exc)
                log.warning("semantic cache off: %s", exc)
        return self._embedder

    async def embed(self, task: str) -> Any:
        embedder = await asyncio.to_thread(self.embedder)
        if embedder is None:
            return None
        vectors = await asyncio.to_thread(embedder.embed, [task])
        return vectors[0]

    async def _index(self, partition: str, dim: int) -> PartitionIndex:
        """The partition's index, first loaded in one piece, then brought up to date with what
        other processes added since the last look."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            index = self._indexes.get(partition)
            if index is None:
                index = self._indexes[partition] = PartitionIndex(dim)
            rows, cursor = await self.store.since(partition, index.cursor)
            if rows:
                vectors = np.frombuffer(b"".join(r.vector for r in rows), dtype="<f4")
                index.extend(
                    [r.key for r in rows],
                    [r.task for r in rows],
                    vectors.reshape(len(rows), dim).astype(np.float32),
                    [r.expires_at for r in rows],
                )
            index.cursor = cursor
            return index

    async def _prepare_words(self, task: str, near: list[Neighbour]) -> None:
        """Makes sure the guard finds every word vector it will ask for: the words that the
        synonym rule compares (often none), taken from this process's words, then from the
        store (an entry's words are stored when it is written), and the rest — usually only
        the new task's — embedded in one batch call."""
        new_facts = facts_of(task)
        needed = [w for n in near for w in guards.words_needed(new_facts, facts_of(n.task))]
        missing = self._words.missing(needed)
        if not missing:
            return
        stored = await self.store.words(missing)
        if stored:
            names = list(stored)
            self._words.add(names, [np.frombuffer(stored[w], dtype="<f4") for w in names])
            missing = [w for w in missing if w not in stored]
        if missing:
            embedder = self._embedder
            assert embedder is not None  # the guard runs only after a task was embedded
            self._words.add(missing, await asyncio.to_thread(embedder.embed, missing))

    async def _store_words(self, task: str) -> None:
        """Stores the written entry's guard words that the store lacks (embedded in one batch
        call unless this process knows them), so that later lookups, in any process, read them
        from the store instead of running the model."""
        words = list(dict.fromkeys(facts_of(task).specific))
        stored = await self.store.words(words) if words else {}
        todo = [w for w in words if w not in stored]
        if not todo:
            return
        vectors = self._words.known(todo)
        fresh = [w for w in todo if w not in vectors]
        embedder = self.embedder()
        if fresh and embedder is not None:
            embedded = await asyncio.to_thread(embedder.embed, fresh)
            self._words.add(fresh, embedded)
            vectors.update(zip(fresh, embedded, strict=True))
        await self.store.add_words({w: _blob(v) for w, v in vectors.items()})

    async def lookup(self, partition: str, task: str, now: float) -> Lookup | None:
        """The best guarded match for ``task`` in ``partition`` (``None``: embeddings off)."""
        vector = await self.embed(task)
        if vector is None:
            return None
        return await self.match(partition, task, vector, now)

    async def match(self, partition: str, task: str, vector: Any, now: float) -> Lookup:
        """The lookup once the task is embedded: the nearest entries, then the guard."""
        index = await self._index(partition, int(vector.shape[0]))
        result = Lookup(vector)
        near = [
            n
            for n in index.search(vector, NEIGHBOURS)
            if n.similarity >= self.threshold and n.expires_at > now
        ]
        if near:
            await self._prepare_words(task, near)
            result.match, result.refused = await asyncio.to_thread(self._guarded, task, near)
        return result

    def _guarded(self, task: str, near: list[Neighbour]) -> tuple[Match | None, int]:
        """The first neighbour (best first) that the guard lets through, and how many it
        refused before it."""
        new_facts = facts_of(task)
        for refused, n in enumerate(near):
            why = guards.refusal(new_facts, facts_of(n.task), self._words.similarity)
            if why is None:
                return Match(n.key, n.similarity, n.task), refused
            log.debug("semantic candidate %s… refused: %s", n.key[:12], why)
        return None, len(near)

    async def remember(
        self, partition: str, key: str, task: str, vector: Any, expires_at: float
    ) -> None:
        if vector is None:
            vector = await self.embed(task)
            if vector is None:
                return
        await self.store.add(VectorRow(partition, key, task, _blob(vector), expires_at))
        await self._store_words(task)

    def forget(self, partition: str, key: str) -> None:
        index = self._indexes.get(partition)
        if index is not None:
            index.remove(key)

    async def aclose(self) -> None:
        await self.store.aclose()


__all__ = ["Lookup", "Match", "Neighbour", "SemanticCache", "partition_of"]
