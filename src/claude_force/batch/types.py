"""Typed data of batch mode: what is sent, what comes back, and the job kept on disk."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any, Literal

from .._fields import fields_dict
from ..errors import RunError
from ..messages import MessageRequest, MessageResponse, Usage

ProcessingStatus = Literal["in_progress", "canceling", "ended"]
ResultStatus = Literal["succeeded", "errored", "canceled", "expired"]
ItemStatus = Literal["succeeded", "errored", "canceled", "expired", "cached", "refused"]
COUNT_KEYS = ("processing", "succeeded", "errored", "canceled", "expired")


class BatchError(RunError):
    """A batch could not be submitted, found or read."""


class BatchNotFoundError(BatchError):
    """No batch job with that id (exit code 2: the id is the user's input)."""

    exit_code = 2


class BatchNotEndedError(BatchError):
    """Results were asked for before the batch ended."""


class BatchTimeoutError(BatchError):
    """``--wait`` gave up before the batch ended (it keeps running at the provider)."""


@dataclass(frozen=True, slots=True)
class BatchRequest:
    """One request of a batch: the Messages request and its ``custom_id``."""

    custom_id: str
    request: MessageRequest

    def to_api(self) -> dict[str, Any]:
        return {"custom_id": self.custom_id, "params": self.request.to_api()}


@dataclass(frozen=True, slots=True)
class RemoteBatch:
    """A batch as the provider reports it."""

    id: str
    processing_status: ProcessingStatus
    counts: dict[str, int] = field(default_factory=dict)
    created_at: str | None = None
    ended_at: str | None = None
    expires_at: str | None = None

    @property
    def ended(self) -> bool:
        return self.processing_status == "ended"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class RawResult:
    """One line of a batch's results, mapped from the provider's shape."""

    custom_id: str
    status: ResultStatus
    response: MessageResponse | None = None
    error_type: str | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        response = None if self.response is None else response_to_dict(self.response)
        return fields_dict(self, response=response)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> RawResult:
        resp = raw.get("response")
        return cls(
            custom_id=str(raw["custom_id"]),
            status=raw["status"],
            response=None if resp is None else response_from_dict(resp),
            error_type=raw.get("error_type"),
            error=raw.get("error"),
        )


def response_to_dict(r: MessageResponse) -> dict[str, Any]:
    u = r.usage
    return {
        "text": r.text,
        "model": r.model,
        "stop_reason": r.stop_reason,
        "usage": [
            u.input_tokens,
            u.output_tokens,
            u.cache_creation_input_tokens,
            u.cache_read_input_tokens,
        ],
        "message_id": r.message_id,
        "provider": r.provider,
        "simulated": r.simulated,
    }


def response_from_dict(raw: dict[str, Any]) -> MessageResponse:
    return MessageResponse(
        text=str(raw["text"]),
        model=str(raw["model"]),
        stop_reason=raw.get("stop_reason"),
        usage=Usage(*(int(x) for x in raw["usage"])),
        message_id=raw.get("message_id"),
        provider=str(raw.get("provider", "anthropic")),
        simulated=bool(raw.get("simulated", False)),
    )


@dataclass(frozen=True, slots=True)
class JobItem:
    """What a job remembers of one request. Never the task text: tasks may hold secrets."""

    custom_id: str
    agent: str
    model: str
    source: str  # where the task came from ("tasks.jsonl:4", "task 2")
    task_hash: str
    cache_key: str | None = None
    batch_id: str | None = None  # None: answered from the response cache, or refused
    complexity: str | None = None
    refused: str | None = None  # why the cost threshold refused it

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> JobItem:
        return cls(**{k: raw.get(k) for k in cls.__dataclass_fields__})  # type: ignore[arg-type]


@dataclass
class BatchJob:
    """One ``batch submit``: its provider batches (one per ≤ 100,000 requests / 256 MB) and items."""

    id: str
    backend: str  # "anthropic" | "simulated"
    created_at: str
    batch_ids: list[str]
    items: list[JobItem]
    max_tokens: int = 4096
    cache_ttl: str = "5m"
    cached: dict[str, dict[str, Any]] = field(default_factory=dict)  # custom_id → response
    recorded: bool = False  # results written to the metrics store
    base_url: str | None = None

    @property
    def simulated(self) -> bool:
        return self.backend == "simulated"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> BatchJob:
        return cls(
            id=str(raw["id"]),
            backend=str(raw["backend"]),
            created_at=str(raw["created_at"]),
            batch_ids=[str(b) for b in raw.get("batch_ids", [])],
            items=[JobItem.from_dict(i) for i in raw.get("items", [])],
            max_tokens=int(raw.get("max_tokens", 4096)),
            cache_ttl=str(raw.get("cache_ttl", "5m")),
            cached=dict(raw.get("cached", {})),
            recorded=bool(raw.get("recorded", False)),
            base_url=raw.get("base_url"),
        )


@dataclass(frozen=True, slots=True)
class JobStatus:
    """A job's state over all its provider batches."""

    job_id: str
    processing_status: ProcessingStatus
    counts: dict[str, int]
    batches: tuple[RemoteBatch, ...]
    cached: int = 0
    refused: int = 0
    simulated: bool = False

    @property
    def ended(self) -> bool:
        return self.processing_status == "ended"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.job_id,
            "processing_status": self.processing_status,
            "request_counts": self.counts,
            "answered_from_cache": self.cached,
            "refused_by_budget": self.refused,
            "simulated": self.simulated,
            "batches": [b.to_dict() for b in self.batches],
        }


@dataclass(frozen=True, slots=True)
class ItemResult:
    """One task's outcome, mapped back to its agent, with its batch-discounted cost."""

    custom_id: str
    agent: str
    model: str
    source: str
    status: ItemStatus
    output: str = ""
    usage: Usage = field(default_factory=Usage)
    cost_usd: Decimal | None = None
    saved_usd: Decimal | None = None  # batch discount, or the whole cost of a cache hit
    error_type: str | None = None
    error: str | None = None
    simulated: bool = False
    message_id: str | None = None

    @property
    def success(self) -> bool:
        return self.status in ("succeeded", "cached")

    def to_dict(self) -> dict[str, Any]:
        u = self.usage
        return {
            "custom_id": self.custom_id,
            "agent": self.agent,
            "model": self.model,
            "source": self.source,
            "status": self.status,
            "success": self.success,
            "output": self.output,
            "input_tokens": u.input_tokens,
            "output_tokens": u.output_tokens,
            "cache_creation_input_tokens": u.cache_creation_input_tokens,
            "cache_read_input_tokens": u.cache_read_input_tokens,
            "cost_usd": None if self.cost_usd is None else float(self.cost_usd),
            "saved_usd": None if self.saved_usd is None else float(self.saved_usd),
            "error_type": self.error_type,
            "error": self.error,
            "simulated": self.simulated,
            "message_id": self.message_id,
        }
