"""Errors of the response cache.

A broken cache must never fail a run: the call pipeline catches :class:`CacheBackendError` and
answers from the provider instead. Configuration mistakes (a missing Redis URL, a weak secret, a
cache directory outside the allowed places) are :class:`CacheConfigurationError` and name the key.
"""

from __future__ import annotations

from ..errors import ClaudeForceError, ConfigurationError, RunError


class CacheConfigurationError(ConfigurationError):
    """A cache setting is wrong; the message names the key and the fix."""


class CacheBackendError(RunError):
    """The cache storage could not be used (Redis unreachable, disk full, database locked …)."""


class ForeignStorageError(CacheBackendError):
    """The cache's path holds something that is not a claude-force cache; it is left untouched."""


class CacheKeyError(ClaudeForceError):
    """A key given on the command line matches no entry, or several (a usage error)."""

    exit_code = 2
