"""The persisted record of one execution attempt, and the aggregate (:class:`Cell`) of many.

Money is held as integer **pico-dollars** (10⁻¹² USD) so that sums in SQLite and in Python are
exact: every price in the table (USD per million tokens, up to six decimals, halved by the batch
discount) gives a whole number of pico-dollars per token. Durations are integer microseconds for
the same reason. A cost of ``None`` means *unknown* (a model without a price) and is counted, never
guessed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING, Any, Literal

from .histogram import LogHistogram, bucket_index

if TYPE_CHECKING:  # an annotation: reading metrics needs no events
    from ..events import ExecutionFinished

PICO = Decimal(10) ** 12
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SUCCESS = "success"
Granularity = Literal["hour", "day"]


def to_pico(usd: Decimal | None) -> int | None:
    """USD → integer pico-dollars (rounded half-even below 10⁻¹² USD); None stays unknown."""
    if usd is None:
        return None
    return int((usd * PICO).to_integral_value(rounding=ROUND_HALF_EVEN))


def from_pico(pico: int) -> Decimal:
    return Decimal(pico) / PICO


def to_us(dt: datetime) -> int:
    """A datetime → integer microseconds since the epoch (naive datetimes are taken as UTC)."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    delta = dt - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_us(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)


def period_start(us: int, granularity: Granularity | int) -> int:
    """The start (µs since the epoch, UTC) of the hour or day that contains ``us`` (or of the
    period of ``granularity`` µs, counted from the epoch)."""
    if isinstance(granularity, int):
        size = granularity
    else:
        size = 3_600_000_000 if granularity == "hour" else 86_400_000_000
    return us - us % size


def task_hash(task: str) -> str:
    """A short, one-way digest of a task: tasks may hold secrets and are never stored."""
    return hashlib.sha256(task.encode("utf-8", "replace")).hexdigest()[:16]


class TokenTotal:
    """``total_tokens`` for anything with the four token counts of a record."""

    __slots__ = ()
    input_tokens: int
    output_tokens: int
    cache_write_tokens: int
    cache_read_tokens: int

    @property
    def total_tokens(self) -> int:
        return (
            self.input_tokens
            + self.output_tokens
            + self.cache_write_tokens
            + self.cache_read_tokens
        )


class _Unset:
    """The type of :data:`_UNSET` (an argument not given, where ``None`` is a value)."""


_UNSET = _Unset()


@dataclass(frozen=True, slots=True)
class ExecutionRecord(TokenTotal):
    """One attempt of one execution, as stored.

    ``final`` marks the attempt whose outcome is the execution's; earlier attempts (retried
    failures) have ``final=False`` and count as retries, not as executions.
    """

    execution_id: str
    agent: str
    model: str
    provider: str
    started_us: int
    duration_us: int
    success: bool
    attempt: int = 1
    final: bool = True
    queue_wait_us: int = 0
    error_type: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cache_write_tokens: int = 0
    cache_read_tokens: int = 0
    cost_pusd: int | None = 0
    cached: bool = False
    saved_pusd: int | None = None
    simulated: bool = False
    semantic: bool = False  # a cached answer found by the semantic cache (a paraphrase)
    workflow: str | None = None
    workflow_position: int | None = None
    workflow_run_id: str | None = None
    step_id: str | None = None
    task_hash: str = ""

    @property
    def key(self) -> tuple[str, int]:
        return (self.execution_id, self.attempt)

    @property
    def outcome(self) -> str:
        return SUCCESS if self.success else (self.error_type or "error")

    @property
    def cache_match(self) -> str | None:
        """``"exact"`` or ``"semantic"`` for an answer from the cache, ``None`` for a call."""
        return ("semantic" if self.semantic else "exact") if self.cached else None

    @property
    def started_at(self) -> datetime:
        return from_us(self.started_us)

    @property
    def duration_ms(self) -> float:
        return self.duration_us / 1000

    @property
    def cost_usd(self) -> Decimal | None:
        return None if self.cost_pusd is None else from_pico(self.cost_pusd)

    @property
    def saved_usd(self) -> Decimal | None:
        return None if self.saved_pusd is None else from_pico(self.saved_pusd)

    @property
    def latency_bucket(self) -> int | None:
        """The histogram bucket of this attempt's duration (only final attempts are measured)."""
        return bucket_index(self.duration_us / 1000) if self.final else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "execution_id": self.execution_id,
            "attempt": self.attempt,
            "final": self.final,
            "started_at": self.started_at.isoformat(),
            "agent": self.agent,
            "provider": self.provider,
            "model": self.model,
            "workflow": self.workflow,
            "workflow_position": self.workflow_position,
            "workflow_run_id": self.workflow_run_id,
            "step_id": self.step_id,
            "success": self.success,
            "error_type": self.error_type,
            "duration_ms": self.duration_us / 1000,
            "queue_wait_ms": self.queue_wait_us / 1000,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_write_tokens": self.cache_write_tokens,
            "cache_read_tokens": self.cache_read_tokens,
            "cost_usd": None if self.cost_usd is None else str(self.cost_usd.normalize()),
            "cached": self.cached,
            "cache_match": self.cache_match,
            "saved_usd": None if self.saved_usd is None else str(self.saved_usd.normalize()),
            "simulated": self.simulated,
            "task_hash": self.task_hash,
        }

    @classmethod
    def from_event(
        cls,
        event: ExecutionFinished,
        *,
        attempt: int = 1,
        saved_usd: Decimal | None = None,
        cost_usd: Decimal | _Unset | None = _UNSET,
    ) -> ExecutionRecord:
        """The record of ``event``'s final attempt; ``cost_usd`` (when given) stands for the
        event's own cost (the tracker prices what the event left unknown)."""
        u = event.usage
        cost = event.cost_usd if isinstance(cost_usd, _Unset) else cost_usd
        saved = event.saved_cost_usd if event.saved_cost_usd is not None else saved_usd
        return cls(
            execution_id=event.execution_id,
            attempt=max(1, attempt),
            final=True,
            agent=event.agent,
            model=event.model,
            provider=event.provider,
            started_us=to_us(event.started_at),
            duration_us=max(0, round(event.duration_ms * 1000)),
            queue_wait_us=max(0, round(event.queue_wait_ms * 1000)),
            success=event.success,
            error_type=None if event.success else (event.error_type or "error"),
            input_tokens=u.input_tokens,
            output_tokens=u.output_tokens,
            cache_write_tokens=u.cache_creation_input_tokens,
            cache_read_tokens=u.cache_read_input_tokens,
            cost_pusd=to_pico(cost),
            cached=event.cached,
            semantic=event.cached and event.semantic_similarity is not None,
            saved_pusd=to_pico(saved) if event.cached else None,
            simulated=event.simulated,
            workflow=event.workflow_name,
            workflow_position=event.workflow_position,
            workflow_run_id=event.workflow_run_id,
            step_id=event.step_id,
            task_hash=task_hash(event.task),
        )


# --- aggregates ------------------------------------------------------------------------------------

DIMENSIONS = ("period", "agent", "provider", "model", "workflow", "outcome", "simulated")
Dimension = Literal["period", "agent", "provider", "model", "workflow", "outcome", "simulated"]


@dataclass
class Cell:
    """Sums over a set of attempts. Adding cells is exact and order-independent."""

    executions: int = 0
    attempts: int = 0
    successes: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_write_tokens: int = 0
    cache_read_tokens: int = 0
    cost_pusd: int = 0
    cost_unknown: int = 0
    cached: int = 0
    saved_pusd: int = 0
    duration_us: int = 0
    queue_wait_us: int = 0
    semantic_cached: int = 0  # of ``cached``: answers found by the semantic cache
    semantic_saved_pusd: int = 0  # of ``saved_pusd``: what those saved
    latency: LogHistogram = field(default_factory=LogHistogram)

    SUMS = (
        "executions",
        "attempts",
        "successes",
        "input_tokens",
        "output_tokens",
        "cache_write_tokens",
        "cache_read_tokens",
        "cost_pusd",
        "cost_unknown",
        "cached",
        "saved_pusd",
        "duration_us",
        "queue_wait_us",
        "semantic_cached",
        "semantic_saved_pusd",
    )

    def add_record(self, r: ExecutionRecord) -> None:
        self.attempts += 1
        self.input_tokens += r.input_tokens
        self.output_tokens += r.output_tokens
        self.cache_write_tokens += r.cache_write_tokens
        self.cache_read_tokens += r.cache_read_tokens
        if r.cost_pusd is None:
            self.cost_unknown += 1
        else:
            self.cost_pusd += r.cost_pusd
        if not r.final:
            return
        self.executions += 1
        self.successes += int(r.success)
        self.cached += int(r.cached)
        self.saved_pusd += r.saved_pusd or 0
        self.duration_us += r.duration_us
        self.queue_wait_us += r.queue_wait_us
        if r.semantic:
            self.semantic_cached += 1
            self.semantic_saved_pusd += r.saved_pusd or 0
        bucket = r.latency_bucket
        assert bucket is not None
        self.latency.add_index(bucket)

    def merge(self, other: Cell) -> None:
        for name in self.SUMS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.latency.merge(other.latency)

    def sums(self) -> tuple[int, ...]:
        return tuple(getattr(self, name) for name in self.SUMS)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Cell)
            and self.sums() == other.sums()
            and self.latency == other.latency
        )


CellKey = tuple[Any, ...]


def record_dims(r: ExecutionRecord, granularity: Granularity | int) -> dict[str, Any]:
    """The dimension values of a record (``workflow`` '' when none; ``period`` in µs)."""
    return {
        "period": period_start(r.started_us, granularity),
        "agent": r.agent,
        "provider": r.provider,
        "model": r.model,
        "workflow": r.workflow or "",
        "outcome": r.outcome,
        "simulated": r.simulated,
    }
