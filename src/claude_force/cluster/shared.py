"""Limits and breaker state shared by every process of a cluster, through Redis.

Two things cannot stay per process when N workers call one organisation's API:

* **Rate limits.** ``resilience.rate_limits`` become token buckets *in Redis* (requests, input
  tokens and output tokens per minute, per model), taken and settled atomically by Lua scripts
  that read Redis's own clock, so N workers together stay within one limit. A call reserves one
  request, its estimated input and its ``max_tokens``; after the response the reservation is
  replaced by the actual usage. The per-process limiter stays in front (it also adapts to the
  API's rate-limit headers); the shared one is the one that holds across processes.
* **Breakers.** When a process's breaker for (provider, model) opens, it publishes the time of
  the next probe in Redis; every process checks that key before calling and refuses at once
  (:class:`~claude_force.errors.CircuitOpenError`) while it exists. A breaker that closes again
  deletes it.

Redis unreachable: both fail open (the per-process limiter and breaker still apply), with a
warning at most every 30 s. Not a hand-written lock service: two short Lua scripts over Redis
hashes, because a distributed token bucket needs the read-refill-take to be one atomic step
and no maintained library offers one for redis.asyncio with our three kinds of budget.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .. import callctx
from ..errors import CircuitOpenError
from ..events import BreakerTransition, EventBus, RateLimitWait
from ..messages import MessageRequest, MessageResponse
from ..providers.base import Provider, ProviderWrapper
from ..resilience.buckets import KINDS, Kind, Need, counted_input
from ..resilience.config import ModelLimits, ResilienceSettings
from ..resilience.ratelimit import RateLimitDeadlineError

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from ..config import Project
    from ..pipeline import PipelineSpec

log = logging.getLogger(__name__)

PERIOD_S = 60.0
_WARN_EVERY_S = 30.0
_MAX_SLEEP_S = 1.0  # re-check at least this often (other processes give capacity back)

# Lua shared by the scripts below: Redis's clock and the period (ARGV[1]); then, inside a loop
# over the buckets with ``cap`` set, bucket i's level refilled up to now.
_CLOCK = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local period = tonumber(ARGV[1])
"""
_REFILL = """  local st = redis.call('HMGET', KEYS[i], 'level', 'at')
  local level = tonumber(st[1]); local at = tonumber(st[2])
  if level == nil then level = cap; at = now end
  if now > at then level = math.min(cap, level + (now - at) * cap / period) end
"""

# KEYS: the buckets; ARGV: period, then (capacity, need) per bucket. Returns the wait in
# seconds as a string (0: taken). Refill and take are one atomic step on Redis's clock.
_ACQUIRE = (
    _CLOCK
    + """
local levels = {}
local wait = 0
for i = 1, #KEYS do
  local cap = tonumber(ARGV[2 * i]); local need = tonumber(ARGV[2 * i + 1])
"""
    + _REFILL
    + """  levels[i] = level
  local deficit = math.min(need, cap) - level
  if deficit > 0.000001 then
    local w = deficit * period / cap
    if w > wait then wait = w end
  end
end
for i = 1, #KEYS do
  local level = levels[i]
  if wait <= 0 then level = level - tonumber(ARGV[2 * i + 1]) end
  redis.call('HSET', KEYS[i], 'level', tostring(level), 'at', tostring(now))
  redis.call('PEXPIRE', KEYS[i], math.ceil(period * 2000))
end
return tostring(wait)
"""
)

# KEYS: the buckets; ARGV: period, then (capacity, amount given back — negative: taken) each.
_SETTLE = (
    _CLOCK
    + """
for i = 1, #KEYS do
  local cap = tonumber(ARGV[2 * i]); local delta = tonumber(ARGV[2 * i + 1])
"""
    + _REFILL
    + """  level = math.min(cap, level + delta)
  redis.call('HSET', KEYS[i], 'level', tostring(level), 'at', tostring(now))
  redis.call('PEXPIRE', KEYS[i], math.ceil(period * 2000))
end
return 1
"""
)


def namespace(database_url: str) -> str:
    """Keys of one cluster: ``claude-force:cluster:<digest of its database URL>:``."""
    digest = hashlib.sha256(database_url.encode()).hexdigest()[:12]
    return f"claude-force:cluster:{digest}:"


def capacities(limits: ModelLimits) -> dict[Kind, int]:
    found = {
        "requests": limits.requests_per_minute,
        "input_tokens": limits.input_tokens_per_minute,
        "output_tokens": limits.output_tokens_per_minute,
    }
    return {k: v for k, v in found.items() if v}  # type: ignore[misc]


class SharedState:
    """The Redis client and key names of one cluster (one per process and pipeline)."""

    def __init__(self, redis: Redis, prefix: str, *, clock: Callable[[], float] = time.monotonic):
        self.redis = redis
        self.prefix = prefix
        self.clock = clock
        self._acquire = redis.register_script(_ACQUIRE)
        self._settle = redis.register_script(_SETTLE)
        self._warned_at: float | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    def bucket_key(self, model: str, kind: Kind) -> str:
        return f"{self.prefix}rl:{model}:{kind}"

    def breaker_key(self, provider: str, model: str) -> str:
        return f"{self.prefix}breaker:{provider}/{model}"

    def degraded(self, what: str, exc: BaseException) -> None:
        now = self.clock()
        if self._warned_at is None or now - self._warned_at >= _WARN_EVERY_S:
            self._warned_at = now
            log.warning(
                "shared %s unavailable (Redis: %s: %s); this process applies its own only",
                what,
                type(exc).__name__,
                exc,
            )

    async def aclose(self) -> None:
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        await self.redis.aclose()

    # --- rate limits --------------------------------------------------------------------------

    async def try_take(self, model: str, caps: dict[Kind, int], need: Need) -> float:
        keys = [self.bucket_key(model, k) for k in caps]
        args: list[Any] = [PERIOD_S]
        for k, cap in caps.items():
            args += [cap, need.of(k)]
        return float(await self._acquire(keys=keys, args=args))

    async def give_back(self, model: str, caps: dict[Kind, int], delta: dict[Kind, int]) -> None:
        kinds = [k for k in caps if delta.get(k)]
        if not kinds:
            return
        args: list[Any] = [PERIOD_S]
        for k in kinds:
            args += [caps[k], delta[k]]
        await self._settle(keys=[self.bucket_key(model, k) for k in kinds], args=args)

    # --- breakers -----------------------------------------------------------------------------

    async def open_until(self, provider: str, model: str) -> datetime | None:
        raw = await self.redis.get(self.breaker_key(provider, model))
        if raw is None:
            return None
        return datetime.fromtimestamp(float(raw), UTC)

    def on_event(self, event: object) -> None:
        """Bus subscriber: publish this process's breaker transitions."""
        if not isinstance(event, BreakerTransition):
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        task = loop.create_task(self._publish(event))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _publish(self, event: BreakerTransition) -> None:
        key = self.breaker_key(event.provider, event.model)
        try:
            if event.to_state == "open":
                wait_s = max(0.001, event.retry_in_s or 0.0)
                until = time.time() + wait_s
                await self.redis.set(key, repr(until), px=max(1, int(wait_s * 1000)))
            elif event.to_state == "closed":
                await self.redis.delete(key)
        except Exception as exc:  # Redis down: the local breaker still protects this process
            self.degraded("breaker state", exc)


class SharedLimitsProvider(ProviderWrapper):
    """Refuses calls to a circuit opened anywhere; takes shared rate-limit capacity."""

    def __init__(
        self,
        inner: Provider,
        shared: SharedState,
        settings: ResilienceSettings,
        *,
        bus: EventBus | None = None,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        super().__init__(inner)
        self.shared = shared
        self.settings = settings
        self.bus = bus
        self._sleep = sleep

    async def send(self, request: MessageRequest) -> MessageResponse:
        model = request.model
        if self.settings.breaker.enabled:
            await self._check_breaker(model)
        caps = capacities(self.settings.rate_limits.limits_for(model))
        if not (self.settings.rate_limits.enabled and caps):
            return await self.inner.send(request)
        need = Need.for_request(request)
        taken = await self._acquire(model, caps, need)
        try:
            response = await self.inner.send(request)
        except BaseException:
            if taken:  # the request may have counted at the API: keep it, return the tokens
                await self._give_back(
                    model,
                    caps,
                    {"input_tokens": need.input_tokens, "output_tokens": need.output_tokens},
                )
            raise
        if taken:
            reads = self.settings.rate_limits.count_cache_reads
            actual = {
                "requests": 1,
                "input_tokens": counted_input(response.usage, count_cache_reads=reads),
                "output_tokens": response.usage.output_tokens,
            }
            await self._give_back(model, caps, {k: need.of(k) - actual[k] for k in KINDS})
        return response

    async def aclose(self) -> None:
        try:
            await self.inner.aclose()
        finally:
            await self.shared.aclose()

    async def _check_breaker(self, model: str) -> None:
        try:
            until = await self.shared.open_until(self.name, model)
        except Exception as exc:
            self.shared.degraded("breaker state", exc)
            return
        if until is not None:
            raise CircuitOpenError(f"{self.name}/{model}", until)

    async def _acquire(self, model: str, caps: dict[Kind, int], need: Need) -> bool:
        """Wait until the shared buckets hold ``need``; False when Redis is unreachable."""
        deadline = callctx.current().deadline
        announced = False
        while True:
            try:
                wait = await self.shared.try_take(model, caps, need)
            except Exception as exc:
                self.shared.degraded("rate limits", exc)
                return False
            if wait <= 0:
                return True
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and wait > left:
                raise RateLimitDeadlineError(model, None, wait, left)
            if not announced and self.bus is not None:
                announced = True
                ctx = callctx.current()
                self.bus.emit(
                    RateLimitWait(model, "requests", wait, 0, ctx.agent, ctx.execution_id)
                )
            await self._sleep(min(wait, _MAX_SLEEP_S))

    async def _give_back(self, model: str, caps: dict[Kind, int], delta: dict[Kind, int]) -> None:
        try:
            await self.shared.give_back(model, caps, delta)
        except Exception as exc:
            self.shared.degraded("rate limits", exc)


def install_shared(spec: PipelineSpec, project: Project, bus: EventBus) -> PipelineSpec:
    """In cluster mode with Redis, put the shared layer inside the process's rate limiter."""
    cluster = project.settings.cluster
    redis_url = cluster.redis_url or project.settings.cache.redis_url
    settings = project.settings.resilience
    if cluster.database_url is None or not redis_url:
        return spec
    if not (settings.breaker.enabled or settings.rate_limits.enabled):
        return spec
    from redis.asyncio import Redis

    shared = SharedState(
        Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=5),
        namespace(cluster.database_url),
    )
    if settings.breaker.enabled:
        bus.subscribe(shared.on_event)
    local = spec.rate_limit

    def layer(inner: Provider) -> Provider:
        wrapped: Provider = SharedLimitsProvider(inner, shared, settings, bus=bus)
        return local(wrapped) if local is not None else wrapped

    spec.rate_limit = layer
    return spec
