"""``ResponseCache``: the response cache API of claude-force 2.2, for migrating users.

Synchronous, keyed by (agent, task, model) as before, and backed by the same signed SQLite store
as the call pipeline (:mod:`claude_force.cache`): TTL, byte-bounded LRU eviction, HMAC integrity,
stats that survive restarts, safe across processes. The machinery is async; this facade drives it
on a private event-loop thread (the same way :class:`~claude_force.AgentOrchestrator` does).

Changes from 2.2 (see docs/caching.md): there is no hard-coded default secret — without
``cache_secret`` or ``CLAUDE_FORCE_CACHE_SECRET`` a random key is created once in the cache
directory (mode 0600); the default directory is the project's state directory; entries are rows
of ``cache.db``, not one JSON file each.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ._closing import Closing
from ._sync import LoopThread
from .cache.errors import CacheBackendError, CacheConfigurationError
from .cache.keys import compat_key
from .cache.policy import MIB, CachePolicy
from .cache.secret import KEY_FILE_NAME, SecretSource, check_secret
from .cache.sqlite_backend import SqliteBackend
from .cache.stats import CacheStats
from .cache.store import ResponseStore
from .catalog import builtin_catalog
from .messages import MessageResponse, Usage

log = logging.getLogger(__name__)

__all__ = ["CacheEntry", "ResponseCache"]

DB_FILE_NAME = "cache.db"
_ENTRY_DOMAIN = b"claude-force/response-cache/compat-entry/v1\x00"


@dataclass
class CacheEntry:
    """One cached response as claude-force 2.2 described it (fields and order kept).

    The cache itself stores entries as signed rows of ``cache.db``; this type is for code that
    built or inspected 2.2 entries. :meth:`ResponseCache._compute_signature` signs one and
    :meth:`ResponseCache._verify_signature` checks it (an empty or wrong signature fails).
    """

    key: str
    agent_name: str
    task: str
    model: str
    response: str
    input_tokens: int
    output_tokens: int
    estimated_cost: float
    timestamp: float
    hit_count: int = 0
    signature: str = ""  # HMAC-SHA256 (hex) of the other fields except hit_count


def _project_dirs() -> tuple[Path | None, Path | None, str | None, Path | None]:
    """(project root, state dir, cache.secret, claude.json) of the project around the CWD."""
    from .config.discover import nearby_project

    found = nearby_project()
    project = found.project
    if project is None:
        if found.error is not None:
            log.warning(
                "ResponseCache: ignoring the project at %s (%s)", found.config_path, found.error
            )
        return found.root, None, None, None
    secret = project.settings.cache.secret
    return (
        project.root,
        project.state_dir,
        secret.get_secret_value() if secret is not None else None,
        project.config_path,
    )


def _fallback_dir() -> Path:
    uid = os.getuid() if hasattr(os, "getuid") else "user"
    return Path(tempfile.gettempdir()) / f"claude-force-{uid}" / "cache"


def _check_dir(cache_dir: Path, roots: Iterable[Path]) -> Path:
    resolved = cache_dir.expanduser().resolve()
    allowed = [r.expanduser().resolve() for r in roots]
    if any(resolved.is_relative_to(root) for root in allowed):
        return resolved
    raise CacheConfigurationError(
        f"cache_dir {resolved} is outside the allowed places",
        key="cache_dir",
        hint="use a folder inside the project, its state directory, ~/.claude or "
        + tempfile.gettempdir(),
    )


class ResponseCache(Closing):
    """Cache of agent responses keyed by (agent, task, model). See docs/caching.md."""

    def __init__(
        self,
        cache_dir: str | os.PathLike[str] | None = None,
        ttl_hours: float = 24,
        max_size_mb: float = 100,
        enabled: bool = True,
        cache_secret: str | None = None,
        exclude_agents: Iterable[str] | None = None,
        verify_integrity: bool = True,
    ) -> None:
        root, state_dir, config_secret, config_file = _project_dirs()
        if cache_dir is None:
            self.cache_dir = state_dir or _fallback_dir()
        else:
            roots = [root or Path.cwd(), Path.home() / ".claude", Path(tempfile.gettempdir())]
            if state_dir is not None:
                roots.append(state_dir)
            self.cache_dir = _check_dir(Path(cache_dir), roots)
            config_secret = None  # a folder of its own: its own key unless one is given
        if cache_secret is not None:
            secret = SecretSource(
                check_secret(cache_secret, where="cache_secret"), self.cache_dir / KEY_FILE_NAME
            )
        else:
            secret = SecretSource.resolve(
                config_secret=config_secret,
                key_file=self.cache_dir / KEY_FILE_NAME,
                config_file=config_file,
            )
        self._secret = secret
        self.enabled = enabled
        self.exclude_agents = set(exclude_agents or ())
        self.verify_integrity = verify_integrity
        self.ttl_seconds = float(ttl_hours) * 3600
        self.max_size_bytes = int(float(max_size_mb) * MIB)
        self.policy = CachePolicy.from_settings(ttl_hours, max_size_mb, self.exclude_agents)
        self.store = ResponseStore(
            SqliteBackend(self.cache_dir / DB_FILE_NAME),
            self.policy,
            secret,
            prices=builtin_catalog().prices,
            verify=verify_integrity,
        )
        self._loop = LoopThread(name="claude-force-response-cache")

    # --- 2.2 API ----------------------------------------------------------------------------------

    def _cache_key(self, agent_name: str, task: str, model: str) -> str:
        return compat_key(agent_name, task, model)

    def _compute_signature(self, entry_dict: Mapping[str, Any]) -> str:
        """HMAC-SHA256 (hex) of a :class:`CacheEntry` as a dict, keyed by the cache secret.

        ``signature`` and ``hit_count`` (a counter that changes on every hit) are not signed.
        """
        fields = {k: v for k, v in entry_dict.items() if k not in ("signature", "hit_count")}
        canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)
        msg = _ENTRY_DOMAIN + canonical.encode("utf-8")
        return hmac.new(self._secret.load(), msg, hashlib.sha256).hexdigest()

    def _verify_signature(self, entry: CacheEntry) -> bool:
        """Whether ``entry`` carries the signature of its fields (empty or wrong: ``False``)."""
        if not entry.signature:
            log.warning("cache entry %.8s has no signature", entry.key)
            return False
        expected = self._compute_signature(asdict(entry))
        if not hmac.compare_digest(expected.encode(), str(entry.signature).encode()):
            log.warning("cache entry %.8s failed its integrity check", entry.key)
            return False
        return True

    def _skip(self, agent_name: str) -> bool:
        return not self.enabled or agent_name in self.exclude_agents

    def get(self, agent_name: str, task: str, model: str) -> dict[str, Any] | None:
        """The cached response, or ``None``. Counts a hit or a miss."""
        if self._skip(agent_name):
            return None
        try:
            hit = self._loop.run(self.store.get(self._cache_key(agent_name, task, model)))
        except CacheBackendError as exc:  # a broken cache is a miss, never a crash
            log.warning("ResponseCache.get: cache unavailable (%s)", exc)
            return None
        if hit is None:
            return None
        e = hit.entry
        return {
            "response": e.text,
            "input_tokens": e.usage.input_tokens,
            "output_tokens": e.usage.output_tokens,
            "estimated_cost": e.estimated_cost if e.estimated_cost is not None else 0.0,
            "cached": True,
            "cache_age_seconds": hit.age_seconds,
            "hit_count": hit.hits,
        }

    def set(
        self,
        agent_name: str,
        task: str,
        model: str,
        response: str,
        input_tokens: int,
        output_tokens: int,
        estimated_cost: float,
    ) -> None:
        """Store a response (replacing an older one for the same agent, task and model)."""
        if self._skip(agent_name):
            return
        answer = MessageResponse(
            text=response,
            model=model,
            stop_reason="end_turn",
            usage=Usage(input_tokens=int(input_tokens), output_tokens=int(output_tokens)),
            provider="response_cache",
        )
        try:
            self._loop.run(
                self.store.put(
                    self._cache_key(agent_name, task, model),
                    namespace="compat",
                    agent=agent_name,
                    model=model,
                    response=answer,
                    duration_s=0.0,
                    preview=task,
                    estimated_cost=float(estimated_cost),
                )
            )
        except CacheBackendError as exc:
            log.warning("ResponseCache.set: cache unavailable, not stored (%s)", exc)

    # Like get/set, a broken cache (unreadable key, full disk, locked file …) is logged and
    # answered with a neutral value, never raised: the 2.2 cache never failed its caller.

    def delete(self, key: str) -> bool:
        """Remove the entry with this key (see ``_cache_key``); ``True`` if there was one."""
        try:
            return self._loop.run(self.store.delete(key))
        except CacheBackendError as exc:
            log.warning("ResponseCache.delete: cache unavailable, nothing removed (%s)", exc)
            return False

    def size(self) -> int:
        """The number of entries (0 when the cache cannot be read)."""
        try:
            return self._stats().entries
        except CacheBackendError as exc:
            log.warning("ResponseCache.size: cache unavailable (%s)", exc)
            return 0

    def clear(self) -> None:
        """Remove every entry (statistics are kept)."""
        try:
            self._loop.run(self.store.clear())
        except CacheBackendError as exc:
            log.warning("ResponseCache.clear: cache unavailable, nothing removed (%s)", exc)

    def prune(self) -> int:
        """Remove expired entries; returns how many (0 when the cache cannot be read)."""
        try:
            return self._loop.run(self.store.prune())
        except CacheBackendError as exc:
            log.warning("ResponseCache.prune: cache unavailable (%s)", exc)
            return 0

    def _stats(self) -> CacheStats:
        return self._loop.run(self.store.stats())

    @property
    def stats(self) -> dict[str, int]:
        """The raw counters (2.2 kept a dict named ``stats``)."""
        s = self._stats()
        return {
            "hits": s.hits,
            "misses": s.misses,
            "evictions": s.counters.evictions,
            "size_bytes": s.bytes,
            "integrity_failures": s.counters.integrity_failures,
        }

    def get_stats(self) -> dict[str, Any]:
        """The 2.2 statistics (``hit_rate`` as a percentage string, as before) and the new ones."""
        s = self._stats()
        out = s.to_dict()
        out.update(
            {
                "enabled": self.enabled,
                "hit_rate": f"{s.hit_rate * 100:.1f}%",
                "size_mb": round(s.bytes / MIB, 2),
                "ttl_hours": self.ttl_seconds / 3600,
                "max_size_mb": self.max_size_bytes / MIB,
            }
        )
        return out

    # --- lifecycle ----------------------------------------------------------------------------------

    def close(self) -> None:
        if self._loop.running:
            self._loop.run(self.store.aclose())
        self._loop.close()

    def __repr__(self) -> str:
        return f"ResponseCache(cache_dir={str(self.cache_dir)!r}, enabled={self.enabled})"
