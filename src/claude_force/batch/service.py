"""Batch mode: many (agent, task) runs as Message Batches at half the price.

``submit`` builds each request exactly as an online run would (the agent's system prompt as a
prompt-cache breakpoint, the task, the model from ``--model`` / the agent's pin / the router),
answers what it can from the response cache, splits the rest within the API's limits and
creates one provider batch per chunk. ``wait`` polls with backoff. ``results`` maps each result
back to its agent by ``custom_id``, prices it with the batch discount, stores successful answers
in the response cache and, once per job, records them in the metrics store.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from .. import callctx
from ..errors import BudgetExceededError, ProviderError
from ..events import ExecutionFinished
from ..messages import CacheTTL, MessageResponse, Usage
from ..metrics.record import task_hash
from ..runner import build_request
from .backends import BatchBackend
from .jobs import JobStore
from .limits import MAX_BYTES, MAX_REQUESTS, PollPolicy, custom_id, split
from .types import (
    COUNT_KEYS,
    BatchJob,
    BatchNotEndedError,
    BatchRequest,
    BatchTimeoutError,
    ItemResult,
    ItemStatus,
    JobItem,
    JobStatus,
    ProcessingStatus,
    RawResult,
    response_from_dict,
    response_to_dict,
)

if TYPE_CHECKING:
    from ..cache.layer import CacheProvider
    from ..engine import AgentEngine

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BatchTask:
    agent: str
    task: str
    source: str = ""


class BatchService:
    def __init__(
        self,
        core: AgentEngine,
        backend: BatchBackend,
        jobs: JobStore,
        *,
        poll: PollPolicy | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        max_requests: int = MAX_REQUESTS,
        max_bytes: int = MAX_BYTES,
    ) -> None:
        self.core = core
        self.backend = backend
        self.jobs = jobs
        self.poll = poll or PollPolicy()
        self._sleep = sleep
        self._clock = clock
        self.max_requests = max_requests
        self.max_bytes = max_bytes

    @property
    def cache_ttl(self) -> CacheTTL:
        return self.core.project.settings.models.prompt_cache_ttl

    def _cache(self) -> CacheProvider | None:
        from ..cache.layer import CacheProvider

        pipeline = self.core.pipeline
        return pipeline if isinstance(pipeline, CacheProvider) else None

    # --- submit --------------------------------------------------------------------------------------

    async def submit(
        self,
        tasks: Sequence[BatchTask],
        *,
        model: str | None = None,
        max_tokens: int = 4096,
        auto_model: bool = False,
        use_cache: bool = True,
    ) -> BatchJob:
        """Create the job's provider batches (none when every task is answered from the cache)."""
        if not tasks:
            raise ValueError("no tasks to submit")
        project = self.core.project
        for agent in dict.fromkeys(t.agent for t in tasks):  # unknown agents fail before anything
            project.agent(agent)
            project.model_for(agent, model)
        cache = self._cache() if use_cache else None
        items: list[JobItem] = []
        cached: dict[str, dict[str, Any]] = {}
        pending: list[BatchRequest] = []
        for index, t in enumerate(tasks, start=1):
            cid = custom_id(t.agent, index)
            source = t.source or f"task {index}"
            complexity: str | None = None
            try:
                if auto_model:
                    chosen, complexity = await self._route(t, model, max_tokens)
                else:
                    chosen = project.model_for(t.agent, model)
            except BudgetExceededError as exc:
                items.append(
                    JobItem(cid, t.agent, model or "", source, task_hash(t.task), refused=str(exc))
                )
                continue
            system = await self.core.system_prompt(t.agent)
            request = build_request(
                system, t.task, chosen, max_tokens=max_tokens, cache_ttl=self.cache_ttl
            )
            key: str | None = None
            if (
                cache is not None
                and cache.store.policy.mode(
                    callctx.CallContext(agent=t.agent, cache_allowed=project.agent(t.agent).cache)
                )
                == "normal"
            ):
                key = cache.key_for(request)
                hit = await cache.store.get(key)
                if hit is not None:
                    cached[cid] = response_to_dict(hit.response)
                    items.append(
                        JobItem(
                            cid, t.agent, chosen, source, task_hash(t.task), key, None, complexity
                        )
                    )
                    continue
            items.append(
                JobItem(cid, t.agent, chosen, source, task_hash(t.task), key, None, complexity)
            )
            pending.append(BatchRequest(cid, request))
        job = BatchJob(
            id=f"cfb_{uuid.uuid4().hex[:16]}",
            backend=self.backend.name,
            created_at=datetime.now(UTC).isoformat(),
            batch_ids=[],
            items=items,
            max_tokens=max_tokens,
            cache_ttl=self.cache_ttl,
            cached=cached,
            base_url=getattr(self.backend, "base_url", None),
        )
        batch_of: dict[str, str] = {}
        for chunk in split(pending, max_requests=self.max_requests, max_bytes=self.max_bytes):
            remote = await self.backend.create(chunk)
            job.batch_ids.append(remote.id)
            batch_of.update((r.custom_id, remote.id) for r in chunk)
            await self.jobs.save(job)  # after each batch: a failure later still leaves a record
        job.items = [replace(i, batch_id=batch_of.get(i.custom_id)) for i in job.items]
        await self.jobs.save(job)
        return job

    async def _route(self, t: BatchTask, model: str | None, max_tokens: int) -> tuple[str, str]:
        core = self.core
        if core.routing is None:
            raise TypeError("auto_model needs an engine with a routing strategy")
        decision = await core.route(t.agent, t.task, model=model, max_tokens=max_tokens, batch=True)
        return decision.model, decision.complexity

    # --- status and waiting ---------------------------------------------------------------------

    async def status(self, job_id: str) -> JobStatus:
        job = await self.jobs.load(job_id)
        batches = tuple([await self.backend.retrieve(b) for b in job.batch_ids])
        counts = {k: sum(b.counts.get(k, 0) for b in batches) for k in COUNT_KEYS}
        state: ProcessingStatus = "ended"
        if any(b.processing_status == "canceling" for b in batches):
            state = "canceling"
        if any(b.processing_status == "in_progress" for b in batches):
            state = "in_progress"
        return JobStatus(
            job.id,
            state,
            counts,
            batches,
            cached=len(job.cached),
            refused=sum(1 for i in job.items if i.refused),
            simulated=job.simulated,
        )

    async def wait(self, job_id: str, *, timeout_s: float | None = None) -> JobStatus:
        """Poll until every batch of the job ended (backoff per :class:`PollPolicy`).

        A retryable provider error while polling is logged and polled again; ``timeout_s``
        raises :class:`BatchTimeoutError` (the batch keeps running at the provider).
        """
        deadline = None if timeout_s is None else self._clock() + timeout_s
        delays = self.poll.delays()
        while True:
            try:
                status = await self.status(job_id)
                if status.ended:
                    return status
            except ProviderError as exc:
                if not exc.retryable:
                    raise
                log.warning("batch job %s: status check failed, will retry: %s", job_id, exc)
            delay = next(delays)
            if deadline is not None and self._clock() + delay > deadline:
                raise BatchTimeoutError(
                    f"batch job {job_id} still processing after {timeout_s:g}s",
                    hint=f"check later with 'claude-force batch status {job_id}'",
                )
            await self._sleep(delay)

    async def cancel(self, job_id: str) -> JobStatus:
        job = await self.jobs.load(job_id)
        for b in job.batch_ids:
            await self.backend.cancel(b)
        return await self.status(job.id)

    # --- results ----------------------------------------------------------------------------------

    async def results(self, job_id: str, *, record: bool = True) -> list[ItemResult]:
        """Every item's result in submission order (the job must have ended)."""
        job = await self.jobs.load(job_id)
        raw: dict[str, RawResult] = {}
        ended: dict[str, str | None] = {}
        for b in job.batch_ids:
            remote = await self.backend.retrieve(b)
            if not remote.ended:
                raise BatchNotEndedError(
                    f"batch {b} of job {job.id} is still {remote.processing_status}",
                    hint=f"wait with 'claude-force batch status {job.id}' or submit with --wait",
                )
            ended[b] = remote.ended_at
            raw.update((r.custom_id, r) for r in await self.backend.results(b))
        day = datetime.fromisoformat(job.created_at).date()
        out = [self._item_result(job, item, raw.get(item.custom_id), day) for item in job.items]
        await self._store_answers(job, out, raw)
        if record and not job.recorded:
            self._record(job, out, ended)
            job.recorded = True
            await self.jobs.save(job)
        return out

    def _item_result(
        self, job: BatchJob, item: JobItem, raw: RawResult | None, day: date
    ) -> ItemResult:
        prices = self.core.project.catalog.prices
        ttl: CacheTTL = "1h" if job.cache_ttl == "1h" else "5m"
        base = ItemResult(item.custom_id, item.agent, item.model, item.source, "errored")
        if item.refused:
            return replace(
                base, status="refused", error=item.refused, error_type="BudgetExceededError"
            )
        if item.custom_id in job.cached:
            r = response_from_dict(job.cached[item.custom_id])
            saved = prices.cost(r.model or item.model, r.usage, day, cache_ttl=ttl)
            return _answered(base, r, "cached", Decimal(0), saved, simulated=r.simulated)
        if raw is None:
            return replace(base, error="no result for this request in the batch results")
        if raw.status != "succeeded" or raw.response is None:
            return replace(
                base,
                status=raw.status,
                error=raw.error or f"the request was {raw.status}",
                error_type=raw.error_type,
                simulated=job.simulated,
            )
        r = raw.response
        b = prices.breakdown(r.model or item.model, r.usage, day, cache_ttl=ttl, batch=True)
        cost, saved = (None, None) if b is None else (b.total, b.batch_discount)
        return _answered(base, r, "succeeded", cost, saved, simulated=r.simulated or job.simulated)

    async def _store_answers(
        self, job: BatchJob, results: list[ItemResult], raw: dict[str, RawResult]
    ) -> None:
        """Successful batch answers go into the response cache (a later online run hits)."""
        cache = self._cache()
        if cache is None:
            return
        keys = {i.custom_id: i.cache_key for i in job.items if i.cache_key}
        for res in results:
            key = keys.get(res.custom_id)
            answer = raw.get(res.custom_id)
            if (
                res.status != "succeeded"
                or key is None
                or answer is None
                or answer.response is None
            ):
                continue
            await cache.store.put(
                key,
                namespace=cache.namespace,
                agent=res.agent,
                model=res.model,
                response=_as_stored(answer.response, job),
                duration_s=0.0,
                preview=f"batch {job.id} {res.custom_id}",
            )

    def _record(
        self, job: BatchJob, results: list[ItemResult], ended: dict[str, str | None]
    ) -> None:
        """One finished-execution event per item (the metrics tracker subscribes to the bus)."""
        created = datetime.fromisoformat(job.created_at)
        batch_of = {i.custom_id: i.batch_id for i in job.items}
        provider = f"{job.backend}-batch"
        for res in results:
            if res.status == "refused":
                continue
            end = ended.get(batch_of.get(res.custom_id) or "")
            duration_ms = 0.0
            if end:
                finished = datetime.fromisoformat(end.replace("Z", "+00:00"))
                duration_ms = max(0.0, (finished - created).total_seconds() * 1000)
            self.core.bus.emit(
                ExecutionFinished(
                    execution_id=uuid.uuid4().hex,
                    agent=res.agent,
                    task="",
                    model=res.model,
                    provider=provider,
                    success=res.success,
                    started_at=created,
                    duration_ms=duration_ms,
                    queue_wait_ms=0.0,
                    usage=res.usage if res.success else Usage(),
                    cost_usd=res.cost_usd if res.success else Decimal(0),
                    cached=res.status == "cached",
                    simulated=res.simulated,
                    error_type=res.error_type,
                    error=res.error,
                    saved_cost_usd=res.saved_usd if res.status == "cached" else None,
                )
            )


def _as_stored(r: MessageResponse, job: BatchJob) -> MessageResponse:
    return replace(r, simulated=r.simulated or job.simulated)


def _answered(
    base: ItemResult,
    r: MessageResponse,
    status: ItemStatus,
    cost: Decimal | None,
    saved: Decimal | None,
    *,
    simulated: bool,
) -> ItemResult:
    """An item answered from the response cache or by the batch: its text, model and usage."""
    return replace(
        base,
        status=status,
        output=r.text,
        model=r.model or base.model,
        usage=r.usage,
        cost_usd=cost,
        saved_usd=saved,
        simulated=simulated,
        message_id=r.message_id,
    )
