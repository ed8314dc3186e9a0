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
import hashlib
import logging
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
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            index = self._indexes.get(partition)
            if index is None:
                index = self._indexes[partition] = PartitionIndex(dim)
            rows, cursor = await self.store.since(partition, index.cursor)
            for row in rows:
                index.add(row.key, row.task, row.array(), row.expires_at)
            index.cursor = cursor
            return index

    def _similarity(self, a: list[str], b: list[str]) -> list[list[float]]:
        embedder = self._embedder
        assert embedder is not None
        v = embedder.embed(a + b)
        out: list[list[float]] = (v[: len(a)] @ v[len(a) :].T).tolist()
        return out

    async def lookup(self, partition: str, task: str, now: float) -> Lookup | None:
        """The best guarded match for ``task`` in ``partition`` (``None``: embeddings off)."""
        vector = await self.embed(task)
        if vector is None:
            return None
        index = await self._index(partition, int(vector.shape[0]))
        result = Lookup(vector)
        new_facts = guards.facts(task)
        for n in index.search(vector, NEIGHBOURS):
            if n.similarity < self.threshold:
                break
            if n.expires_at <= now:
                continue
            why = await asyncio.to_thread(
                guards.refusal, new_facts, guards.facts(n.task), self._similarity
            )
            if why is None:
                result.match = Match(n.key, n.similarity, n.task)
                return result
            result.refused += 1
            log.debug("semantic candidate %s… refused: %s", n.key[:12], why)
        return result

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
