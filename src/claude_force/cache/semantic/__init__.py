"""The semantic cache (opt-in): paraphrases answered from the cache, guarded against false hits.

* :mod:`.guards` — the facts two tasks must share (pure);
* :mod:`.index` — nearest-neighbour search per partition (numpy);
* :mod:`.store` — vectors beside the exact cache (SQLite, memory, Redis);
* :mod:`.layer` — partitions, lookup and remember, used by :class:`~..layer.CacheProvider`.

See docs/caching.md, "Semantic cache".
"""

from .guards import check, facts, refusal
from .index import PartitionIndex
from .layer import Lookup, Match, SemanticCache, partition_of
from .store import MemoryVectorStore, RedisVectorStore, SqliteVectorStore, VectorRow, VectorStore

__all__ = [
    "Lookup",
    "Match",
    "MemoryVectorStore",
    "PartitionIndex",
    "RedisVectorStore",
    "SemanticCache",
    "SqliteVectorStore",
    "VectorRow",
    "VectorStore",
    "check",
    "facts",
    "partition_of",
    "refusal",
]
