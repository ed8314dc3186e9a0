"""The root ``claude-force`` command: global options, command registration, error mapping.

Later features register their command group here with one ``app.add_typer(...)`` line. Command
modules import only typer and the standard library at module level; the orchestrator, pydantic
and rich tables load inside the commands, so ``claude-force --help`` stays fast.

Errors are mapped in :class:`RootGroup.main`, which both the console script and typer's
``CliRunner`` go through: a :class:`~claude_force.errors.ClaudeForceError` prints one
``error: ...`` line and exits with its ``exit_code`` (2 configuration/usage, 1 run failure);
usage errors exit 2; anything else prints one line and exits 1. ``--debug`` adds the traceback.
"""

from __future__ import annotations

import copy
import functools
import logging
import os
import sys
import traceback
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any, NoReturn, TextIO

import typer
from typer.core import TyperGroup
from typer.main import get_command_name

from .._version import __version__
from ..errors import ClaudeForceError
from ..safe_text import safe
from . import _gc
from . import analytics as _analytics
from . import batch as _batch
from . import cache as _cache
from . import emulator as _emulator
from . import execute as _execute
from . import health as _health
from . import listing as _listing
from . import memory as _memory
from . import metrics as _metrics
from . import project as _project
from . import recommend as _recommend
from . import route as _route
from . import run as _run
from . import serve as _serve
from . import validate as _validate
from . import worker as _worker
from . import workflow as _workflow
from ._common import CliState

PROG = "claude-force"


def _click_base(name: str) -> type[BaseException]:
    """Click's ``ClickException``: typer vendors click in recent releases, re-exports it in older."""
    for cls in typer.BadParameter.__mro__:
        if cls.__name__ == name:
            return cls
    raise AssertionError(f"typer.BadParameter does not derive from {name}")


ClickException = _click_base("ClickException")
UsageError = _click_base("UsageError")


class RootGroup(TyperGroup):
    """The root group; its ``main`` turns every failure into one line and an exit code."""

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        _plain_help(self)
        state = extra.get("obj")
        if not isinstance(state, CliState):
            state = CliState(debug=_env_flag("CLAUDE_FORCE_DEBUG"))
            extra["obj"] = state

        def invoke() -> Any:
            return super(RootGroup, self).main(
                args,
                prog_name or PROG,
                complete_var,
                standalone_mode=False,
                windows_expand_args=windows_expand_args,
                **extra,
            )

        from .. import fallback_flag

        fallback_flag.reset()
        code = guarded(invoke, state)
        if code == 0 and fallback_flag.fell_back():
            sys.stderr.write(
                f"claude-force: exit status {fallback_flag.FALLBACK_EXIT}: answered by the "
                "SIMULATED model because no ANTHROPIC_API_KEY is set (pass --simulate, or set "
                'provider.simulate to "auto", to run offline on purpose)\n'
            )
            code = fallback_flag.FALLBACK_EXIT
        if standalone_mode:
            sys.exit(code)
        return code


def _plain_help(command: object) -> None:
    """Use click's plain help formatter for every command, sub-groups included.

    typer's rich help formatter imports rich's markdown, syntax and traceback modules (~70 ms,
    more on a busy machine), which alone would eat a quarter of the 0.3 s budget of
    ``claude-force --help``. Command *output* still uses rich.
    """
    if hasattr(command, "rich_markup_mode"):
        command.rich_markup_mode = None
    _plain_help_option(command)
    for param in getattr(command, "params", ()):
        _plain_metavar(param)
        _coerce_when_given(param)
    for sub in getattr(command, "commands", {}).values():
        _plain_help(sub)


def _plain_help_option(command: object) -> None:
    """The ``--help`` option that click makes for each command as it parses (not one of its
    ``params``) gets the same deferred coercion: left at ``None``, it needs none; typer would
    otherwise build its pydantic ``TypeAdapter``, importing pydantic (~60 ms) for every command."""
    make = getattr(command, "get_help_option", None)
    if make is None or getattr(make, "_deferred", False):
        return

    def get_help_option(ctx: Any) -> Any:
        option = make(ctx)
        if option is not None:
            _coerce_when_given(option)
        return option

    get_help_option._deferred = True  # type: ignore[attr-defined]
    command.get_help_option = get_help_option  # type: ignore[attr-defined]


class _CoercionWhenGiven:
    """typer's coercion of a parameter, built when a value needs it.

    typer builds a pydantic ``TypeAdapter`` for a parameter the first time it processes it —
    for a value left at ``None`` too, which needs none: a ``None`` is ``None`` (``()`` for a
    parameter of many values), as typer's own ``RuntimeParam.coerce`` has it. A read-only
    command leaves about ten options at ``None``, ~1 ms of start-up each.

    A text given to a plain ``str`` option needs none either: typer's adapter for it turns a
    ``str`` into the same ``str`` (it decodes bytes, which a command line never gives here), and
    building it imports pydantic (~60 ms) — ``analytics summary --since 7d`` would pay for it."""

    __slots__ = ()

    def coerce(self, value: Any, param: Any, ctx: Any) -> Any:
        if value is None:
            return () if (param.multiple or param.nargs == -1) else None
        if type(value) is str and _plain_text(param):
            return value
        param._runtime_param = None  # typer's own, built now, kept for the next value
        return param.get_runtime_param().coerce(value, param=param, ctx=ctx)


def _plain_text(param: Any) -> bool:
    """A single-valued option or argument of type ``str``, with no parser of its own."""
    desc = getattr(param, "type_descriptor", None)
    info = getattr(desc, "parameter_info", None)
    return (
        desc is not None
        and desc.annotation is str
        and info is not None
        and getattr(info, "parser", None) is None
        and not (param.multiple or param.nargs != 1)
    )


_WHEN_GIVEN = _CoercionWhenGiven()


def _coerce_when_given(param: Any) -> None:
    """Defer typer's coercion of ``param`` until a value needs it (typers that build it
    lazily, through ``get_runtime_param``; others are left as they are)."""
    if hasattr(param, "get_runtime_param") and getattr(param, "_runtime_param", 0) is None:
        param._runtime_param = _WHEN_GIVEN


def _plain_metavar(param: Any) -> None:
    """Help shows what a value is, not its Python type: ``TASK...`` rather than
    ``TASK <list[str]>``, ``--max-tokens N`` rather than ``--max-tokens <int range>``."""
    if getattr(param, "param_type_name", "") == "argument":
        param.display_type_rich = lambda ctx: None  # the name says it; no "<str>"
        return
    if getattr(param, "metavar", None) is not None or getattr(param, "is_flag", False):
        return
    try:
        desc = param.type_descriptor
        kind = "choice" if desc.is_choice else param.bare_type()
    except Exception:  # an option typer builds differently: keep its own text
        return
    if kind == "choice":
        return  # the choices are the best description
    names = {"int": "N", "float": "X"}
    if kind in names:
        param.metavar = names[kind]
    elif "Path" in kind:
        param.metavar = "PATH"
    else:
        longest = max(param.opts, key=len).lstrip("-")
        param.metavar = longest.upper().replace("-", "_")


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


MAX_MESSAGE_CHARS = 2000


def _one_line(text: str) -> str:
    """One line, control characters escaped, at most ``MAX_MESSAGE_CHARS`` characters."""
    from ..safe_text import safe_line

    line = safe_line(" ".join(text.split()))
    if len(line) > MAX_MESSAGE_CHARS:
        cut = len(line) - MAX_MESSAGE_CHARS
        line = line[:MAX_MESSAGE_CHARS] + f"… ({cut:,} more characters)"
    return line


def _error(message: str, stream: TextIO | None = None) -> None:
    out = stream or sys.stderr
    out.write(f"error: {_one_line(message)}\n")
    out.flush()


def guarded(call: Callable[[], Any], state: CliState) -> int:
    """Run the command line; return its exit code after printing any error as one line."""
    show_warnings = _install_warning_format()
    try:
        rv = call()
    except ClaudeForceError as exc:
        if state.debug:
            traceback.print_exception(exc)
        _error(exc.one_line())
        return exc.exit_code
    except ClickException as exc:
        message = str(exc.format_message())  # type: ignore[attr-defined]
        if type(exc).__name__ == "NoArgsIsHelpError":
            # A group run without a command: its message is the group's help text.
            sys.stdout.write(safe(message.rstrip("\n")) + "\n")
            sys.stdout.flush()
        elif message:
            if isinstance(exc, UsageError):
                ctx = getattr(exc, "ctx", None)
                path = ctx.command_path if ctx is not None else PROG
                message += f" (see '{path} --help')"
            _error(message)
        return int(getattr(exc, "exit_code", 2))
    except typer.Abort:
        _error("aborted")
        return 1
    except Exception as exc:
        if state.debug:
            traceback.print_exception(exc)
            _error(f"{type(exc).__name__}: {exc}")
        else:
            _error(f"{type(exc).__name__}: {exc} (run with --debug for the traceback)")
        return 1
    finally:
        warnings.showwarning = show_warnings
    if isinstance(rv, int) and not isinstance(rv, bool):
        return rv
    return 0


def _install_warning_format() -> Callable[..., None]:
    """Show warnings (e.g. unknown keys in claude.json) as one ``warning:`` line on stderr."""
    previous = warnings.showwarning

    def show(
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: TextIO | None = None,
        line: str | None = None,
    ) -> None:
        (file or sys.stderr).write(f"warning: {_one_line(str(message))}\n")

    warnings.showwarning = show
    return previous


class _LogFormatter(logging.Formatter):
    """``level: message``; tracebacks only with ``--debug``."""

    def __init__(self, debug: bool) -> None:
        super().__init__("%(levelname)s: %(message)s")
        self.debug = debug

    def format(self, record: logging.LogRecord) -> str:
        copy = logging.makeLogRecord(record.__dict__)  # other handlers must see the original
        copy.levelname = record.levelname.lower()
        if not self.debug:
            copy.exc_info = None
            copy.exc_text = None
            copy.stack_info = None
        return safe(super().format(copy))


LOG_FORMATS = ("text", "json")


def set_log_format(state: CliState, fmt: str) -> None:
    """Text (``level: message``) or JSON lines (with execution, workflow-run and request ids).
    In text mode a failed run is reported by the command itself, so its log line is left out."""
    handler = state.log_handler
    if handler is None:
        return
    if fmt == "json":
        from ..telemetry.logs import JsonFormatter

        handler.setFormatter(JsonFormatter(state.debug))
    else:
        handler.setFormatter(_LogFormatter(state.debug))
    runs = logging.getLogger("claude_force.runs")
    runs.setLevel(logging.NOTSET if fmt == "json" or state.debug else logging.ERROR)
    state.log_format = fmt


def _configure_logging(ctx: typer.Context, state: CliState, fmt: str | None) -> None:
    logger = logging.getLogger("claude_force")
    runs = logging.getLogger("claude_force.runs")
    handler = logging.StreamHandler(sys.stderr)
    previous = (logger.level, runs.level)
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if state.debug else logging.WARNING)
    state.log_handler = handler
    state.log_format_given = fmt is not None
    set_log_format(state, fmt or "text")

    def restore() -> None:
        logger.removeHandler(handler)
        logger.setLevel(previous[0])
        runs.setLevel(previous[1])
        state.log_handler = None

    ctx.call_on_close(restore)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"{PROG} {__version__}")
        raise typer.Exit(0)


app = typer.Typer(
    name=PROG,
    cls=RootGroup,
    help="Run specialised Claude agents and workflows from your project's .claude/ folder.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def root(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help="Path of claude.json (or its folder). Default: nearest .claude/claude.json "
            "or $CLAUDE_FORCE_CONFIG.",
            show_default=False,
        ),
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option(
            "--api-key",
            help="Anthropic API key (default: $ANTHROPIC_API_KEY). Never printed.",
            show_default=False,
        ),
    ] = None,
    simulate: Annotated[
        bool,
        typer.Option(
            "--simulate",
            "--demo",
            help="Use the offline SIMULATED model (no key, no network). --demo is the old spelling.",
        ),
    ] = False,
    debug: Annotated[
        bool,
        typer.Option("--debug", help="Show tracebacks and debug logs (or CLAUDE_FORCE_DEBUG=1)."),
    ] = False,
    log_format: Annotated[
        str | None,
        typer.Option(
            "--log-format",
            metavar="FORMAT",
            help="Logs on stderr as 'text' or 'json' lines with execution, workflow-run and "
            "request ids (default: telemetry.log_format, text).",
            show_default=False,
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Run specialised Claude agents and workflows from your project's .claude/ folder.

    Without ANTHROPIC_API_KEY (or with --simulate) every run uses a SIMULATED model, labelled as such.
    Exit codes: 0 success, 1 a failed run, 2 a usage or configuration error.
    """
    del version
    state = ctx.ensure_object(CliState)
    state.config = config
    state.api_key = api_key or None
    state.simulate = simulate
    state.debug = debug or state.debug
    if log_format is not None and log_format not in LOG_FORMATS:
        raise typer.BadParameter(
            f"'{log_format}' is not a log format (use text or json)", param_hint="--log-format"
        )
    _configure_logging(ctx, state, log_format)
    from ..config import snapshot

    # a project validated by a command keeps its settings snapshot (config/snapshot.py)
    ctx.with_resource(snapshot.writing())
    if not (ctx.invoked_subcommand in CALLS_CLAUDE and not simulate and _preload_sdk(state)):
        _gc.startup_over()  # (else the SDK's import turns the collector back on when done)


CALLS_CLAUDE = frozenset({"execute", "run", "run-workflow", "serve", "health", "batch"})
"""Commands that may call Claude: they start loading the SDK while the project loads."""


def _preload_sdk(state: CliState) -> bool:
    """Start importing the ``anthropic`` SDK in the background when a key is configured, so it
    overlaps with loading the project and is ready before any execution's clock starts; the
    import ends the process's start-up (the garbage collector comes back on). Without a key the
    run is simulated (unless claude.json says otherwise, which the orchestrator then handles,
    importing the SDK before the clock all the same). Whether the import was started."""
    from ..config.environment import RunEnvironment  # these commands load the project anyway

    if state.api_key or RunEnvironment.read().api_key:
        from ..providers.preload import start_sdk_import

        start_sdk_import(then=_gc.resume)
        return True
    return False


app.command("init")(_project.init)
app.add_typer(_listing.app, name="list")
app.command("info")(_project.info)
app.command("execute")(_execute.execute)
app.add_typer(_run.app, name="run")
app.command("emulator")(_emulator.emulator)
# Later features register their command groups below, one add_typer line each.
app.add_typer(_health.app, name="health")
app.command("run-workflow")(_workflow.run_workflow)
app.add_typer(_workflow.app, name="workflow")
app.add_typer(_analytics.app, name="analytics")
app.add_typer(_metrics.app, name="metrics")
app.add_typer(_cache.app, name="cache")
app.add_typer(_memory.app, name="memory")
app.add_typer(_batch.app, name="batch")
app.command("route")(_route.route)
app.command("recommend")(_recommend.recommend)
app.command("validate")(_validate.validate)
app.add_typer(_serve.app)  # serve, dashboard
app.command("worker")(_worker.worker)  # cluster mode
app.add_typer(_worker.app, name="runs")


@functools.cache
def _root_command() -> Any:
    """The click command tree, built once per process (typer inspects every signature)."""
    return _command_tree(None)


_GLOBAL_VALUE_OPTIONS = ("-c", "--config", "--api-key", "--log-format")
_GLOBAL_FLAGS = frozenset({"--simulate", "--demo", "--debug"})


def _invoked_name(args: Sequence[str]) -> str | None:
    """The command named on the line when only global options come before it; ``None`` (build
    every command) for ``--help``, ``--version``, completion, no command or anything unknown."""
    return _command_path(args)[0]


def _command_path(args: Sequence[str]) -> tuple[str | None, str | None]:
    """The command named on the line (as :func:`_invoked_name`) and the word after it (a group's
    sub-command) when it is no option; Nones where there is none."""
    i = 0
    while i < len(args):
        token = args[i]
        if token in _GLOBAL_VALUE_OPTIONS:
            i += 2
        elif token in _GLOBAL_FLAGS or token.startswith(
            tuple(f"{o}=" for o in _GLOBAL_VALUE_OPTIONS[1:])
        ):
            i += 1
        elif token.startswith("-"):
            return None, None
        else:
            sub = args[i + 1] if i + 1 < len(args) and not args[i + 1].startswith("-") else None
            return token, sub
    return None, None


@functools.cache
def _command_tree(name: str | None) -> Any:
    """The click tree with only command ``name`` under the root (``None`` or a name that is no
    command: every command). Why: typer inspects the signature of every command it builds, about
    a fifth of a read-only command's start; the one that runs is enough. Help, completion and
    unknown commands (click's suggestions) get the whole tree."""
    if name is not None:
        commands = [
            c
            for c in app.registered_commands
            if (c.name or get_command_name(getattr(c.callback, "__name__", ""))) == name
        ]
        groups = [g for g in app.registered_groups if isinstance(g.name, str) and g.name == name]
        if commands or groups:
            partial = copy.copy(app)
            partial.registered_commands = commands
            partial.registered_groups = groups
            return typer.main.get_command(partial)
    return typer.main.get_command(app)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line in-process and return its exit code (used by the demo and tests)."""
    args = list(argv) if argv is not None else sys.argv[1:]
    command = _command_tree(_invoked_name(args))
    code = command.main(args=args, prog_name=PROG, standalone_mode=False)
    return int(code)


SHORT_COMMANDS: dict[str, frozenset[str] | None] = {
    "list": None,  # any sub-command
    "info": None,
    "cache": frozenset({"stats"}),
    "analytics": frozenset({"summary"}),
    "memory": frozenset({"stats"}),
}
"""Read-only commands that only read and print: the garbage collector stays off (cli/_gc.py)."""


def is_short(args: Sequence[str]) -> bool:
    """Whether the command line runs one of :data:`SHORT_COMMANDS`."""
    name, sub = _command_path(args)
    if name not in SHORT_COMMANDS:
        return False
    subs = SHORT_COMMANDS[name]
    return subs is None or sub in subs


def run() -> NoReturn:
    """The console script's entry point."""
    args = sys.argv[1:]
    _gc.hold(is_short(args))
    sys.exit(main(args))
