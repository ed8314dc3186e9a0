"""JSON log lines with the ids a team greps for, and a log line for every finished run.

Every line of ``--log-format json`` (or ``telemetry.log_format: "json"``) is one JSON object:
``ts``, ``level``, ``logger``, ``message``, and — when known — ``execution_id``,
``workflow_run_id``, ``step_id``, ``agent``, ``request_id`` (the server's ``X-Request-ID``),
``trace_id`` and ``span_id`` (OpenTelemetry). The ids come from the record's ``extra``, else from
the call context of the running execution, else from the request being served. Messages are
redacted (credentials never reach a log).
"""

from __future__ import annotations

import json
import logging
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from .. import callctx
from ..events import Event, ExecutionFinished
from ..memory.redact import redact

request_id: ContextVar[str | None] = ContextVar("claude_force_request_id", default=None)
run_log = logging.getLogger("claude_force.runs")
IDS = ("execution_id", "workflow_run_id", "step_id", "agent", "request_id")


def _trace_ids() -> dict[str, str]:
    try:
        from opentelemetry import trace
    except ImportError:
        return {}
    ctx = trace.get_current_span().get_span_context()
    if not ctx.is_valid:
        return {}
    return {"trace_id": f"{ctx.trace_id:032x}", "span_id": f"{ctx.span_id:016x}"}


class JsonFormatter(logging.Formatter):
    """One JSON object per record (``debug``: with the traceback of an exception)."""

    def __init__(self, debug: bool = False) -> None:
        super().__init__()
        self.debug = debug

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()).text,
        }
        ctx = callctx.current()
        found = {
            "execution_id": ctx.execution_id,
            "workflow_run_id": ctx.workflow_run_id,
            "step_id": ctx.step_id,
            "agent": ctx.agent,
            "request_id": request_id.get(),
        }
        for key in IDS:
            value = getattr(record, key, None) or found[key]
            if value:
                out[key] = value
        out.update(_trace_ids())
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            out["error_type"] = type(exc).__name__
            if self.debug:
                out["traceback"] = redact(self.formatException(record.exc_info)).text
        return json.dumps(out, ensure_ascii=False, default=str)


def log_finished_run(event: Event) -> None:
    """Event-bus subscriber: a warning for each failed run, a debug line for each other one."""
    if not isinstance(event, ExecutionFinished):
        return
    if event.success and not run_log.isEnabledFor(logging.DEBUG):
        return  # the common case: nothing to log, nothing built
    extra = {
        "execution_id": event.execution_id,
        "workflow_run_id": event.workflow_run_id,
        "step_id": event.step_id,
        "agent": event.agent,
    }
    if event.success:
        run_log.debug(
            "run finished: %s on %s in %.0f ms%s",
            event.agent,
            event.model,
            event.duration_ms,
            " (cached)" if event.cached else "",
            extra=extra,
        )
        return
    error = (event.error or "")[:300]
    run_log.warning(
        "run failed: %s on %s: %s: %s",
        event.agent,
        event.model,
        event.error_type or "error",
        error,
        extra=extra,
    )
