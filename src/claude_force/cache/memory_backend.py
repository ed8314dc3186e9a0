"""The in-memory backend: an ordered dict in LRU order. Per process; nothing survives a restart.

Used for tests, for ``cache.backend: "memory"``, and as the reference implementation of the
backend contract. All work is in-process and non-blocking.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import replace

from .records import BackendStats, Counters, EntryInfo, Judge, PutOutcome, Record, Verdict


class MemoryBackend:
    name = "memory"
    persistent = False

    def __init__(self) -> None:
        self._entries: OrderedDict[str, Record] = OrderedDict()  # least recently used first
        self._bytes = 0
        self._counters = Counters()

    @property
    def location(self) -> str:
        return "process memory"

    async def open(self, key_id: str = "") -> None:
        return None

    async def aclose(self) -> None:
        return None

    def _drop(self, key: str) -> Record | None:
        record = self._entries.pop(key, None)
        if record is not None:
            self._bytes -= record.size
        return record

    async def lookup(self, key: str, now: float, judge: Judge, miss: Counters) -> Verdict | None:
        record = self._entries.get(key)
        if record is None:
            self._counters += miss
            return None
        if not now < record.expires_at:
            self._drop(key)
            self._counters += miss + Counters(expirations=1)
            return None
        verdict = judge(record)
        if verdict.valid:
            self._entries[key] = replace(record, hits=record.hits + 1, last_used_at=now)
            self._entries.move_to_end(key)
        else:
            self._drop(key)
        self._counters += verdict.counters
        return verdict

    async def peek(self, key: str) -> Record | None:
        return self._entries.get(key)

    async def put(
        self, record: Record, max_bytes: int, now: float, counters: Counters
    ) -> PutOutcome:
        if record.size > max_bytes:
            return PutOutcome(stored=False)
        self._drop(record.key)
        self._entries[record.key] = replace(record, last_used_at=now, hits=0)
        self._bytes += record.size
        evicted = expired = 0
        while self._bytes > max_bytes:
            victim_key = next(iter(self._entries))
            victim = self._drop(victim_key)
            assert victim is not None
            if now < victim.expires_at:
                evicted += 1
            else:
                expired += 1
        self._counters += counters + Counters(evictions=evicted, expirations=expired)
        return PutOutcome(stored=True, evicted=evicted, expired=expired)

    async def remove(self, key: str, counters: Counters) -> bool:
        if self._drop(key) is None:
            return False
        self._counters += counters
        return True

    async def bump(self, counters: Counters) -> None:
        self._counters += counters

    async def stats(self) -> BackendStats:
        return BackendStats(self._counters, len(self._entries), self._bytes)

    async def entries(self, agent: str | None = None, limit: int | None = None) -> list[EntryInfo]:
        out: list[EntryInfo] = []
        for record in reversed(self._entries.values()):
            if agent is not None and record.agent != agent:
                continue
            out.append(record.info())
            if limit is not None and len(out) >= limit:
                break
        return out

    async def prune(self, now: float) -> int:
        dead = [k for k, r in self._entries.items() if not now < r.expires_at]
        for k in dead:
            self._drop(k)
        self._counters += Counters(expirations=len(dead))
        return len(dead)

    async def clear(self, agent: str | None = None) -> int:
        doomed = [k for k, r in self._entries.items() if agent is None or r.agent == agent]
        for k in doomed:
            self._drop(k)
        return len(doomed)
