"""Traces and logs in the ecosystem's formats: OpenTelemetry spans (GenAI semantic conventions)
for every run, workflow, step and model call, and JSON log lines carrying the execution,
workflow-run and request ids. See docs/operations.md.

OpenTelemetry is optional (``pip install 'claude-force[otel]'``): without it every span helper is
a no-op. With it, spans go to whatever tracer provider the application configured, and the CLI
and server configure an OTLP exporter when ``telemetry.traces`` is ``"otlp"``.
"""
