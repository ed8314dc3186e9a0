"""Events as JSON for the live stream (SSE) and the dashboard.

Task text is never sent (it may hold secrets): an execution carries the same 16-hex-digit
``task_hash`` the metrics store keeps. Error messages are cut to :data:`MAX_ERROR_CHARS`.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import datetime
from decimal import Decimal
from typing import Any

from ..events import Event, ExecutionFinished
from ..metrics.record import task_hash
from .anomaly import AnomalyChange

MAX_ERROR_CHARS = 300
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def event_type(event: Event) -> str:
    """``ExecutionFinished`` → ``execution_finished`` (the SSE ``event:`` name)."""
    return _CAMEL.sub("_", type(event).__name__).lower()


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def event_payload(event: Event) -> dict[str, Any]:
    """The JSON-ready fields of an event (no task text; errors shortened)."""
    if isinstance(event, ExecutionFinished):
        return finished_payload(event)
    data = {f.name: getattr(event, f.name) for f in dataclasses.fields(event)}
    plain: dict[str, Any] = _plain(data)
    return plain


def finished_payload(e: ExecutionFinished) -> dict[str, Any]:
    """:func:`event_payload` of a finished execution, written out: it is the hot path (every
    execution, on the event loop)."""
    u = e.usage
    error = e.error
    if error is not None and len(error) > MAX_ERROR_CHARS:
        error = error[: MAX_ERROR_CHARS - 1] + "…"
    return {
        "execution_id": e.execution_id,
        "agent": e.agent,
        "task_hash": task_hash(e.task),
        "model": e.model,
        "provider": e.provider,
        "success": e.success,
        "started_at": e.started_at.isoformat(),
        "duration_ms": round(e.duration_ms, 6),
        "queue_wait_ms": round(e.queue_wait_ms, 6),
        "usage": {
            "input_tokens": u.input_tokens,
            "output_tokens": u.output_tokens,
            "cache_creation_input_tokens": u.cache_creation_input_tokens,
            "cache_read_input_tokens": u.cache_read_input_tokens,
            "total_tokens": u.total_tokens,
        },
        "cost_usd": None if e.cost_usd is None else float(e.cost_usd),
        "cached": e.cached,
        "simulated": e.simulated,
        "error_type": e.error_type,
        "error": error,
        "workflow_name": e.workflow_name,
        "workflow_position": e.workflow_position,
        "saved_cost_usd": None if e.saved_cost_usd is None else float(e.saved_cost_usd),
        "workflow_run_id": e.workflow_run_id,
        "step_id": e.step_id,
    }


def anomaly_event(change: AnomalyChange) -> tuple[str, dict[str, Any]]:
    """``("anomaly_raised" | "anomaly_resolved", anomaly as JSON)``."""
    return f"anomaly_{change.change}", change.anomaly.to_dict()
