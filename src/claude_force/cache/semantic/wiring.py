"""How the semantic cache plugs into the exact cache's call path (one object per pipeline).

:class:`SemanticRoute` is what :class:`~claude_force.cache.layer.CacheProvider` holds: for a call
it decides whether the semantic cache applies (enabled, the agent did not opt out, the runner
said what the task is), gives the store an ``on_miss`` lookup to run after the exact lookup
missed, and indexes a fresh answer. Its failures are logged and never fail a call.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from ...messages import MessageRequest, MessageResponse
from ..keys import Namespace
from ..records import Counters
from .layer import Lookup, SemanticCache, partition_of
from .store import MemoryVectorStore, RedisVectorStore, SqliteVectorStore, VectorStore

if TYPE_CHECKING:
    from ...callctx import CallContext
    from ...config import Project
    from ..store import ResponseStore

log = logging.getLogger(__name__)

VECTORS_FILE = "semantic.db"


@dataclass
class SemanticCall:
    """The semantic side of one call: where to look, and what the lookup found."""

    route: SemanticRoute
    partition: str
    task: str
    found: list[Lookup] = field(default_factory=list)

    def on_miss(self, store: ResponseStore) -> Callable[[], Awaitable[MessageResponse | None]]:
        async def lookup() -> MessageResponse | None:
            try:
                return await self._lookup(store)
            except Exception:
                log.exception("semantic cache lookup failed; calling the provider")
                return None

        return lookup

    async def _lookup(self, store: ResponseStore) -> MessageResponse | None:
        result = await self.route.cache.lookup(self.partition, self.task, store.now())
        if result is None:
            return None
        self.found.append(result)
        if result.refused:
            await store.count(Counters(semantic_refusals=result.refused))
        if result.match is None:
            return None
        hit = await store.get(result.match.key)  # verified; counts a hit and its saving
        if hit is None:  # the answer was evicted or expired: drop its vector here
            self.route.cache.forget(self.partition, result.match.key)
            await store.count(Counters(misses=-1))  # get() counted a second miss
            return None
        await store.count(store.semantic_saving(hit))
        return replace(hit.response, semantic_similarity=round(result.match.similarity, 4))

    async def remember(self, store: ResponseStore, key: str, response: MessageResponse) -> None:
        if response.cached or store.policy.refusal_reason(response) is not None:
            return
        try:
            vector = self.found[0].vector if self.found else None
            expires = store.policy.expires_at(store.now())
            await self.route.cache.remember(self.partition, key, self.task, vector, expires)
        except Exception:
            log.exception("could not index the answer for the semantic cache")


@dataclass
class SemanticRoute:
    cache: SemanticCache
    excluded_agents: frozenset[str] = frozenset()

    def for_call(
        self, request: MessageRequest, ctx: CallContext, *, namespace: Namespace, provider: str
    ) -> SemanticCall | None:
        if ctx.task is None or (ctx.agent is not None and ctx.agent in self.excluded_agents):
            return None
        if self.cache.unavailable is not None:
            return None
        try:
            partition = partition_of(request, ctx.task, namespace=namespace, provider=provider)
        except (TypeError, ValueError):
            return None
        return SemanticCall(self, partition, ctx.task) if partition is not None else None


def vector_store(project: Project) -> VectorStore:
    s = project.settings.cache
    if s.backend == "memory":
        return MemoryVectorStore()
    if s.backend == "redis" and s.redis_url:
        return RedisVectorStore(s.redis_url)
    return SqliteVectorStore(project.state_dir / VECTORS_FILE)


def semantic_route(project: Project) -> SemanticRoute | None:
    """The project's semantic route, or ``None`` when ``cache.semantic.enabled`` is false (the
    caller has checked that the embedding model is installed)."""
    s = project.settings
    if not s.cache.semantic.enabled:
        return None
    excluded = frozenset(n for n, a in s.agents.items() if not a.semantic_cache)
    return SemanticRoute(SemanticCache(vector_store(project), s.cache.semantic.threshold), excluded)
