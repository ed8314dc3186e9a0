"""The response cache: exact answers for repeated requests, signed, bounded, shared safely.

* :mod:`.keys` — the canonical key of a request (pure);
* :mod:`.policy` — what may be cached and for how long (pure);
* :mod:`.codec` — signed entry payloads;
* backends behind one protocol (:mod:`.backend`): :class:`MemoryBackend`,
  :class:`SqliteBackend` (the default, in the project's state directory) and
  :class:`RedisBackend`;
* :class:`ResponseStore` — the engine (lookups, single-flight, stats);
* :class:`CacheProvider` — the first wrapper of the call pipeline.

The 2.2 API lives in :mod:`claude_force.response_cache`. See docs/caching.md.
"""

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
    from .backend import CacheBackend
    from .codec import EntryPayload, Signer
    from .errors import (
        CacheBackendError,
        CacheConfigurationError,
        CacheKeyError,
        ForeignStorageError,
    )
    from .keys import KEY_VERSION, body_key, compat_key, request_key
    from .layer import CacheProvider, build_store, cache_enabled, cache_layer, provider_identity
    from .memory_backend import MemoryBackend
    from .policy import CachePolicy
    from .records import Counters, EntryInfo, Record
    from .redis_backend import RedisBackend
    from .secret import SECRET_ENV, SecretSource
    from .sqlite_backend import SqliteBackend
    from .stats import CacheStats
    from .store import Hit, Inspection, ResponseStore

# Imported lazily: ``cache stats`` and friends must not pay for the Redis client and the call
# pipeline when they only read a SQLite file.
_EXPORTS: dict[str, str] = {
    "CacheBackend": ".backend",
    "EntryPayload": ".codec",
    "Signer": ".codec",
    "CacheBackendError": ".errors",
    "CacheConfigurationError": ".errors",
    "CacheKeyError": ".errors",
    "ForeignStorageError": ".errors",
    "KEY_VERSION": ".keys",
    "body_key": ".keys",
    "compat_key": ".keys",
    "request_key": ".keys",
    "CacheProvider": ".layer",
    "build_store": ".layer",
    "cache_enabled": ".layer",
    "cache_layer": ".layer",
    "provider_identity": ".layer",
    "MemoryBackend": ".memory_backend",
    "CachePolicy": ".policy",
    "Counters": ".records",
    "EntryInfo": ".records",
    "Record": ".records",
    "RedisBackend": ".redis_backend",
    "SECRET_ENV": ".secret",
    "SecretSource": ".secret",
    "SqliteBackend": ".sqlite_backend",
    "CacheStats": ".stats",
    "Hit": ".store",
    "Inspection": ".store",
    "ResponseStore": ".store",
}

__all__ = [
    "KEY_VERSION",
    "SECRET_ENV",
    "CacheBackend",
    "CacheBackendError",
    "CacheConfigurationError",
    "CacheKeyError",
    "CachePolicy",
    "CacheProvider",
    "CacheStats",
    "Counters",
    "EntryInfo",
    "EntryPayload",
    "ForeignStorageError",
    "Hit",
    "Inspection",
    "MemoryBackend",
    "Record",
    "RedisBackend",
    "ResponseStore",
    "SecretSource",
    "Signer",
    "SqliteBackend",
    "body_key",
    "build_store",
    "cache_enabled",
    "cache_layer",
    "compat_key",
    "provider_identity",
    "request_key",
]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, __all__)
