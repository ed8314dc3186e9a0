"""The Redis backend (``redis.asyncio``): one cache shared by many processes and machines.

Layout, under ``<prefix>:{<key id>}`` (the hash tag keeps every key of one cache in one slot):

* ``…:e:<key>`` — a hash per entry (payload, signature, columns), with a Redis TTL;
* ``…:lru`` — a sorted set of keys scored by a recency sequence (lowest = least recently used);
* ``…:sizes`` — a hash key → entry bytes; ``…:meta`` — totals (``bytes``, ``entries``, ``seq``)
  and the counters.

Every change is one Lua script, so the entry, the index, the byte total and the counters move
atomically even with many clients. How the two limits are enforced here:

* **TTL** — the signed expiry is checked against the caller's clock on every read (exact, like
  the other backends), and each entry also carries a Redis ``PEXPIRE`` a second past it, so Redis
  reclaims memory by itself. An entry Redis expired on its own is reconciled lazily (on the next
  read of that key, on eviction, or by ``cache prune``), then counted as an expiration.
* **Size** — the byte total is kept in ``meta`` by the same scripts; a write evicts from the low
  end of ``lru`` until the total is within ``max_size_mb``. Entries Redis already dropped still
  count until reconciled, so the real usage is never above the bound. (This is the bound on
  entry bytes; Redis's own per-key overhead is not included — set ``maxmemory`` for that.)

Entries signed with a different secret live under a different key id and are invisible: two
projects with their own secrets can share one Redis database without deleting each other's
entries. The scripts build entry key names from the prefix, so Redis Cluster is not supported.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from .errors import CacheBackendError
from .records import BackendStats, Counters, EntryInfo, Judge, PutOutcome, Record, Verdict

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.commands.core import AsyncScript

DEFAULT_PREFIX = "claude-force:cache"
GRACE_MS = 1000  # Redis's own expiry trails the signed one; reads decide with the signed expiry

_FIELDS = (
    "namespace",
    "agent",
    "model",
    "created_at",
    "expires_at",
    "payload",
    "sig",
    "last_used_at",
    "hits",
)

_COUNT = """
local function count(meta, argv, first)
  for i = first, #argv, 2 do
    redis.call('HINCRBY', meta, argv[i], argv[i + 1])
  end
end
local function unindex(lru, sizes, meta, key)
  local size = redis.call('HGET', sizes, key)
  if size then
    redis.call('ZREM', lru, key)
    redis.call('HDEL', sizes, key)
    redis.call('HINCRBY', meta, 'bytes', -tonumber(size))
    redis.call('HINCRBY', meta, 'entries', -1)
    return true
  end
  return false
end
"""

# KEYS: entry, lru, sizes, meta — ARGV: key, now, miss counters (name, value)…
_LOOKUP = (
    _COUNT
    + """
local h = redis.call('HMGET', KEYS[1], 'namespace', 'agent', 'model', 'created_at',
                     'expires_at', 'payload', 'sig', 'last_used_at', 'hits')
if not h[6] then
  if unindex(KEYS[2], KEYS[3], KEYS[4], ARGV[1]) then
    redis.call('HINCRBY', KEYS[4], 'expirations', 1)
  end
  redis.call('DEL', KEYS[1])
  count(KEYS[4], ARGV, 3)
  return false
end
if tonumber(h[5]) <= tonumber(ARGV[2]) then
  redis.call('DEL', KEYS[1])
  unindex(KEYS[2], KEYS[3], KEYS[4], ARGV[1])
  redis.call('HINCRBY', KEYS[4], 'expirations', 1)
  count(KEYS[4], ARGV, 3)
  return false
end
return h
"""
)

# KEYS: entry, lru, meta — ARGV: key, now, counters…
_TOUCH = (
    _COUNT
    + """
if redis.call('EXISTS', KEYS[1]) == 1 then
  local seq = redis.call('HINCRBY', KEYS[3], 'seq', 1)
  redis.call('ZADD', KEYS[2], seq, ARGV[1])
  redis.call('HSET', KEYS[1], 'last_used_at', ARGV[2])
  redis.call('HINCRBY', KEYS[1], 'hits', 1)
end
count(KEYS[3], ARGV, 3)
return 1
"""
)

# KEYS: entry, lru, sizes, meta — ARGV: key, counters… → 1 when the entry existed
_REMOVE = (
    _COUNT
    + """
local existed = redis.call('DEL', KEYS[1])
unindex(KEYS[2], KEYS[3], KEYS[4], ARGV[1])
if existed == 1 then
  count(KEYS[4], ARGV, 2)
end
return existed
"""
)

# KEYS: entry, lru, sizes, meta — ARGV: key, now → 1 when removed as expired (or already gone)
_PRUNE_ONE = (
    _COUNT
    + """
local exp = redis.call('HGET', KEYS[1], 'expires_at')
if exp and tonumber(exp) > tonumber(ARGV[2]) then
  return 0
end
redis.call('DEL', KEYS[1])
if unindex(KEYS[2], KEYS[3], KEYS[4], ARGV[1]) or exp then
  redis.call('HINCRBY', KEYS[4], 'expirations', 1)
  return 1
end
return 0
"""
)

# KEYS: entry, lru, sizes, meta — ARGV: key, ttl_ms, size, max_bytes, now, entry prefix,
#   number of field/value items, field/value…, counters…
_PUT = (
    _COUNT
    + """
local key = ARGV[1]
local size = tonumber(ARGV[3])
local max = tonumber(ARGV[4])
local now = tonumber(ARGV[5])
local base = ARGV[6]
local nf = tonumber(ARGV[7])
local d_bytes, d_entries = size, 1
local old = redis.call('HGET', KEYS[3], key)
if old then
  d_bytes = d_bytes - tonumber(old)
  d_entries = 0
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 8, 7 + nf))
redis.call('PEXPIRE', KEYS[1], ARGV[2])
local seq = redis.call('HINCRBY', KEYS[4], 'seq', 1)
redis.call('ZADD', KEYS[2], seq, key)
redis.call('HSET', KEYS[3], key, size)
local total = tonumber(redis.call('HGET', KEYS[4], 'bytes') or '0') + d_bytes
local evicted, expired = 0, 0
while total > max do
  local victims = redis.call('ZRANGE', KEYS[2], 0, 31)
  local progressed = false
  for _, v in ipairs(victims) do
    if total <= max then break end
    if v ~= key then
      local vsize = tonumber(redis.call('HGET', KEYS[3], v) or '0')
      local vexp = redis.call('HGET', base .. v, 'expires_at')
      redis.call('DEL', base .. v)
      redis.call('ZREM', KEYS[2], v)
      redis.call('HDEL', KEYS[3], v)
      total = total - vsize
      d_bytes = d_bytes - vsize
      d_entries = d_entries - 1
      if vexp and tonumber(vexp) > now then
        evicted = evicted + 1
      else
        expired = expired + 1
      end
      progressed = true
    end
  end
  if not progressed then break end
end
redis.call('HINCRBY', KEYS[4], 'bytes', d_bytes)
redis.call('HINCRBY', KEYS[4], 'entries', d_entries)
redis.call('HINCRBY', KEYS[4], 'evictions', evicted)
redis.call('HINCRBY', KEYS[4], 'expirations', expired)
count(KEYS[4], ARGV, 8 + nf)
return {evicted, expired}
"""
)

# KEYS: meta — ARGV: counters…
_BUMP = _COUNT + "count(KEYS[1], ARGV, 1)\nreturn 1\n"


def redact_url(url: str) -> str:
    """The URL without its password (safe to show and log)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit((parts.scheme, user + host, parts.path, parts.query, parts.fragment))


def _flat(counters: Counters) -> list[str | int]:
    out: list[str | int] = []
    for name, value in counters.nonzero():
        out += [name, value]
    return out


def _s(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _b(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    return b"" if value is None else str(value).encode("utf-8")


def _record(key: str, h: list[Any]) -> Record:
    ns, agent, model, created, expires, payload, sig, last_used, hits = h
    return Record(
        key=key,
        namespace=_s(ns or b""),
        agent=_s(agent or b""),
        model=_s(model or b""),
        created_at=float(created or 0),
        expires_at=float(expires or 0),
        payload=_b(payload),
        sig=_b(sig),
        last_used_at=float(last_used or 0),
        hits=int(hits or 0),
    )


class RedisBackend:
    name = "redis"
    persistent = True

    def __init__(self, url: str, *, prefix: str = DEFAULT_PREFIX, client: Redis | None = None):
        self.url = url
        self.prefix = prefix
        self._client = client
        self._own_client = client is None
        self._base = ""
        self._scripts: dict[str, AsyncScript] = {}

    @property
    def location(self) -> str:
        return redact_url(self.url) + (f" ({self._base})" if self._base else "")

    # --- keys -----------------------------------------------------------------------------------

    def _entry(self, key: str) -> str:
        return f"{self._base}:e:{key}"

    @property
    def _lru(self) -> str:
        return f"{self._base}:lru"

    @property
    def _sizes(self) -> str:
        return f"{self._base}:sizes"

    @property
    def _meta(self) -> str:
        return f"{self._base}:meta"

    def _flight(self, key: str) -> str:
        return f"{self._base}:f:{key}"

    async def claim(self, key: str, ttl_s: float) -> bool:
        """Cross-process single-flight: become the one process that calls the model for ``key``
        (``False``: another process holds the claim; it expires after ``ttl_s``)."""
        from redis.exceptions import RedisError

        try:
            got = await self.client.set(
                self._flight(key), "1", nx=True, px=max(1, int(ttl_s * 1000))
            )
        except (RedisError, OSError) as exc:
            raise self._error(exc) from None
        return bool(got)

    async def release(self, key: str) -> None:
        from redis.exceptions import RedisError

        try:
            await self.client.delete(self._flight(key))
        except (RedisError, OSError) as exc:
            raise self._error(exc) from None

    async def claimed(self, key: str) -> bool:
        from redis.exceptions import RedisError

        try:
            return bool(await self.client.exists(self._flight(key)))
        except (RedisError, OSError) as exc:
            raise self._error(exc) from None

    def _keys4(self, key: str) -> list[str]:
        return [self._entry(key), self._lru, self._sizes, self._meta]

    # --- plumbing -------------------------------------------------------------------------------

    @property
    def client(self) -> Redis:
        if self._client is None:
            raise CacheBackendError("the Redis cache is not open")
        return self._client

    def _error(self, exc: Exception) -> CacheBackendError:
        return CacheBackendError(
            f"Redis cache at {redact_url(self.url)}: {type(exc).__name__}: {exc}",
            hint="check that Redis is running and cache.redis_url is right",
        )

    async def _script(self, name: str, keys: list[str], args: list[Any]) -> Any:
        from redis.exceptions import RedisError

        try:
            return await self._scripts[name](keys=keys, args=args)
        except (RedisError, OSError) as exc:
            raise self._error(exc) from exc

    # --- the protocol ---------------------------------------------------------------------------

    async def open(self, key_id: str = "") -> None:
        from redis.asyncio import Redis
        from redis.exceptions import RedisError

        self._base = f"{self.prefix}:{{{key_id or 'default'}}}"
        if self._client is None:
            self._client = Redis.from_url(
                self.url, socket_connect_timeout=2.0, socket_timeout=5.0, decode_responses=False
            )
        for name, lua in {
            "lookup": _LOOKUP,
            "touch": _TOUCH,
            "remove": _REMOVE,
            "prune": _PRUNE_ONE,
            "put": _PUT,
            "bump": _BUMP,
        }.items():
            self._scripts[name] = self._client.register_script(lua)
        try:
            await self._client.ping()
        except (RedisError, OSError) as exc:
            raise self._error(exc) from exc

    async def aclose(self) -> None:
        if self._client is not None and self._own_client:
            await self._client.aclose()
            self._client = None

    async def lookup(self, key: str, now: float, judge: Judge, miss: Counters) -> Verdict | None:
        h = await self._script("lookup", self._keys4(key), [key, repr(now), *_flat(miss)])
        if not h:
            return None
        try:
            record = _record(key, h)
        except (TypeError, ValueError):  # a field with an impossible value: tampered
            bad = Verdict(False, miss + Counters(integrity_failures=1))
            await self._script("remove", self._keys4(key), [key, *_flat(bad.counters)])
            return bad
        verdict = judge(record)
        if verdict.valid:
            await self._script(
                "touch",
                [self._entry(key), self._lru, self._meta],
                [key, repr(now), *_flat(verdict.counters)],
            )
        else:
            await self._script("remove", self._keys4(key), [key, *_flat(verdict.counters)])
        return verdict

    async def peek(self, key: str) -> Record | None:
        from redis.exceptions import RedisError

        try:
            h = await self.client.hmget(self._entry(key), list(_FIELDS))
        except (RedisError, OSError) as exc:
            raise self._error(exc) from exc
        if not h or h[5] is None:
            return None
        return _record(key, h)

    async def put(
        self, record: Record, max_bytes: int, now: float, counters: Counters
    ) -> PutOutcome:
        if record.size > max_bytes:
            return PutOutcome(stored=False)
        ttl_ms = max(1, math.ceil((record.expires_at - now) * 1000)) + GRACE_MS
        fields: list[Any] = [
            "namespace",
            str(record.namespace),
            "agent",
            record.agent,
            "model",
            record.model,
            "created_at",
            repr(record.created_at),
            "expires_at",
            repr(record.expires_at),
            "payload",
            record.payload,
            "sig",
            record.sig,
            "last_used_at",
            repr(now),
            "hits",
            0,
        ]
        result = await self._script(
            "put",
            self._keys4(record.key),
            [
                record.key,
                ttl_ms,
                record.size,
                max_bytes,
                repr(now),
                f"{self._base}:e:",
                len(fields),
                *fields,
                *_flat(counters),
            ],
        )
        evicted, expired = (int(x) for x in result)
        return PutOutcome(stored=True, evicted=evicted, expired=expired)

    async def remove(self, key: str, counters: Counters) -> bool:
        return bool(await self._script("remove", self._keys4(key), [key, *_flat(counters)]))

    async def bump(self, counters: Counters) -> None:
        if counters.nonzero():
            await self._script("bump", [self._meta], _flat(counters))

    async def stats(self) -> BackendStats:
        from redis.exceptions import RedisError

        try:
            raw = await self.client.hgetall(self._meta)
        except (RedisError, OSError) as exc:
            raise self._error(exc) from exc
        values = {_s(k): int(v) for k, v in raw.items()}
        return BackendStats(
            Counters.from_mapping(values), values.get("entries", 0), values.get("bytes", 0)
        )

    async def _members(self, newest_first: bool) -> list[str]:
        from redis.exceptions import RedisError

        try:
            if newest_first:
                raw = await self.client.zrevrange(self._lru, 0, -1)
            else:
                raw = await self.client.zrange(self._lru, 0, -1)
        except (RedisError, OSError) as exc:
            raise self._error(exc) from exc
        return [_s(m) for m in raw]

    async def entries(self, agent: str | None = None, limit: int | None = None) -> list[EntryInfo]:
        from redis.exceptions import RedisError

        out: list[EntryInfo] = []
        members = await self._members(newest_first=True)
        chunk = 500
        for start in range(0, len(members), chunk):
            part = members[start : start + chunk]
            try:
                async with self.client.pipeline(transaction=False) as pipe:
                    for key in part:
                        pipe.hmget(
                            self._entry(key),
                            [
                                "namespace",
                                "agent",
                                "model",
                                "created_at",
                                "expires_at",
                                "last_used_at",
                                "hits",
                            ],
                        )
                    pipe.hmget(self._sizes, part)
                    results = await pipe.execute()
            except (RedisError, OSError) as exc:
                raise self._error(exc) from exc
            sizes = results[-1]
            for key, h, size in zip(part, results[:-1], sizes, strict=True):
                if h[4] is None:
                    continue  # already expired by Redis; reconciled by prune
                info = EntryInfo(
                    key=key,
                    namespace=_s(h[0] or b""),
                    agent=_s(h[1] or b""),
                    model=_s(h[2] or b""),
                    created_at=float(h[3] or 0),
                    expires_at=float(h[4]),
                    last_used_at=float(h[5] or 0),
                    size=int(size or 0),
                    hits=int(h[6] or 0),
                )
                if agent is not None and info.agent != agent:
                    continue
                out.append(info)
                if limit is not None and len(out) >= limit:
                    return out
        return out

    async def prune(self, now: float) -> int:
        removed = 0
        for key in await self._members(newest_first=False):
            removed += int(await self._script("prune", self._keys4(key), [key, repr(now)]))
        return removed

    async def clear(self, agent: str | None = None) -> int:
        removed = 0
        if agent is None:
            keys = await self._members(newest_first=False)
        else:
            keys = [e.key for e in await self.entries(agent=agent)]
        for key in keys:
            removed += int(await self._script("remove", self._keys4(key), [key]))
        return removed
