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
    word goes first. Used from worker threads, hence the lock."""

    def __init__(self, embed: Callable[[list[str]], Any], size: int = WORD_VECTORS) -> None:
        self._embed = embed
        self._size = size
        self._vectors: dict[str, Any] = {}
        self._lock = threading.Lock()

    def vectors(self, words: list[str]) -> Any:
        with self._lock:
            known = {w: self._vectors[w] for w in words if w in self._vectors}
        missing = [w for w in dict.fromkeys(words) if w not in known]
        if missing:
            known.update(zip(missing, self._embed(missing), strict=True))
            with self._lock:
                for w in missing:
                    self._vectors[w] = known[w]
                while len(self._vectors) > self._size:
                    del self._vectors[next(iter(self._vectors))]
        return np.stack([known[w] for w in words])


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
        self._words = WordVectors(self._embed_words)
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

    def _embed_words(self, words: list[str]) -> Any:
        embedder = self._embedder
        assert embedder is not None  # the guard runs only after a task was embedded
        return embedder.embed(words)

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

    def _similarity(self, a: list[str], b: list[str]) -> list[list[float]]:
        v = self._words.vectors(a + b)
        out: list[list[float]] = (v[: len(a)] @ v[len(a) :].T).tolist()
        return out

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
            result.match, result.refused = await asyncio.to_thread(self._guarded, task, near)
        return result

    def _guarded(self, task: str, near: list[Neighbour]) -> tuple[Match | None, int]:
        """The first neighbour (best first) that the guard lets through, and how many it
        refused before it."""
        new_facts = facts_of(task)
        for refused, n in enumerate(near):
            why = guards.refusal(new_facts, facts_of(n.task), self._similarity)
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
        blob = np.ascontiguousarray(vector, dtype="<f4").tobytes()
        await self.store.add(VectorRow(partition, key, task, blob, expires_at))

    def forget(self, partition: str, key: str) -> None:
        index = self._indexes.get(partition)
        if index is not None:
            index.remove(key)

    async def aclose(self) -> None:
        await self.store.aclose()


__all__ = ["Lookup", "Match", "Neighbour", "SemanticCache", "partition_of"]
