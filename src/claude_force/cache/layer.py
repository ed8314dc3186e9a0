"""The cache as the first wrapper of the call pipeline, and how a project builds its store.

``CacheProvider.send`` reads the per-call context (agent, ``--no-cache``, ``--refresh``), derives
the key, and answers from the store; a hit comes back with ``cached=True`` (the runner then
records cost 0 and the saved cost). A cache failure never fails the call.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import callctx
from ..clock import WALL_CLOCK, Clock
from ..config import Project
from ..config.schema import CacheSettings
from ..messages import MessageRequest, MessageResponse
from ..providers.base import Provider, ProviderWrapper, Reply
from .backend import CacheBackend
from .errors import CacheConfigurationError
from .keys import Namespace, request_key
from .policy import CachePolicy
from .secret import DB_FILE_NAME, KEY_FILE_NAME, SecretSource
from .store import Found, ProviderCall, ResponseStore

if TYPE_CHECKING:
    from .semantic.wiring import SemanticCall, SemanticRoute

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LookedAhead:
    """An exact-cache lookup made before the run's request was complete
    (:meth:`CacheProvider.look_ahead`): the agent's system prompt read in the same job (or the
    error reading it), the request keyed (without memory context) and what the lookup found."""

    system: str | Exception
    request: MessageRequest | None
    found: Found[Any]
    namespace: Namespace
    identity: str
    layer: CacheProvider


@dataclass(frozen=True, slots=True)
class SureMiss:
    """A request the exact cache surely has no answer for (:meth:`CacheProvider.sure_miss`),
    keyed from the agent's system prompt as last read; :meth:`confirm` (any thread) checks the
    prompt read now and :meth:`taken` makes the skipped lookup's miss."""

    layer: CacheProvider
    request: MessageRequest
    key: str
    namespace: Namespace
    identity: str
    writes: int

    def confirm(
        self, system: str, hint: str, build: Callable[[str], MessageRequest]
    ) -> tuple[MessageRequest, str] | None:
        """The request and key for the prompt ``system`` read now when the cache surely lacks
        it (``hint``: the prompt the key was made from); ``None``: look it up after all."""
        if system == hint:
            return self.request, self.key
        try:  # the agent's definition changed: its new key is checked too
            request = build(system)
            key = request_key(request, namespace=self.namespace, provider=self.identity)
        except (TypeError, ValueError):
            return None
        return (request, key) if self.layer.store.surely_absent(key) else None

    def taken(self, system: str, request: MessageRequest, key: str) -> LookedAhead:
        """The lookup skipped, counted as a miss and handed to :meth:`CacheProvider.ahead`."""
        found = self.layer.store.skipped((system, request), key, self.writes)
        return LookedAhead(system, request, found, self.namespace, self.identity, self.layer)


_AHEAD: ContextVar[LookedAhead | None] = ContextVar("claude_force_cache_ahead", default=None)


def provider_identity(provider: Provider) -> str:
    """What distinguishes one provider's answers from another's, for the cache key.

    The innermost provider's name, plus the seed of the simulation or the base URL of a
    non-default endpoint (an emulator answers differently from Claude). Decided per call: a
    client that a 2.2 test suite patched in (a ``ClientProvider`` in the engine's provider slot)
    answers as ``client``, so its answers never pass for the chosen provider's.
    """
    inner: object = provider
    while isinstance(inner, ProviderWrapper):  # the layers below, and the engine's provider slot
        inner = inner.inner
    name = str(getattr(inner, "name", type(inner).__name__))
    parts = [name]
    seed = getattr(inner, "seed", None)
    if isinstance(seed, int):
        parts.append(f"seed={seed}")
    base_url = getattr(inner, "_base_url", None) or getattr(inner, "base_url", None)
    if isinstance(base_url, str) and base_url:
        parts.append(base_url.rstrip("/"))
    return ";".join(parts)


def excluded_agents(project: Project) -> frozenset[str]:
    """``cache.exclude_agents`` plus every agent whose own ``cache`` setting is false."""
    s = project.settings
    return frozenset(s.cache.exclude_agents) | {n for n, a in s.agents.items() if not a.cache}


def make_backend(
    settings: CacheSettings,
    state_dir: Path,
    *,
    config_file: Path | None = None,
    read_only: bool = False,
) -> CacheBackend:
    # the backends import lazily: a SQLite user never loads redis-py, and the reverse
    if settings.backend == "memory":
        from .memory_backend import MemoryBackend

        return MemoryBackend()
    if settings.backend == "redis":
        if not settings.redis_url:
            raise CacheConfigurationError(
                'cache.backend is "redis" but no cache.redis_url is set',
                file=config_file,
                key="cache.redis_url",
                hint='set it (e.g. "redis://127.0.0.1:6379/0") or CLAUDE_FORCE_REDIS_URL',
            )
        if importlib.util.find_spec("redis") is None:  # an extra since 2.3: not installed
            raise CacheConfigurationError(
                'cache.backend is "redis" but the redis package is not installed',
                file=config_file,
                key="cache.backend",
                hint="pip install 'claude-force[redis]'",
            )
        from .redis_backend import RedisBackend

        return RedisBackend(settings.redis_url)
    from .sqlite_backend import SqliteBackend

    return SqliteBackend(state_dir / DB_FILE_NAME, read_only=read_only)


def build_store(
    project: Project,
    *,
    backend: CacheBackend | None = None,
    clock: Clock = WALL_CLOCK,
    ttl_hours: float | None = None,
    max_size_mb: float | None = None,
    read_only: bool = False,
) -> ResponseStore:
    """The project's response store (no I/O here: the store opens at first use).
    ``read_only``: a damaged SQLite cache is reported instead of moved aside."""
    s = project.settings.cache
    secret = SecretSource.resolve(
        config_secret=s.secret.get_secret_value() if s.secret is not None else None,
        key_file=None if s.backend == "memory" else project.state_dir / KEY_FILE_NAME,
        config_file=project.config_path,
    )
    policy = CachePolicy.from_settings(
        ttl_hours if ttl_hours is not None else s.ttl_hours,
        max_size_mb if max_size_mb is not None else s.max_size_mb,
        excluded_agents(project),
    )
    return ResponseStore(
        backend
        if backend is not None
        else make_backend(
            s, project.state_dir, config_file=project.config_path, read_only=read_only
        ),
        policy,
        secret,
        prices=project.catalog.prices,
        clock=clock,
    )


def cache_enabled(project: Project) -> bool:
    s = project.settings
    return s.cache.enabled and s.features.cache_enabled


class CacheProvider(ProviderWrapper):
    """Answers repeated requests from the response cache; everything else goes to ``inner``."""

    def __init__(
        self,
        inner: Provider,
        store: ResponseStore,
        *,
        key_includes_memory: bool = False,
        semantic: SemanticRoute | None = None,
    ) -> None:
        super().__init__(inner)
        self.store = store
        self.key_includes_memory = key_includes_memory
        self.semantic = semantic  # the opt-in semantic cache (cache.semantic), tried after a miss

    @property
    def identity(self) -> str:
        """Computed per call (a few attribute look-ups): a patched-in client can come and go."""
        return provider_identity(self.inner)

    @property
    def namespace(self) -> Namespace:
        return "sim" if self.inner.simulated else "live"

    def key_for(self, request: MessageRequest) -> str:
        return request_key(request, namespace=self.namespace, provider=self.identity)

    def keyed_request(self, request: MessageRequest, ctx: callctx.CallContext) -> MessageRequest:
        """The request the key is computed from: ``request`` without its agent-memory context
        when the runner says which part that is (``cache.key_includes_memory`` false, the
        default), else ``request`` itself (strict keying).

        Why: memory context changes as soon as a related task has run, so keying on it would make
        every repeat a miss. The answer is still one Claude gave to this very task; the entry
        records which memory sessions it was produced with (``cache inspect``).
        """
        keyed = ctx.memory_keyed
        if keyed is None or self.key_includes_memory or keyed[0] is not request:
            return request  # no memory, strict keying, or a request rewritten on the way
        return keyed[1]

    def can_look_ahead(self, agent: str, *, use_cache: bool = True, refresh: bool = False) -> bool:
        """Whether a run's exact lookup can be made before its memory context is known: the key
        leaves memory out (not ``cache.key_includes_memory``), the call reads the cache
        (``normal`` mode for this agent) and the store can look up along a read (SQLite)."""
        if self.key_includes_memory:
            return False
        ctx = callctx.CallContext(agent=agent, use_cache=use_cache, refresh=refresh)
        return self.store.policy.mode(ctx) == "normal" and self.store.looks_along()

    async def look_ahead(
        self,
        read: Callable[[], str],
        build: Callable[[str], MessageRequest],
        then: Callable[[], None] | None = None,
    ) -> LookedAhead:
        """``read()`` an agent's system prompt, ``build`` the run's request without memory
        context from it, and look its key up: one job on the store's worker thread (only when
        :meth:`can_look_ahead`); unless it finds an entry, ``then()`` on that thread (the
        engine starts the memory search there). :meth:`ahead` hands the result to this run's
        :meth:`send`."""
        namespace, identity = self.namespace, self.identity

        def along() -> tuple[tuple[str | Exception, MessageRequest | None], str | None]:
            try:
                system = read()
            except Exception as exc:  # the runner reports it, as when it reads the prompt itself
                return (exc, None), None
            try:
                request = build(system)
                return (system, request), request_key(
                    request, namespace=namespace, provider=identity
                )
            except (TypeError, ValueError):  # not cacheable (e.g. a NaN temperature)
                return (system, None), None

        found = await self.store.lookup_along(along, then)
        system, request = found.value
        return LookedAhead(system, request, found, namespace, identity, self)

    def sure_miss(self, request: MessageRequest) -> SureMiss | None:
        """When the exact cache surely holds no answer for ``request`` (keyed without memory
        context, as :meth:`look_ahead` keys it): how to take the miss without a lookup job on
        the store's worker thread. ``None``: look it up (maybe stored; the semantic cache on,
        which needs its own lookup; or a store that keeps no key filter)."""
        store = self.store
        if self.semantic is not None or store._surely_absent is None:
            return None
        namespace, identity = self.namespace, self.identity
        try:
            key = request_key(request, namespace=namespace, provider=identity)
        except (TypeError, ValueError):
            return None
        if not store.surely_absent(key):
            return None
        return SureMiss(self, request, key, namespace, identity, store.writes())

    @staticmethod
    def ahead(looked: LookedAhead) -> callctx.Setting[LookedAhead | None]:
        """Within the block, :meth:`send` of the request ``looked`` keyed uses its lookup."""
        return callctx.Setting(_AHEAD, looked)

    def _looked_ahead(
        self, material: MessageRequest, namespace: Namespace, identity: str
    ) -> LookedAhead | None:
        looked = _AHEAD.get()
        if (
            looked is None
            or looked.layer is not self
            or looked.found.key is None
            or looked.request != material
            or looked.namespace != namespace
            or looked.identity != identity
        ):
            return None
        return looked

    async def ready(self) -> None:
        """Open the store before the clock (``preload.prepare``): the secret, the file and its
        schema are not the first call's latency. A failure is left for the first call, which
        reports it and goes to the provider."""
        try:
            await self.store.open()
        except Exception as exc:
            log.debug("response cache not opened ahead of the first call: %s", exc)

    def send(self, request: MessageRequest) -> Reply:
        """The cached answer, else the provider's (stored). The layer's own work — the mode, the
        key — is done here, before the first await; what the call then waits on is the store's
        coroutine (see ``Reply``: no frame of this layer is held while the model answers)."""
        ctx = callctx.current()
        mode = self.store.policy.mode(ctx)
        if mode == "bypass":
            return self.inner.send(request)
        material = self.keyed_request(request, ctx)
        namespace, identity = self.namespace, self.identity  # once a call (see ``identity``)
        looked = self._looked_ahead(material, namespace, identity) if mode == "normal" else None
        if looked is not None and looked.found.key is not None:
            key = looked.found.key  # looked up already, while memory was searched
        else:
            try:
                key = request_key(material, namespace=namespace, provider=identity)
            except (TypeError, ValueError) as exc:  # e.g. a NaN temperature: not cacheable
                log.debug("request not cacheable (%s); calling the provider", exc)
                return self.inner.send(request)
        preview = material.messages[-1].content if material.messages else ""
        semantic = (
            self.semantic.for_call(material, ctx, namespace=namespace, provider=identity)
            if self.semantic is not None
            else None
        )
        fetched = self.store.fetch(
            key,
            namespace=namespace,
            agent=ctx.agent or "",
            model=request.model,
            call=ProviderCall(self.inner, request),
            refresh=mode == "refresh",
            preview=preview,
            memory_sessions=ctx.memory_sessions if material is not request else (),
            on_miss=semantic.on_miss(self.store) if semantic is not None else None,
            found=looked.found if looked is not None else None,
        )
        if semantic is None:
            return fetched
        return self._remembered(fetched, semantic, key)

    async def _remembered(
        self, fetched: Reply, semantic: SemanticCall, key: str
    ) -> MessageResponse:
        """The answer ``fetched``, then remembered by the semantic cache."""
        response = await fetched
        await semantic.remember(self.store, key, response)
        return response

    async def aclose(self) -> None:
        try:
            await self.store.aclose()
            if self.semantic is not None:
                await self.semantic.cache.aclose()
        finally:
            await self.inner.aclose()


def _semantic_usable(project: Project) -> bool:
    """``cache.semantic.enabled`` and the embedding model installed (else one warning)."""
    if not project.settings.cache.semantic.enabled:
        return False
    from ..embeddings import embeddings_available

    why = embeddings_available()
    if why is not None:
        log.warning("cache.semantic.enabled is true but the semantic cache is off: %s", why)
        return False
    return True


def cache_layer(
    project: Project, *, ttl_hours: float | None = None, max_size_mb: float | None = None
) -> Callable[[Provider], Provider] | None:
    """The pipeline's cache layer for ``project``, or ``None`` when caching is switched off.

    ``ttl_hours``/``max_size_mb`` override the project's ``cache`` settings. Configuration
    mistakes (a Redis backend without a URL, a too-short secret) are raised here, when the
    pipeline is assembled, not on the first call.
    """
    if not cache_enabled(project):
        return None
    # validate the settings now; each wrapped provider gets its own store
    build_store(project, ttl_hours=ttl_hours, max_size_mb=max_size_mb)

    semantic_on = _semantic_usable(project)

    def layer(inner: Provider) -> Provider:
        store = build_store(project, ttl_hours=ttl_hours, max_size_mb=max_size_mb)
        strict = project.settings.cache.key_includes_memory
        route = None
        if semantic_on:
            from .semantic.wiring import semantic_route  # numpy: only with the semantic extra

            route = semantic_route(project)
        return CacheProvider(inner, store, key_includes_memory=strict, semantic=route)

    return layer
