"""Nearest-neighbour search over one partition's task vectors (numpy, in memory).

A partition's vectors are one contiguous float32 matrix (a row per entry, grown by doubling,
loaded once from the store and appended to as entries arrive), plus their sign bits: 384 bits,
48 bytes per entry, stored one 64-bit word per row so that each pass is a contiguous vector op.

Up to ``PREFILTER_MIN`` entries a lookup scores every row exactly (one matrix-vector product).
Above it, scoring every row is memory-bound — 100,000 rows are 154 MB read per lookup, 24 ms on
an idle core of the project's machine — so a lookup first computes the Hamming distance of every
entry's sign bits to the query's (4.8 MB at 100,000: about 0.5 ms), keeps the ``CANDIDATES``
closest (a histogram of the distances gives the cut-off in one pass, cheaper than a partial
sort), and scores only those exactly: the threshold is always applied to the true cosine. On
real task vectors padded with 100,000 synthetic near-neighbours the 256 candidates contained the
exact nearest entry every time (``benchmarks/bench_semantic.py`` measures it on each run).

Hand-written rather than an ANN library (usearch, hnswlib, faiss): entries arrive one at a time
from several processes, and a graph index must be rebuilt or persisted per process (building HNSW
for 100,000 entries took minutes on a busy 2-CPU machine), while this needs no build, adds an
entry in O(1), and is exact wherever it matters (the candidates are scored exactly).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

PREFILTER_MIN = 4096  # below this, scoring every entry is cheaper than the prefilter
CANDIDATES = 256  # scored exactly after the prefilter (256 rows: about 50 µs)

Vectors = NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class Neighbour:
    key: str
    task: str
    similarity: float
    expires_at: float


class PartitionIndex:
    """The vectors of one partition; rows are swapped out on removal (order does not matter).

    Not thread-safe: the semantic cache uses it from its event loop only (a search at 100,000
    entries takes about a millisecond)."""

    def __init__(self, dim: int, capacity: int = 64) -> None:
        self.dim = dim
        self._words = (dim + 63) // 64
        self._vecs: Vectors = np.zeros((capacity, dim), dtype=np.float32)
        # one row per 64-bit word, one column per entry: each word is a contiguous vector op
        self._bits = np.zeros((self._words, capacity), dtype=np.uint64)
        self._keys: list[str] = []
        self._tasks: list[str] = []
        self._expires: list[float] = []
        self._pos: dict[str, int] = {}
        self.cursor: object = None  # the store's position of the last row loaded

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, key: str) -> bool:
        return key in self._pos

    def _signs(self, vecs: Vectors) -> NDArray[np.uint64]:
        """Sign bits of each row of ``vecs``, shape (words, rows)."""
        bits = np.packbits(vecs > 0, axis=1)
        padded = np.zeros((vecs.shape[0], self._words * 8), dtype=np.uint8)
        padded[:, : bits.shape[1]] = bits
        return np.ascontiguousarray(padded.view(np.uint64).T)

    def _reserve(self, total: int) -> None:
        capacity = self._vecs.shape[0]
        if total <= capacity:
            return
        while capacity < total:
            capacity *= 2
        n = len(self._keys)
        vecs = np.zeros((capacity, self.dim), dtype=np.float32)
        vecs[:n] = self._vecs[:n]
        bits = np.zeros((self._words, capacity), dtype=np.uint64)
        bits[:, :n] = self._bits[:, :n]
        self._vecs, self._bits = vecs, bits

    def add(self, key: str, task: str, vec: Vectors, expires_at: float) -> None:
        self.extend([key], [task], vec.reshape(1, -1), [expires_at])

    def extend(
        self,
        keys: Sequence[str],
        tasks: Sequence[str],
        vecs: Vectors,
        expires: Sequence[float],
    ) -> None:
        """Append entries (one vector row each); a key already present is replaced."""
        for key in keys:
            if key in self._pos:
                self.remove(key)
        latest = {k: i for i, k in enumerate(keys)}
        if len(latest) != len(keys):  # the same key twice in one batch: the last one wins
            keep = sorted(latest.values())
            keys, tasks = [keys[i] for i in keep], [tasks[i] for i in keep]
            expires, vecs = [expires[i] for i in keep], vecs[keep]
        n, m = len(self._keys), len(keys)
        if m == 0:
            return
        self._reserve(n + m)
        self._vecs[n : n + m] = vecs
        self._bits[:, n : n + m] = self._signs(vecs)
        self._keys.extend(keys)
        self._tasks.extend(tasks)
        self._expires.extend(expires)
        for i, key in enumerate(keys, start=n):
            self._pos[key] = i

    def remove(self, key: str) -> None:
        i = self._pos.pop(key, None)
        if i is None:
            return
        last = len(self._keys) - 1
        if i != last:
            self._vecs[i] = self._vecs[last]
            self._bits[:, i] = self._bits[:, last]
            self._keys[i] = self._keys[last]
            self._tasks[i] = self._tasks[last]
            self._expires[i] = self._expires[last]
            self._pos[self._keys[i]] = i
        self._keys.pop()
        self._tasks.pop()
        self._expires.pop()

    def candidates(self, query: Vectors) -> NDArray[np.intp]:
        """Rows to score exactly: all of them up to ``PREFILTER_MIN``, else the ``CANDIDATES``
        with the fewest sign bits differing from the query's (ties at the cut-off included)."""
        n = len(self._keys)
        if n <= PREFILTER_MIN:
            return np.arange(n)
        signs = self._signs(query.reshape(1, -1))[:, 0]
        distance = np.zeros(n, dtype=np.uint16)
        word = np.empty(n, dtype=np.uint64)
        count = np.empty(n, dtype=np.uint8)
        for w in range(self._words):
            np.bitwise_xor(self._bits[w, :n], signs[w], out=word)
            np.bitwise_count(word, out=count)
            np.add(distance, count, out=distance)
        # the smallest distance d with at least CANDIDATES entries at d or closer
        cumulative = np.cumsum(np.bincount(distance, minlength=self._words * 64 + 1))
        cutoff = int(np.searchsorted(cumulative, CANDIDATES))
        rows = np.flatnonzero(distance <= cutoff)
        if rows.size > 4 * CANDIDATES:  # many ties at the cut-off (near-duplicate entries)
            rows = rows[np.argpartition(distance[rows], CANDIDATES)[:CANDIDATES]]
        return rows

    def search(self, query: Vectors, k: int = 4) -> list[Neighbour]:
        """The ``k`` most similar entries, best first (expired ones included: the caller checks)."""
        if not self._keys:
            return []
        rows = self.candidates(query)
        scores = self._vecs[rows] @ query
        top = np.argsort(-scores)[:k]
        return [
            Neighbour(
                self._keys[int(rows[t])],
                self._tasks[int(rows[t])],
                float(scores[t]),
                self._expires[int(rows[t])],
            )
            for t in top
        ]

    def exact(self, query: Vectors) -> str | None:
        """The true nearest key, scoring every entry (for measuring the prefilter)."""
        n = len(self._keys)
        if n == 0:
            return None
        return self._keys[int(np.argmax(self._vecs[:n] @ query))]
