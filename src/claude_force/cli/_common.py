"""What every command shares: the global options' state, JSON output, consoles, the engine factory.

Imported when ``claude-force --help`` runs, so it imports nothing heavy at module level: rich,
pydantic and the orchestrator are imported inside the functions that use them.
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from ..config import Project
    from ..engine import AgentEngine
    from ..telemetry.settings import TelemetrySettings


@dataclass
class CliState:
    """The root command's options, shared with every sub-command through ``ctx.obj``."""

    config: Path | None = None
    api_key: str | None = field(default=None, repr=False)  # never printed, never logged
    simulate: bool = False
    debug: bool = False
    log_handler: logging.Handler | None = field(default=None, repr=False)
    log_format: str = "text"
    log_format_given: bool = False  # --log-format wins over telemetry.log_format
    tracing_ready: bool = False


def state_of(ctx: typer.Context) -> CliState:
    """The :class:`CliState` of the running command (set up by the root command)."""
    return ctx.ensure_object(CliState)


def open_core(
    state: CliState,
    *,
    simulate: bool = False,
    max_concurrent: int | None = None,
    routing: bool = False,
    tracking: bool = True,
    memory: bool = True,
    project: Project | None = None,
) -> AgentEngine:
    """The engine for the configured project, assembled: loading and validating the project and
    building the pipeline raise every configuration error here (exit 2), before anything runs.
    ``routing``: the engine routes runs that name no model (``--auto-model``)."""
    from ..config import load_project
    from ..engine import AgentEngine

    project = project if project is not None else load_project(state.config)
    strategy = None
    if routing:
        from ..routing.strategy import ModelRouting

        strategy = ModelRouting(project)
    forced = True if (simulate or state.simulate) else None
    core = AgentEngine.open(
        project,
        api_key=state.api_key,
        max_concurrent=max_concurrent,
        simulate=forced,
        routing=strategy,
        tracking=tracking,
        memory=memory,
    )
    # (provider.simulate "never" without a key was refused when the engine chose its provider)
    apply_telemetry(state, core.project.settings.telemetry)
    core.bus.subscribe(_note_simulated_run)
    return core


def _note_simulated_run(event: object) -> None:
    """A run answered by the simulated model (the exit status says so if by fallback)."""
    from ..events import ExecutionFinished

    if isinstance(event, ExecutionFinished) and event.simulated:
        from .. import fallback_flag

        fallback_flag.ran()


def apply_telemetry(state: CliState, settings: TelemetrySettings) -> None:
    """``telemetry.log_format`` (unless ``--log-format`` was given) and span export (once)."""
    if not state.log_format_given and settings.log_format != state.log_format:
        from .app import set_log_format

        set_log_format(state, settings.log_format)
    if not state.tracing_ready:
        import atexit

        from ..telemetry.tracing import setup_tracing

        stop = setup_tracing(settings)
        if stop is not None:
            atexit.register(stop)  # flushes the spans still queued
        state.tracing_ready = True


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, Path):
        return str(value)
    return str(value)


def to_json(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False, default=_json_default)


def emit_json(data: Any) -> None:
    """Write one JSON document to stdout — and nothing else goes to stdout with ``--json``."""
    sys.stdout.write(to_json(data) + "\n")
    sys.stdout.flush()


def _safe_console_class() -> type[Console]:
    """A rich ``Console`` that escapes control characters of the text it prints (agent names,
    descriptions, model outputs: see :mod:`claude_force.safe_text`).

    Strings are escaped before rich parses and measures them (tables stay aligned); every
    segment of text is escaped once more just before it is written, which catches ``Text``
    objects and anything else built without going through ``render_str``. Rich's own styling
    (control segments, styles) is added after that, so it is untouched."""
    global _SAFE_CONSOLE
    if _SAFE_CONSOLE is not None:
        cached: type[Console] = _SAFE_CONSOLE
        return cached
    from rich.console import Console
    from rich.segment import Segment

    from ..safe_text import safe

    class SafeConsole(Console):
        def render_str(self, text: str, **kwargs: Any) -> Any:
            return super().render_str(safe(text), **kwargs)

        def _render_buffer(self, buffer: Any) -> str:
            cleaned = (
                seg if seg.control else Segment(safe(seg.text), seg.style, None) for seg in buffer
            )
            return str(super()._render_buffer(cleaned))

    _SAFE_CONSOLE = SafeConsole
    return SafeConsole


_SAFE_CONSOLE: Any = None


def out_console() -> Console:
    """A rich console on the current stdout (bound at call time, so test runners capture it)."""
    return _safe_console_class()(file=sys.stdout, highlight=False, soft_wrap=True)


def err_console() -> Console:
    return _safe_console_class()(file=sys.stderr, highlight=False)


def notice(message: str) -> None:
    """One informational line on stderr (control characters escaped)."""
    from ..safe_text import safe

    sys.stderr.write(safe(message) + "\n")
    sys.stderr.flush()


def echo_output(text: str) -> None:
    """A model's output for ``--quiet``: exact when stdout is piped, controls escaped on a
    terminal (where an escape sequence would act instead of being shown)."""
    from ..safe_text import safe

    sys.stdout.write((text if not sys.stdout.isatty() else safe(text)) + "\n")
    sys.stdout.flush()


def echo(text: str, *, err: bool = False) -> None:
    """Human-readable text on stdout (or stderr), control characters escaped."""
    from ..safe_text import safe

    stream = sys.stderr if err else sys.stdout
    stream.write(safe(text) + "\n")
    stream.flush()


def write_output_file(path: Path, text: str) -> None:
    """Write ``--output FILE`` (creating its folder), and say so on stderr."""
    path = path.expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
    notice(f"wrote {path}")


def interactive() -> bool:
    """Whether a person can answer a question (stdin is a terminal)."""
    return sys.stdin.isatty()


def confirm_removal(what: str, yes: bool) -> None:
    """Ask before removing ``what`` unless ``--yes``; without a terminal to ask on, refuse
    (exit 2, naming ``--yes``). Declining aborts (exit 1)."""
    if yes:
        return
    if not interactive():
        from ..errors import ConfigurationError

        raise ConfigurationError(
            f"refusing to remove {what} without confirmation", hint="pass --yes"
        )
    typer.confirm(f"Remove {what}?", abort=True, err=True)


def report_removed(removed: int, noun: tuple[str, str], json_out: bool, **details: Any) -> None:
    """What a removal command prints: ``{"removed": N, **details}`` with ``--json``, else
    ``removed N <noun>`` (``noun``: singular and plural)."""
    if json_out:
        emit_json({"removed": removed, **details})
        return
    out_console().print(f"removed {removed} {noun[0] if removed == 1 else noun[1]}")
