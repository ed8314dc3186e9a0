"""The response cache engine: signed entries on a backend, single-flight, stats.

:class:`ResponseStore` is shared by the call pipeline (:class:`~.layer.CacheProvider`), the
2.2 facade (:class:`~claude_force.response_cache.ResponseCache`) and the CLI. Storage failures
never fail a call: the store logs them, counts them, stops using the backend for a short while,
and the call goes to the provider.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable

from ..clock import SYSTEM_CLOCK, WALL_CLOCK, Clock
from ..memory.redact import redact
from ..messages import MessageRequest, MessageResponse
from ..pricing import PriceTable
from ..providers.base import Provider, Reply, awaited_at_once, send_after
from .backend import CacheBackend
from .codec import EntryPayload, Signer, StoredUsage, decode
from .errors import CacheBackendError, CacheKeyError
from .keys import Namespace, is_key
from .policy import CachePolicy
from .records import PICO, Counters, EntryInfo, PutOutcome, Record, Verdict
from .secret import SecretSource
from .singleflight import Flight, SingleFlight
from .stats import CacheStats

log = logging.getLogger(__name__)

T = TypeVar("T")

MISS = Counters(misses=1)
CORRUPT = Counters(misses=1, integrity_failures=1)
BACKOFF_S = 5.0  # after a storage failure, calls skip the cache this long
PREVIEW_CHARS = 160
FLIGHT_TTL_S = 120.0  # a cross-process claim outlives a call; a crashed leader's expires by then
FLIGHT_POLL_S = 0.05
WRITES_REMEMBERED = 4096  # finished writes a lookup made ahead is checked against (fetch)  # how often a process waiting on another's call looks for its answer


LookupAlong = Callable[
    [
        Callable[[], tuple[Any, str | None]],
        float,
        Callable[[Record], Verdict],
        Counters,
        Callable[[], None] | None,
    ],
    Awaitable[tuple[Any, str | None, Verdict | Exception | None]],
]
"""``lookup_along(along, now, judge, miss, then)``: ``along()`` (a read that also says the key),
the lookup of that key, then ``then()`` unless it found an entry, in one backend job (see
:meth:`ResponseStore.lookup_along`)."""

PutBuilt = Callable[[Callable[[], Record | None], int, float, Counters], Awaitable[PutOutcome]]
"""``put_built(build, max_bytes, now, counters)``: ``put`` of the record ``build()`` returns,
built where the backend runs its operations (``None``: not stored)."""

QueuePutBuilt = Callable[
    [Callable[[], Record | None], int, float, Counters], "asyncio.Future[PutOutcome]"
]
"""``queue_put_built(...)``: ``put_built`` queued at once, its future returned (no coroutine)."""


@runtime_checkable
class CrossProcessFlights(Protocol):
    """A backend shared by processes that can elect one caller per key (Redis)."""

    async def claim(self, key: str, ttl_s: float) -> bool: ...

    async def release(self, key: str) -> None: ...

    async def claimed(self, key: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class Hit:
    entry: EntryPayload
    hits: int  # how often this entry has been served, this time included
    age_seconds: float

    @property
    def response(self) -> MessageResponse:
        return self.entry.to_response()


@dataclass(frozen=True, slots=True)
class Found(Generic[T]):
    """What :meth:`ResponseStore.lookup_along` found: ``along()``'s value, the key it said
    (``None``: nothing was looked up), the entry (``None``: a miss) and whether the lookup ran
    and counted (``False``: storage failed; the call goes on without the cache)."""

    value: T
    key: str | None
    hit: Hit | None
    looked_up: bool
    writes: int = 0  # the store's count of finished writes when the lookup was queued


@dataclass(frozen=True, slots=True)
class Inspection:
    """What ``cache inspect`` shows: the columns, and the payload when it verifies."""

    info: EntryInfo
    live: bool
    valid: bool
    problem: str | None
    entry: EntryPayload | None


class ProviderCall:
    """``provider.send(request)`` as :meth:`ResponseStore.fetch`'s ``call``: a call the store
    can hand on (a ``functools.partial`` of the same is four objects, 0.26 KB, held by the
    store's frame for as long as the model answers)."""

    __slots__ = ("provider", "request")

    def __init__(self, provider: Provider, request: MessageRequest) -> None:
        self.provider = provider
        self.request = request

    def __call__(self) -> Reply:
        return self.provider.send(self.request)


class _Leading:
    """How the flight a fetch leads ends, told when its call does (``After``): a fresh answer is
    stored in the background and shared with the callers that waited for the key; an error
    fails them; a cancellation hands the flight to one of them."""

    __slots__ = (
        "agent",
        "flight",
        "key",
        "memory_sessions",
        "model",
        "namespace",
        "preview",
        "store",
        "t0",
    )

    def __init__(
        self,
        store: ResponseStore,
        key: str,
        flight: Flight[tuple[MessageResponse, float]],
        namespace: Namespace,
        agent: str,
        model: str,
        preview: str,
        memory_sessions: tuple[str, ...],
    ) -> None:
        self.store = store
        self.key = key
        self.flight = flight
        self.namespace = namespace
        self.agent = agent
        self.model = model
        self.preview = preview
        self.memory_sessions = memory_sessions
        self.t0 = store._timer.now()

    def ok(self, response: MessageResponse) -> None:
        store, key = self.store, self.key
        try:
            duration = store._timer.now() - self.t0
            store._store_answer(
                key,
                self.namespace,
                self.agent,
                self.model,
                response,
                duration,
                self.preview,
                self.memory_sessions,
            )
        except Exception as exc:  # every caller waiting for this key gets the same error
            store._flights.fail(key, self.flight, exc)
            raise
        store._flights.land(key, self.flight, (response, duration))

    def failed(self, exc: BaseException) -> None:
        if isinstance(exc, Exception):  # every caller waiting for this key gets the same error
            self.store._flights.fail(self.key, self.flight, exc)
        else:  # cancelled: a caller waiting for the same key calls instead
            self.store._flights.drop(self.key, self.flight)


class ResponseStore:
    def __init__(
        self,
        backend: CacheBackend,
        policy: CachePolicy,
        secret: SecretSource,
        *,
        prices: PriceTable | None = None,
        clock: Clock = WALL_CLOCK,
        timer: Clock = SYSTEM_CLOCK,
        verify: bool = True,
    ) -> None:
        self.backend = backend
        # a backend that runs its operations on a worker thread (SQLite) builds an entry there:
        # signing and encoding an answer are not the event loop's work after each miss
        self._put_built: PutBuilt | None = getattr(backend, "put_built", None)
        self._queue_put: QueuePutBuilt | None = getattr(backend, "queue_put_built", None)
        self._lookup_along: LookupAlong | None = getattr(backend, "lookup_along", None)
        # a backend that keeps a filter of its keys (SQLite) says when a lookup would surely miss
        self._surely_absent: Callable[[str], bool] | None = getattr(backend, "surely_absent", None)
        # decided once: a runtime Protocol check costs microseconds on every miss
        self._cross_process = backend if isinstance(backend, CrossProcessFlights) else None
        self.policy = policy
        self._secret = secret
        self._prices = prices
        self._clock = clock
        self._timer = timer
        self.verify = verify
        self._signer: Signer | None = None
        self._open_lock: asyncio.Lock | None = None
        self._flights: SingleFlight[tuple[MessageResponse, float]] = SingleFlight()
        # Fresh answers are written after the call returns (off the hot path); until written they
        # answer lookups from here, so a repeat is a hit at once (read-your-writes).
        self._storing: dict[str, tuple[MessageResponse, float]] = {}
        # keys whose fresh answer finished writing, by the count of writes then: a miss looked
        # up before a write of its key finished is not trusted (see fetch)
        self._written: dict[str, int] = {}
        self._writes_done = 0
        self._forgotten_up_to = 0
        # the background writes still running: tasks, or the backend's futures of queued puts
        self._writes: set[asyncio.Future[Any]] = set()
        self._writes_unstarted = 0  # write tasks made that have not run yet (lookup_along)
        self._errors = 0
        self._unavailable_until = float("-inf")
        self._closed = False

    # --- lifecycle ----------------------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self._signer is not None

    async def open(self) -> None:
        """Load the secret (off the loop) and open the backend; raises on failure."""
        if self._signer is not None:
            return
        if self._open_lock is None:
            self._open_lock = asyncio.Lock()
        async with self._open_lock:
            if self._signer is not None:
                return
            try:
                secret = await asyncio.to_thread(self._secret.load)
            except OSError as exc:
                raise CacheBackendError(f"cannot read the cache key: {exc}") from exc
            signer = Signer(secret)
            await self.backend.open(signer.key_id)
            self._signer = signer
            self._closed = False

    async def flush(self) -> None:
        """Wait until the answers still being written are stored."""
        write_now = getattr(self.backend, "write_now", None)
        while self._writes:
            if write_now is not None:  # a backend that waits to write puts together (SQLite)
                await asyncio.sleep(0)  # the writes' tasks queue their puts first
                write_now()
            await asyncio.gather(*list(self._writes), return_exceptions=True)
        self._writes_unstarted = 0  # none left (one cancelled before it ran never counted down)

    async def aclose(self) -> None:
        await self.flush()
        if not self._closed:
            self._closed = True
            self._signer = None
            await self.backend.aclose()

    @property
    def signer(self) -> Signer:
        if self._signer is None:
            raise CacheBackendError("the response cache is not open")
        return self._signer

    # --- entries --------------------------------------------------------------------------------------

    def now(self) -> float:
        return self._clock.now()

    def _savings(self, entry: EntryPayload, elapsed: float) -> Counters:
        usage = entry.usage.to_usage()
        cost: Decimal | None = None
        if entry.estimated_cost is not None:  # the caller said what the call cost (2.2 API)
            cost = Decimal(str(entry.estimated_cost))
        elif self._prices is not None:  # what the call would cost today
            day = datetime.fromtimestamp(self.now(), UTC).date()
            cost = self._prices.cost(entry.response_model, usage, day)
        pusd = int((cost * PICO).to_integral_value(ROUND_HALF_EVEN)) if cost is not None else 0
        return Counters(
            input_tokens_saved=usage.prompt_tokens,
            output_tokens_saved=usage.output_tokens,
            cost_saved_pusd=pusd,
            seconds_saved_us=max(0, round((entry.duration_s - max(elapsed, 0.0)) * 1e6)),
            uncosted_hits=0 if cost is not None else 1,
        )

    def check(self, record: Record) -> tuple[EntryPayload | None, str | None]:
        """The verified payload of ``record``, or ``None`` and what is wrong with it."""
        if self.verify and not self.signer.verify(record.key, record.payload, record.sig):
            return None, "signature does not match (tampered, truncated or foreign)"
        entry = decode(record.payload)
        if entry is None:
            return None, "payload is not a valid entry"
        if (
            entry.key != record.key
            or entry.namespace != record.namespace
            or entry.expires_at != record.expires_at
        ):
            return None, "payload does not belong to this row"
        return entry, None

    def _judge(self, t0: float) -> Callable[[Record], Verdict]:
        bad = Verdict(False, CORRUPT)

        def judge(record: Record) -> Verdict:
            try:
                entry, problem = self.check(record)
                if entry is None:
                    log.warning("response cache entry %s… rejected: %s", record.key[:12], problem)
                    return bad
                savings = self._savings(entry, self._timer.now() - t0)
                return Verdict(True, Counters(hits=1) + savings, (entry, record.hits + 1))
            except Exception:  # a judge must never break the backend's transaction
                log.exception("response cache entry %s… could not be checked", record.key[:12])
                return bad

        return judge

    async def get(self, key: str) -> Hit | None:
        """A verified, live entry (counted as a hit) or ``None`` (counted as a miss)."""
        await self.open()
        now = self.now()
        verdict = await self.backend.lookup(key, now, self._judge(self._timer.now()), MISS)
        if verdict is None or not verdict.valid:
            return None
        entry, hits = verdict.value
        return Hit(entry, hits, max(0.0, now - entry.created_at))

    def looks_along(self) -> bool:
        """Whether :meth:`lookup_along` can run now: a backend that runs its operations on a
        worker thread (SQLite), the store open, and not resting after a storage failure."""
        return self._lookup_along is not None and self._signer is not None and self._available()

    async def lookup_along(
        self,
        along: Callable[[], tuple[T, str | None]],
        then: Callable[[], None] | None = None,
    ) -> Found[T]:
        """``along()`` — a blocking read the caller needs anyway (an agent's system prompt),
        which also returns the key of the request it completes — and the lookup of that key, in
        one job on the backend's worker thread: one hop for both; then, on that thread,
        ``then()`` unless an entry was found (what only a miss needs, started without a round
        trip through the event loop). Counted like :meth:`get`; a storage failure is reported
        and rested like any other (``looked_up`` false). Only when :meth:`looks_along`;
        ``along`` and ``then`` must not raise."""
        assert self._lookup_along is not None
        if self._writes_unstarted:
            # an answer of this process is to be written but its write has not queued its job
            # yet (a miss just returned in this task: it no longer waits a loop turn for its
            # own task): one turn lets it go first, so a repeat of that request is a hit here
            await asyncio.sleep(0)
        now = self.now()
        writes = self._writes_done
        value, key, outcome = await self._lookup_along(
            along, now, self._judge(self._timer.now()), MISS, then
        )
        if isinstance(outcome, Exception):
            self._failed("lookup", outcome)
            return Found(value, key, None, False, writes)
        hit = None
        if outcome is not None and outcome.valid:
            entry, hits = outcome.value
            hit = Hit(entry, hits, max(0.0, now - entry.created_at))
        return Found(value, key, hit, key is not None, writes)

    def writes(self) -> int:
        """The count of finished writes: what a lookup skipped now is checked against."""
        return self._writes_done

    def surely_absent(self, key: str) -> bool:
        """Whether a lookup of ``key`` would surely miss, known without one (any thread): the
        backend's key filter lacks it (SQLite), the store is open and not resting. A key
        another process stored within the filter's refresh window may be wrongly absent (one
        model call more; see docs/caching.md). An answer of this process still being
        written, or a call of it in flight, is not absent."""
        check = self._surely_absent
        return (
            check is not None
            and self._signer is not None
            and key not in self._storing  # answered moments ago, its write queued: a hit
            and key not in self._flights
            and self._available()
            and check(key)
        )

    def skipped(self, value: T, key: str, writes: int) -> Found[T]:
        """The miss of a lookup skipped because :meth:`surely_absent` said so (``writes``: the
        count of finished writes when it was decided), counted exactly like a looked-up miss."""
        count = getattr(self.backend, "count_skipped", None)
        if count is not None:
            count()
        return Found(value, key, None, True, writes)

    def _stale(self, found: Found[Any], key: str) -> bool:
        """Whether a miss ``found`` ahead may be out of date: an answer for ``key`` finished
        writing after the lookup was queued (a concurrent call of the same request)."""
        if self._forgotten_up_to > found.writes:
            return True
        return self._written.get(key, -1) > found.writes

    async def put(
        self,
        key: str,
        *,
        namespace: Namespace,
        agent: str,
        model: str,
        response: MessageResponse,
        duration_s: float,
        preview: str = "",
        estimated_cost: float | None = None,
        memory_sessions: tuple[str, ...] = (),
    ) -> bool:
        """Sign and store a response; ``False`` when policy refuses it or it is too large."""
        reason = self.policy.refusal_reason(response, model)
        if reason is not None:
            log.debug("not caching %s…: %s", key[:12], reason)
            return False
        await self.open()
        now = self.now()
        build = self._builder(
            key,
            namespace,
            agent,
            model,
            response,
            duration_s,
            preview,
            estimated_cost,
            memory_sessions,
            now,
        )
        stored = Counters(stores=1)
        if self._put_built is not None:  # built in the backend's job, off the event loop
            outcome: PutOutcome = await self._put_built(build, self.policy.max_bytes, now, stored)
            return outcome.stored
        record = build()
        if record is None:
            return False
        outcome = await self.backend.put(record, self.policy.max_bytes, now, stored)
        return outcome.stored

    def _builder(
        self,
        key: str,
        namespace: Namespace,
        agent: str,
        model: str,
        response: MessageResponse,
        duration_s: float,
        preview: str,
        estimated_cost: float | None,
        memory_sessions: tuple[str, ...],
        now: float,
    ) -> Callable[[], Record | None]:
        """The function that signs and encodes the entry of ``response`` (on any thread)."""
        signer = self.signer

        def build() -> Record | None:
            entry = EntryPayload(
                key=key,
                namespace=namespace,
                agent=agent,
                model=model,
                created_at=now,
                expires_at=self.policy.expires_at(now),
                duration_s=max(0.0, duration_s),
                # The preview only labels the entry in `cache list`: credentials never go in it.
                preview=redact(preview[: PREVIEW_CHARS * 2]).text[:PREVIEW_CHARS],
                text=response.text,
                response_model=response.model or model,
                stop_reason=response.stop_reason,
                usage=StoredUsage.of(response.usage),
                request_id=response.request_id,
                message_id=response.message_id,
                provider=response.provider,
                simulated=response.simulated,
                estimated_cost=estimated_cost,
                memory_sessions=list(memory_sessions),
            )
            payload = entry.encode()
            record = Record(
                key=key,
                namespace=namespace,
                agent=agent,
                model=model,
                created_at=entry.created_at,
                expires_at=entry.expires_at,
                payload=payload,
                sig=signer.sign(key, payload),
            )
            if not self.policy.fits(record.size):
                log.info(
                    "not caching %s…: %d bytes exceed cache.max_size_mb", key[:12], record.size
                )
                return None
            return record

        return build

    # --- the pipeline path ----------------------------------------------------------------------------

    def _available(self) -> bool:
        return self._timer.now() >= self._unavailable_until

    async def _safely(self, what: str, op: Callable[[], Awaitable[T]]) -> T | None:
        """Run a storage operation; on failure log, count, back off, and return ``None``."""
        if not self._available():
            return None
        try:
            return await op()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._failed(what, exc)
            return None

    def _failed(self, what: str, exc: Exception) -> None:
        """Count a storage failure, log it, and rest the backend for ``BACKOFF_S``."""
        self._errors += 1
        self._unavailable_until = self._timer.now() + BACKOFF_S
        if isinstance(exc, CacheBackendError):
            log.warning(
                "response cache unavailable during %s (%s); calling the provider", what, exc
            )
        else:
            log.error(
                "response cache failed during %s; calling the provider",
                what,
                exc_info=(type(exc), exc, exc.__traceback__),
            )

    def fetch(
        self,
        key: str,
        *,
        namespace: Namespace,
        agent: str,
        model: str,
        call: Callable[[], Awaitable[MessageResponse]],
        refresh: bool = False,
        preview: str = "",
        on_miss: Callable[[], Awaitable[MessageResponse | None]] | None = None,
        memory_sessions: tuple[str, ...] = (),
        found: Found[Any] | None = None,
    ) -> Reply:
        """The cached answer for ``key``, else ``call()``'s answer (stored when complete).

        Concurrent fetches of one key make one call: the others wait for it and receive its
        answer marked ``cached=True`` (they cost nothing; their saving is counted). ``found``:
        the lookup of ``key`` already made (:meth:`lookup_along`), used instead of another.

        A miss that needs nothing awaited before its call (looked up ahead, or ``refresh``; no
        other caller of the key; a ``call`` that is a :class:`ProviderCall`) is led here, at
        once: the call is handed on with the flight's ending as its ``After`` (see
        :func:`~claude_force.providers.base.send_after`), so no frame of the store waits with
        it. Everything else runs in a coroutine of the store's own.
        """
        if (
            isinstance(call, ProviderCall)
            and awaited_at_once()  # else a reply never awaited would leave the flight led
            and self._leads_at_once(key, refresh, found, on_miss)
        ):
            flight = self._flights.lead(key)
            if flight is not None:  # (always: no flight for ``key`` runs)
                leading = _Leading(
                    self, key, flight, namespace, agent, model, preview, memory_sessions
                )
                return send_after(call.provider, call.request, (leading,))
        return self._fetch(
            key,
            namespace=namespace,
            agent=agent,
            model=model,
            call=call,
            refresh=refresh,
            preview=preview,
            on_miss=on_miss,
            memory_sessions=memory_sessions,
            found=found,
        )

    def _leads_at_once(
        self,
        key: str,
        refresh: bool,
        found: Found[Any] | None,
        on_miss: Callable[[], Awaitable[MessageResponse | None]] | None,
    ) -> bool:
        """Whether :meth:`_fetch` would lead ``key``'s flight without awaiting anything first:
        no flight for it runs, and either ``refresh`` or a miss ``found`` ahead that is still
        current, with no answer being written, no semantic lookup after it and no other
        process to ask."""
        if key in self._flights:
            return False
        if refresh:
            return True
        return (
            found is not None
            and found.hit is None
            and self._cross_process is None
            and key not in self._storing
            and not (on_miss is not None and found.looked_up)
            and not self._stale(found, key)
        )

    async def _fetch(
        self,
        key: str,
        *,
        namespace: Namespace,
        agent: str,
        model: str,
        call: Callable[[], Awaitable[MessageResponse]],
        refresh: bool,
        preview: str,
        on_miss: Callable[[], Awaitable[MessageResponse | None]] | None,
        memory_sessions: tuple[str, ...],
        found: Found[Any] | None,
    ) -> MessageResponse:
        """:meth:`fetch` of a call that awaits something before its call, or follows another."""
        looked_up = False
        if not refresh:
            stale = False
            if found is not None:
                if found.hit is not None:
                    return found.hit.response
                looked_up = found.looked_up
                if self._stale(found, key):  # stored meanwhile: look again (the miss is undone)
                    stale, found = looked_up, None
            if key not in self._flights:
                pending = self._storing.get(key)
                if pending is not None:  # answered moments ago, still being written
                    return await self._shared(
                        key, namespace, agent, model, pending, 0.0, looked_up, False
                    )
                if found is None:
                    hit = await self._safely("lookup", lambda: self.get(key))
                    if stale:
                        await self.count(Counters(misses=-1))
                    if hit is not None:
                        return hit.response
                    looked_up = self._available()
                if on_miss is not None and looked_up:  # the semantic cache, after the exact one
                    alternative = await self._safely("semantic lookup", on_miss)
                    if alternative is not None:
                        return alternative

        # single-flight, its steps written out (not ``do(key, fn)``): the leader's work runs
        # here, without a closure and two coroutines more per miss
        t_join = self._timer.now()
        flight = self._flights.lead(key)
        if flight is None:
            outcome = await self._flights.follow(key)
            if not isinstance(outcome, Flight):
                waited = self._timer.now() - t_join
                return await self._shared(
                    key, namespace, agent, model, outcome, waited, looked_up, True
                )
            flight = outcome  # its leader was cancelled: this caller makes the call now
        try:
            t0 = self._timer.now()
            flights = self._cross_process
            if refresh or flights is None:
                response, fresh = await call(), True
            else:
                response, fresh = await self._call_across(flights, key, call)
            duration = self._timer.now() - t0
            if fresh:
                self._store_answer(
                    key, namespace, agent, model, response, duration, preview, memory_sessions
                )
        except Exception as exc:  # every caller waiting for this key gets the same error
            self._flights.fail(key, flight, exc)
            raise
        except BaseException:  # cancelled: a caller waiting for the same key calls instead
            self._flights.drop(key, flight)
            raise
        self._flights.land(key, flight, (response, duration))
        return response

    async def _call_across(
        self,
        flights: CrossProcessFlights,
        key: str,
        call: Callable[[], Awaitable[MessageResponse]],
    ) -> tuple[MessageResponse, bool]:
        """``call()``'s answer (``True``: fresh), unless another *process* is calling the model
        for ``key`` (a shared Redis cache): then its stored answer (``False``), waited for
        instead of paying for the same call twice."""
        claimed = bool(await self._safely("claim", lambda: flights.claim(key, FLIGHT_TTL_S)))
        if not claimed and self._available():
            hit = await self._answer_of_other_process(flights, key)
            if hit is not None:
                return hit.response, False
        try:
            return await call(), True
        finally:
            if claimed:
                await self._safely("release", lambda: flights.release(key))

    def _store_answer(
        self,
        key: str,
        namespace: Namespace,
        agent: str,
        model: str,
        response: MessageResponse,
        duration: float,
        preview: str,
        memory_sessions: tuple[str, ...],
    ) -> None:
        """Store a fresh answer in the background (:meth:`_store_later`; :meth:`_queue_answer`
        when the backend can queue it at once)."""

        def builder(now: float) -> Callable[[], Record | None]:
            return self._builder(
                key, namespace, agent, model, response, duration, preview, None,
                memory_sessions, now,
            )  # fmt: skip

        if self._queue_answer(key, model, response, duration, builder):
            return
        self._store_later(
            key,
            model,
            response,
            duration,
            lambda: self.put(
                key,
                namespace=namespace,
                agent=agent,
                model=model,
                response=response,
                duration_s=duration,
                preview=preview,
                memory_sessions=memory_sessions,
            ),
        )

    def _queue_answer(
        self,
        key: str,
        model: str,
        response: MessageResponse,
        duration: float,
        builder: Callable[[float], Callable[[], Record | None]],
    ) -> bool:
        """:meth:`_store_later` without a task: the backend queues the put now (SQLite, which
        writes puts together a moment later) and the bookkeeping runs when its future is done.
        A task per answer cost every miss a task's creation, two more turns of the event loop
        and three coroutine frames held until the write (issue #10). ``builder(now)``: the
        entry's builder (:meth:`_builder`). ``False``: not done here (no such backend, not open
        yet, resting after a failure, or refused by policy: the usual way decides and
        reports)."""
        queue = self._queue_put
        if queue is None or self._signer is None or not self._available():
            return False
        if self.policy.refusal_reason(response, model) is not None:
            return False
        now = self.now()
        try:
            future = queue(builder(now), self.policy.max_bytes, now, Counters(stores=1))
        except Exception as exc:  # (the task's way would have reported it the same)
            self._failed("store", exc)
            return True
        self._storing[key] = (response, duration)
        self._writes.add(future)
        future.add_done_callback(lambda done: self._queued_put_done(done, key, response))
        return True

    def _queued_put_done(
        self, done: asyncio.Future[PutOutcome], key: str, response: MessageResponse
    ) -> None:
        self._writes.discard(done)
        if not done.cancelled():
            exc = done.exception()
            if isinstance(exc, Exception):
                self._failed("store", exc)
        self._written_now(key, response)

    def _written_now(self, key: str, response: MessageResponse) -> None:
        """The write of ``key``'s fresh answer ``response`` is over (stored or not)."""
        if self._storing.get(key, (None,))[0] is response:
            del self._storing[key]
        self._writes_done += 1
        self._written.pop(key, None)  # re-inserted: the dict stays in write order
        self._written[key] = self._writes_done
        if len(self._written) > WRITES_REMEMBERED:  # the oldest goes (insertion order)
            oldest = next(iter(self._written))
            self._forgotten_up_to = self._written.pop(oldest)

    def _store_later(
        self,
        key: str,
        model: str,
        response: MessageResponse,
        duration: float,
        put: Callable[[], Awaitable[bool]],
    ) -> None:
        """Write a fresh answer in the background: the caller does not wait for the storage.

        Why: a write (signing, SQLite or Redis) on the hot path adds to every miss's latency.
        ``flush()`` (and closing the store) waits for the writes still running."""
        if self.policy.refusal_reason(response, model) is None:
            self._storing[key] = (response, duration)

        async def write() -> None:
            self._writes_unstarted -= 1
            try:
                await self._safely("store", put)
            finally:
                self._written_now(key, response)

        task = asyncio.create_task(write())
        self._writes_unstarted += 1
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def _shared(
        self,
        key: str,
        namespace: Namespace,
        agent: str,
        model: str,
        result: tuple[MessageResponse, float],
        waited: float,
        looked_up: bool,
        coalesced: bool,
    ) -> MessageResponse:
        """Another caller's fresh answer, served as a hit (it costs nothing; its saving counts)."""
        response, duration = result
        correction = Counters(misses=-1) if looked_up else Counters()
        saved = Counters(hits=1, coalesced=int(coalesced)) + correction
        try:
            entry_like = _as_entry(key, namespace, agent, model, response, duration)
            saved = saved + self._savings(entry_like, waited)
        except Exception:  # pragma: no cover - savings are informative only
            log.exception("could not compute the saving of a shared call")
        await self._safely("stats", lambda: self.backend.bump(saved))
        return replace(response, cached=True)

    async def count(self, counters: Counters) -> None:
        """Add to the stored counters (the semantic cache's hits and refusals)."""
        await self._safely("stats", lambda: self.backend.bump(counters))

    def semantic_saving(self, hit: Hit) -> Counters:
        """The counters of a semantic hit, on top of what :meth:`get` counted for its entry: the
        exact lookup's miss is taken back, and the hit's saving is labelled semantic."""
        saved = self._savings(hit.entry, 0.0)
        return Counters(misses=-1, semantic_hits=1, semantic_cost_saved_pusd=saved.cost_saved_pusd)

    async def _answer_of_other_process(self, flights: CrossProcessFlights, key: str) -> Hit | None:
        """Poll for the entry another process is computing until its claim ends (the answer is
        stored first, then the claim released); ``None``: it ended without an entry."""
        deadline = self._timer.now() + FLIGHT_TTL_S
        while self._timer.now() < deadline:
            hit = await self._safely("lookup", lambda: self.get(key))
            if hit is not None:
                return hit
            still = await self._safely("claim", lambda: flights.claimed(key))
            if not still:
                return await self._safely("lookup", lambda: self.get(key))
            await asyncio.sleep(FLIGHT_POLL_S)
        return None

    def waiters(self, key: str) -> int:
        """Callers currently waiting on one provider call for ``key``."""
        return self._flights.waiters(key)

    # --- management (CLI, facade) -----------------------------------------------------------------

    async def _open_to_read(self) -> bool:
        """Open for a read-only look without creating anything; ``False``: nothing stored yet.

        ``open`` would create the key file and the SQLite file; ``stats`` and ``entries`` (what
        ``cache stats`` / ``cache list`` call) must not leave either behind when they are absent.
        """
        if self._signer is not None:
            return True
        from .sqlite_backend import SqliteBackend  # here: the store does not need it otherwise

        sqlite = isinstance(self.backend, SqliteBackend)
        if isinstance(self.backend, SqliteBackend) and not self.backend.path.exists():
            return False
        s = self._secret
        if s.configured is None and s.key_file is not None and not s.key_file.exists():
            if not sqlite:  # Redis entries live under the key's id: without a key, none are ours
                return False
            await self.backend.open("")  # SQLite counts and lists need no key (nor its id)
            self._closed = False
            return True
        await self.open()
        return True

    async def stats(self) -> CacheStats:
        await self.flush()
        if await self._open_to_read():
            raw = await self.backend.stats()
            entries, size, counters = raw.entries, raw.bytes, raw.counters
        else:
            entries, size, counters = 0, 0, Counters()
        return CacheStats(
            backend=self.backend.name,
            location=self.backend.location,
            persistent=self.backend.persistent,
            ttl_seconds=self.policy.ttl_seconds,
            max_bytes=self.policy.max_bytes,
            entries=entries,
            bytes=size,
            counters=counters,
            errors=self._errors,
        )

    async def entries(self, agent: str | None = None, limit: int | None = None) -> list[EntryInfo]:
        await self.flush()
        if not await self._open_to_read():
            return []
        return await self.backend.entries(agent=agent, limit=limit)

    async def resolve(self, key_or_prefix: str) -> str:
        """A full key from a key or a unique prefix of at least 6 hex digits."""
        text = key_or_prefix.strip().lower()
        if is_key(text):
            return text
        if len(text) < 6 or any(c not in "0123456789abcdef" for c in text):
            raise CacheKeyError(
                f"'{key_or_prefix}' is not a cache key",
                hint="give the 64-hex key or a prefix of at least 6 digits (see `cache list`)",
            )
        matches = [e.key for e in await self.entries() if e.key.startswith(text)]
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise CacheKeyError(f"no cache entry starts with '{text}'", hint="see `cache list`")
        raise CacheKeyError(
            f"'{text}' matches {len(matches)} entries", hint="give more digits of the key"
        )

    async def inspect(self, key: str) -> Inspection | None:
        """The entry for ``key`` without counting a hit or changing its recency."""
        await self.flush()
        await self.open()
        record = await self.backend.peek(key)
        if record is None:
            return None
        entry, problem = self.check(record)
        return Inspection(
            info=record.info(),
            live=self.policy.is_live(record.expires_at, self.now()),
            valid=entry is not None,
            problem=problem,
            entry=entry,
        )

    async def delete(self, key: str) -> bool:
        await self.flush()
        await self.open()
        return await self.backend.remove(key, Counters())

    async def prune(self) -> int:
        await self.flush()
        await self.open()
        return await self.backend.prune(self.now())

    async def clear(self, agent: str | None = None) -> int:
        await self.flush()
        await self.open()
        return await self.backend.clear(agent)


def _as_entry(
    key: str,
    namespace: Namespace,
    agent: str,
    model: str,
    response: MessageResponse,
    duration_s: float,
) -> EntryPayload:
    return EntryPayload(
        key=key,
        namespace=namespace,
        agent=agent,
        model=model,
        created_at=0.0,
        expires_at=0.0,
        duration_s=duration_s,
        text="",
        response_model=response.model or model,
        stop_reason=response.stop_reason,
        usage=StoredUsage.of(response.usage),
        provider=response.provider,
        simulated=response.simulated,
    )
