"""OpenTelemetry spans following the GenAI semantic conventions.

* ``invoke_agent {agent}`` — one execution (the runner), with its usage, cost and outcome;
* ``chat {model}`` — one model call (a ``CLIENT`` span per attempt: the innermost pipeline
  layer, so cache hits make none and each retry makes its own);
* ``invoke_workflow {name}`` and ``step {id}`` — a workflow run and each of its steps.

Attributes: ``gen_ai.operation.name``, ``gen_ai.provider.name`` (and the older
``gen_ai.system``), ``gen_ai.request.model``, ``gen_ai.request.max_tokens``,
``gen_ai.request.temperature``, ``gen_ai.response.model``, ``gen_ai.response.id``,
``gen_ai.response.finish_reasons``, ``gen_ai.usage.input_tokens``, ``gen_ai.usage.output_tokens``,
``gen_ai.usage.cache_read.input_tokens``, ``gen_ai.usage.cache_creation.input_tokens``,
``gen_ai.agent.name``, ``error.type``, and ``claude_force.*`` for what the conventions have no
name for (execution id, cost, cache, queue wait, workflow run and step). Prompts and answers are
never recorded.

Without the ``otel`` extra every helper is a no-op. Hand-written rather than an
instrumentation package: the Anthropic SDK instrumentations patch the SDK's client, which would
miss the simulated model, the response cache and our retry layer.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from .._version import __version__
from ..errors import ConfigurationError
from ..providers.base import Provider, ProviderWrapper, Reply

if TYPE_CHECKING:
    from ..messages import MessageRequest, MessageResponse
    from ..runner import Execution
    from ..workflows.result import WorkflowResult
    from .settings import TelemetrySettings

try:
    from opentelemetry import trace as _otel
    from opentelemetry.trace import SpanKind, Status, StatusCode
except ImportError:  # the otel extra is not installed: spans are off
    _otel = None  # type: ignore[assignment]

_override: Any = None  # a tracer provider for tests (the global one can be set only once)


def enabled() -> bool:
    return _otel is not None


def use_tracer_provider(provider: Any) -> None:
    """Send spans to ``provider`` instead of the global one (``None``: the global again)."""
    global _override
    _override = provider


def _provider() -> Any:
    """The tracer provider spans go to; ``None`` when nobody set one (OpenTelemetry's proxy or
    no-op provider): then a span would record nothing, and is not even started — entering and
    leaving a non-recording span on every call costs more than the check."""
    if _otel is None:
        return None
    provider = _override if _override is not None else _otel.get_tracer_provider()
    if isinstance(provider, (_otel.ProxyTracerProvider, _otel.NoOpTracerProvider)):
        return None
    return provider


_NO_SPAN: contextlib.AbstractContextManager[None] = contextlib.nullcontext()


def span(
    name: str, *, client: bool = False, attributes: dict[str, Any] | None = None
) -> contextlib.AbstractContextManager[Any]:
    """A span made current for the block (``None`` when OpenTelemetry is not installed or no
    tracer provider is set: then a shared no-op context, nothing built per call)."""
    provider = _provider()
    if provider is None:
        return _NO_SPAN
    return _span(provider, name, client=client, attributes=attributes)


@contextlib.contextmanager
def _span(
    provider: Any,
    name: str,
    *,
    client: bool,
    attributes: dict[str, Any] | None,
) -> Iterator[Any]:
    kind = SpanKind.CLIENT if client else SpanKind.INTERNAL
    clean = {k: v for k, v in (attributes or {}).items() if v is not None}
    tracer = provider.get_tracer("claude_force", __version__)
    with tracer.start_as_current_span(
        name, kind=kind, attributes=clean, record_exception=False
    ) as s:
        try:
            yield s
        except BaseException as exc:
            if s.is_recording():
                s.set_attribute("error.type", type(exc).__name__)
                s.set_status(Status(StatusCode.ERROR, type(exc).__name__))
            raise


def _set(s: Any, attributes: dict[str, Any]) -> None:
    if s is None or not s.is_recording():
        return
    for key, value in attributes.items():
        if value is not None:
            s.set_attribute(key, value)


def _fail(s: Any, error_type: str | None) -> None:
    if s is not None and s.is_recording():
        s.set_attribute("error.type", error_type or "error")
        s.set_status(Status(StatusCode.ERROR, error_type or "error"))


# --- executions ---------------------------------------------------------------------------------


def execution_span(agent: str, model: str | None) -> contextlib.AbstractContextManager[Any]:
    if _provider() is None:
        return _NO_SPAN  # (before building the attributes)
    return span(
        f"invoke_agent {agent}",
        attributes={
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.agent.name": agent,
            "gen_ai.request.model": model,
        },
    )


def finish_execution(s: Any, ex: Execution) -> None:
    """The outcome of an execution on its span."""
    if s is None:
        return
    u = ex.usage
    _set(
        s,
        {
            "claude_force.execution_id": ex.execution_id,
            "gen_ai.provider.name": ex.provider,
            "gen_ai.response.model": ex.model,
            "gen_ai.response.id": ex.request_id,
            "gen_ai.usage.input_tokens": u.input_tokens,
            "gen_ai.usage.output_tokens": u.output_tokens,
            "gen_ai.usage.cache_read.input_tokens": u.cache_read_input_tokens,
            "gen_ai.usage.cache_creation.input_tokens": u.cache_creation_input_tokens,
            "claude_force.cost_usd": None if ex.cost_usd is None else float(ex.cost_usd),
            "claude_force.cached": ex.cached,
            "claude_force.simulated": ex.simulated,
            "claude_force.queue_wait_ms": round(ex.queue_wait_ms, 3),
            "claude_force.workflow.name": ex.workflow_name,
            "claude_force.workflow.run_id": ex.workflow_run_id,
            "claude_force.workflow.step_id": ex.step_id,
        },
    )
    if not ex.success:
        _fail(s, ex.error_type)


# --- workflows ----------------------------------------------------------------------------------


def workflow_span(name: str, run_id: str) -> contextlib.AbstractContextManager[Any]:
    return span(
        f"invoke_workflow {name}",
        attributes={"claude_force.workflow.name": name, "claude_force.workflow.run_id": run_id},
    )


def finish_workflow(s: Any, result: WorkflowResult) -> None:
    _set(s, {"claude_force.workflow.status": result.status})
    if result.status == "failed":
        _fail(s, "WorkflowFailed")


def step_span(workflow: str, step_id: str, agent: str) -> contextlib.AbstractContextManager[Any]:
    return span(
        f"step {step_id}",
        attributes={
            "claude_force.workflow.name": workflow,
            "claude_force.workflow.step_id": step_id,
            "gen_ai.agent.name": agent,
        },
    )


# --- model calls --------------------------------------------------------------------------------


class TracingProvider(ProviderWrapper):
    """The innermost pipeline layer: one ``chat {model}`` client span per call to the model."""

    def send(self, request: MessageRequest) -> Reply:
        if _provider() is None:  # nobody collects spans: the model's own coroutine, no frame
            return self.inner.send(request)
        return self._traced(request)

    async def _traced(self, request: MessageRequest) -> MessageResponse:
        provider = "anthropic" if not self.inner.simulated else "claude_force.simulated"
        with span(
            f"chat {request.model}",
            client=True,
            attributes={
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": provider,
                "gen_ai.system": provider,
                "gen_ai.request.model": request.model,
                "gen_ai.request.max_tokens": request.max_tokens,
                "gen_ai.request.temperature": request.temperature,
            },
        ) as s:
            response = await self.inner.send(request)
            u = response.usage
            _set(
                s,
                {
                    "gen_ai.response.model": response.model,
                    "gen_ai.response.id": response.request_id,
                    "gen_ai.response.finish_reasons": [response.stop_reason]
                    if response.stop_reason
                    else None,
                    "gen_ai.usage.input_tokens": u.input_tokens,
                    "gen_ai.usage.output_tokens": u.output_tokens,
                    "gen_ai.usage.cache_read.input_tokens": u.cache_read_input_tokens,
                    "gen_ai.usage.cache_creation.input_tokens": u.cache_creation_input_tokens,
                    "claude_force.simulated": response.simulated,
                },
            )
            return response


def tracing_layer() -> Callable[[Provider], Provider] | None:
    """The pipeline layer, when OpenTelemetry is installed."""
    return TracingProvider if enabled() else None


# --- set-up (CLI and server) --------------------------------------------------------------------


def setup_tracing(settings: TelemetrySettings) -> Callable[[], None] | None:
    """Export spans as ``telemetry.traces`` says; returns the function that flushes and stops
    the exporter (``None`` when off)."""
    if settings.traces == "off":
        return None
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import (
            BatchSpanProcessor,
            ConsoleSpanExporter,
            SpanExporter,
        )
    except ImportError:
        raise ConfigurationError(
            f"telemetry.traces is '{settings.traces}' but OpenTelemetry is not installed",
            key="telemetry.traces",
            hint="pip install 'claude-force[otel]', or set telemetry.traces to \"off\"",
        ) from None
    exporter: SpanExporter
    if settings.traces == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        endpoint = settings.otlp_endpoint
        if endpoint and not endpoint.rstrip("/").endswith("/v1/traces"):
            endpoint = endpoint.rstrip("/") + "/v1/traces"
        exporter = OTLPSpanExporter(endpoint=endpoint)
    else:
        exporter = ConsoleSpanExporter(out=sys.stderr)
    resource = Resource.create(
        {"service.name": settings.service_name, "service.version": __version__}
    )
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(exporter))
    assert _otel is not None
    _otel.set_tracer_provider(provider)
    if _otel.get_tracer_provider() is not provider:  # one was set already (tests, embedding)
        use_tracer_provider(provider)
    return provider.shutdown
