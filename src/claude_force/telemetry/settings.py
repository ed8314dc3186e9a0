"""The ``telemetry`` section of ``claude.json`` (imports only pydantic: the config schema uses it)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict


class TelemetrySettings(BaseModel):
    """Traces and logs of the CLI and the server.

    ``traces``: ``"off"`` (default; spans still reach a tracer provider the application set up
    itself), ``"otlp"`` (export over OTLP/HTTP to ``otlp_endpoint``, else the standard
    ``OTEL_EXPORTER_OTLP_*`` variables, else ``http://127.0.0.1:4318``) or ``"console"`` (print
    spans on stderr). ``log_format``: ``"text"`` or ``"json"`` (one JSON object a line, with the
    execution, workflow-run and request ids); ``--log-format`` overrides it.
    """

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)

    traces: Literal["off", "otlp", "console"] = "off"
    otlp_endpoint: str | None = None
    service_name: str = "claude-force"
    log_format: Literal["text", "json"] = "text"
