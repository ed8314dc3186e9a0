"""The 2.2 import path of ``ResponseCache``, the 2.2 cache API; the face lives in :mod:`claude_force.compat`."""

from .compat.response_cache import DB_FILE_NAME as DB_FILE_NAME
from .compat.response_cache import CacheEntry, ResponseCache

__all__ = ["CacheEntry", "ResponseCache"]
