"""Helpers for the response-cache tests: records, backends, a gated provider."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from claude_force.cache.backend import CacheBackend
from claude_force.cache.memory_backend import MemoryBackend
from claude_force.cache.records import Counters, Record, Verdict
from claude_force.cache.redis_backend import RedisBackend
from claude_force.cache.sqlite_backend import SqliteBackend
from claude_force.messages import MessageRequest, MessageResponse, Usage
from claude_force.testing import ScriptedProvider

BACKENDS = ("memory", "sqlite", "redis")


def record(
    key: str,
    size: int = 100,
    *,
    agent: str = "alpha",
    created: float = 1_000_000.0,
    ttl: float = 3600.0,
) -> Record:
    """A record of exactly ``size`` bytes (payload + 32-byte signature)."""
    payload = (key.encode() * (size // max(1, len(key)) + 1))[: size - 32]
    return Record(
        key=key,
        namespace="sim",
        agent=agent,
        model="claude-test",
        created_at=created,
        expires_at=created + ttl,
        payload=payload,
        sig=b"s" * 32,
    )


def ok_judge(r: Record) -> Verdict:
    """Valid unless the payload starts with b'bad'."""
    if r.payload.startswith(b"bad"):
        return Verdict(False, Counters(misses=1, integrity_failures=1))
    return Verdict(True, Counters(hits=1), r.key)


MISS = Counters(misses=1)


def redis_prefix() -> str:
    return f"cf-test:{uuid.uuid4().hex[:12]}"


async def drop_redis_prefix(url: str, prefix: str) -> None:
    from redis.asyncio import Redis

    client = Redis.from_url(url)
    try:
        keys = [k async for k in client.scan_iter(match=prefix + "*", count=1000)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


def new_backend(kind: str, tmp_path: Path, redis_url: str | None, prefix: str) -> CacheBackend:
    if kind == "memory":
        return MemoryBackend()
    if kind == "sqlite":
        return SqliteBackend(tmp_path / "state" / "cache.db")
    assert redis_url is not None
    return RedisBackend(redis_url, prefix=prefix)


@asynccontextmanager
async def opened(backend: CacheBackend, key_id: str = "test") -> AsyncIterator[CacheBackend]:
    await backend.open(key_id)
    try:
        yield backend
    finally:
        await backend.aclose()


def request(
    task: str = "do the thing", model: str = "claude-sonnet-5-5", **kw: object
) -> MessageRequest:
    from claude_force.messages import ChatMessage, SystemBlock

    return MessageRequest(
        model=model,
        messages=(ChatMessage("user", task),),
        system=(SystemBlock("# Alpha\nYou are alpha.", cache=True),),
        **kw,  # type: ignore[arg-type]
    )


class GatedProvider(ScriptedProvider):
    """Counts calls; each call waits for ``gate`` (when set) and answers per ``stop_reason``."""

    def __init__(self, *, stop_reason: str = "end_turn", fail: Exception | None = None) -> None:
        super().__init__(respond=self._answer, name="gated", simulated=True)
        self.stop_reason = stop_reason
        self.fail = fail
        self.seed = 0

    @property
    def calls(self) -> int:
        return len(self.requests)

    def _answer(self, request: MessageRequest) -> MessageResponse:
        if self.fail is not None:
            raise self.fail
        return MessageResponse(
            text=f"answer #{self.calls} to: {request.messages[-1].content}",
            model=request.model,
            stop_reason=self.stop_reason,
            usage=Usage(input_tokens=1000, output_tokens=200),
            request_id=f"req_{self.calls}",
            provider=self.name,
            simulated=True,
        )


async def until(condition: object, *, steps: int = 10_000) -> None:
    """Yield to the event loop until ``condition()`` holds (bounded; no wall clock)."""
    for _ in range(steps):
        if condition():  # type: ignore[operator]
            return
        await asyncio.sleep(0)
    raise AssertionError("condition not reached")


async def eventually(condition: object, *, within_s: float = 60.0) -> None:
    """Wait until ``condition()`` holds, sleeping 1 ms between checks (bounded by a generous
    ``within_s``, a guard against a hang, not a speed check). For a condition that needs another
    thread's work: polling with ``sleep(0)`` keeps the GIL on the loop's thread, and under load
    a step bound can run out before the other thread is scheduled enough."""
    for _ in range(int(within_s * 1000)):
        if condition():  # type: ignore[operator]
            return
        await asyncio.sleep(0.001)
    raise AssertionError(f"condition not reached within {within_s:.0f} s")


def truncate(path: Path, fraction: float) -> None:
    with open(path, "r+b") as fh:
        fh.truncate(int(path.stat().st_size * fraction))


def corrupt_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("cache.db.corrupt-*"))
