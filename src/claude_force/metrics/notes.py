"""Pure: what an execution's stored note holds (see :mod:`claude_force.metrics.browse`).

Error messages are redacted and cut to :data:`MAX_ERROR_CHARS`; the task and the answer are kept
only when the project opts in (``metrics.keep_text``), redacted and cut to ``text_max_chars``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..events import (
    BreakerRejected,
    ExecutionFinished,
    ModelFallback,
    RateLimitWait,
    RetryScheduled,
)
from ..memory.redact import redact

MAX_ERROR_CHARS = 1000


def clip(text: str, limit: int) -> str:
    """Redacted, then at most ``limit`` characters (an ellipsis marks a cut)."""
    clean = redact(text).text
    return clean if len(clean) <= limit else clean[: max(0, limit - 1)] + "…"


def timeline_entry(
    event: RetryScheduled | ModelFallback | RateLimitWait | BreakerRejected, at: datetime
) -> dict[str, Any]:
    """One resilience event of an execution, JSON-ready (``at``: when it was seen)."""
    base: dict[str, Any] = {"at": at.isoformat()}
    if isinstance(event, RetryScheduled):
        return {
            **base,
            "kind": "retry",
            "attempt": event.attempt,
            "model": event.model,
            "error_type": event.error_type,
            "status": event.status,
            "reason": clip(event.reason, 300),
            "delay_s": round(event.delay_s, 3),
        }
    if isinstance(event, ModelFallback):
        return {
            **base,
            "kind": "fallback",
            "from_model": event.from_model,
            "to_model": event.to_model,
            "reason": clip(event.reason, 300),
        }
    if isinstance(event, RateLimitWait):
        return {
            **base,
            "kind": "rate_limit_wait",
            "model": event.model,
            "limit": event.limit,
            "wait_s": round(event.wait_s, 3),
            "queued_ahead": event.queued_ahead,
        }
    return {
        **base,
        "kind": "breaker_rejected",
        "model": event.model,
        "retry_in_s": round(event.retry_in_s, 3),
    }


def note_of(
    event: ExecutionFinished,
    timeline: list[dict[str, Any]],
    *,
    keep_text: bool,
    max_chars: int,
) -> dict[str, Any]:
    """The note of a finished execution; empty when there is nothing beyond its record."""
    data: dict[str, Any] = {}
    if timeline:
        data["events"] = timeline
    if event.error:
        data["error"] = clip(event.error, MAX_ERROR_CHARS)
    if keep_text:
        data["task"] = clip(event.task, max_chars)
        if event.output:
            data["output"] = clip(event.output, max_chars)
    if not data:
        return data
    if event.request_id:
        data["request_id"] = event.request_id
    if event.stop_reason:
        data["stop_reason"] = event.stop_reason
    return data
