"""``claude-force serve`` and ``claude-force dashboard``: the HTTP API, health endpoints,
Prometheus ``/metrics`` and the live dashboard, served by uvicorn.

Imports only typer at module level (``claude-force --help`` stays fast); FastAPI, uvicorn and
the orchestrator load inside the commands.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import typer

from ._common import apply_telemetry, notice, state_of

if TYPE_CHECKING:
    from ._common import CliState

app = typer.Typer(help="Serve the HTTP API and the live dashboard.")

HostOpt = Annotated[
    str | None,
    typer.Option(
        "--host", help="Address to listen on (default: server.host, 127.0.0.1).", show_default=False
    ),
]
PortOpt = Annotated[
    int | None,
    typer.Option(
        "--port",
        "-p",
        min=0,
        max=65535,
        help="Port (default: server.port, 8000; 0 picks a free one).",
        show_default=False,
    ),
]
SimulateOpt = Annotated[
    bool, typer.Option("--simulate", "--demo", help="Use the offline SIMULATED model.")
]
LogLevelOpt = Annotated[
    str, typer.Option("--log-level", help="critical, error, warning, info or debug.")
]
InsecureOpt = Annotated[
    bool,
    typer.Option(
        "--allow-unauthenticated",
        help="Listen on a non-loopback address without a token (anyone who reaches it can run "
        "agents at your cost).",
    ),
]
OpenOpt = Annotated[bool, typer.Option("--open", help="Open the dashboard in a web browser.")]

_LOG_LEVELS = ("critical", "error", "warning", "info", "debug")


def _server_command(print_url: bool, default_log_level: str, doc: str) -> Callable[..., None]:
    """``serve`` or ``dashboard``: the same options and server; the dashboard prints its URL
    on stdout first and logs less by default."""

    def command(
        ctx: typer.Context,
        host: HostOpt = None,
        port: PortOpt = None,
        simulate: SimulateOpt = False,
        log_level: LogLevelOpt = default_log_level,
        allow_unauthenticated: InsecureOpt = False,
        open_browser: OpenOpt = False,
    ) -> None:
        _serve(
            state_of(ctx),
            host,
            port,
            simulate,
            log_level,
            allow_unauthenticated,
            open_browser,
            print_url,
        )

    command.__doc__ = doc
    return command


serve = app.command("serve")(
    _server_command(
        False,
        "info",
        """Serve the API (/api/v1), /healthz, /readyz, /metrics and the dashboard (/) until Ctrl+C.

    Listens on 127.0.0.1 unless told otherwise. With server.token (or CLAUDE_FORCE_SERVER_TOKEN)
    set, the endpoints that run agents need 'Authorization: Bearer <token>'.

    \b
    Examples:
      claude-force serve                       # http://127.0.0.1:8000/
      claude-force --log-format json serve --port 9000
      CLAUDE_FORCE_SERVER_TOKEN=... claude-force serve --host 0.0.0.0
    """,
    )
)
dashboard = app.command("dashboard")(
    _server_command(
        True,
        "warning",
        "Like 'serve' (quieter logs), printing the dashboard's URL on stdout first.",
    )
)


@app.command("server-token")
def server_token() -> None:
    """Print a new bearer token for the server: 32 random bytes, URL-safe base64.

    Needed to listen on a non-loopback address; set it as server.token or
    CLAUDE_FORCE_SERVER_TOKEN. Nothing is stored."""
    from ..server.settings import new_token

    typer.echo(new_token())


def _serve(
    state: CliState,
    host: str | None,
    port: int | None,
    simulate: bool,
    log_level: str,
    allow_unauthenticated: bool,
    open_browser: bool,
    print_url: bool,
) -> None:
    from ..errors import ConfigurationError

    if log_level.lower() not in _LOG_LEVELS:
        raise ConfigurationError(
            f"unknown log level '{log_level}'",
            key="--log-level",
            hint="use " + ", ".join(_LOG_LEVELS),
        )
    try:  # the server extra
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise ConfigurationError(
            f"the server needs FastAPI and uvicorn ({exc.name} is not installed)",
            hint="pip install 'claude-force[server]'",
        ) from None

    from ..config import load_project
    from ..server.app import create_app, resolve_token
    from ..server.run import bind_socket, is_loopback, url_of
    from ..server.settings import TOKEN_ENV, weak_token

    project = load_project(state.config)
    apply_telemetry(state, project.settings.telemetry)
    settings = project.settings.server
    host = host or settings.host
    port = settings.port if port is None else port
    token = resolve_token(settings, None, None)
    if token is not None and not is_loopback(host):
        problem = weak_token(token)
        if problem is not None:
            from_env = bool(os.environ.get(TOKEN_ENV, "").strip())
            raise ConfigurationError(
                f"the server token is too weak to listen on {host}: {problem}",
                file=None if from_env else project.config_path,
                key=TOKEN_ENV if from_env else "server.token",
                hint="generate one with 'claude-force server-token'",
            )
    if token is None and not is_loopback(host) and not allow_unauthenticated:
        raise ConfigurationError(
            f"refusing to listen on {host} without a token: anyone who can reach it could run "
            "agents at your cost",
            file=project.config_path,
            key="server.token",
            hint=f"set server.token or {TOKEN_ENV}, or pass --allow-unauthenticated",
        )
    sock = bind_socket(host, port)
    try:
        app = create_app(
            project,
            simulate=True if (simulate or state.simulate) else None,
            api_key=state.api_key,
            host=host,
        )
        url = url_of(sock)
        if print_url:
            typer.echo(f"claude-force dashboard: {url}")
        notice(
            f"claude-force server on {url} — dashboard /, API /api/v1 (docs /docs), "
            f"/healthz, /readyz, /metrics; "
            + ("POST endpoints need the bearer token" if token else "no token: POST is open")
            + " (Ctrl+C stops)"
        )
        if open_browser:
            import webbrowser

            webbrowser.open(url)
        from ..server import run as server_run

        server_run.run(app, sock, log_level=log_level.lower(), json_logs=state.log_format == "json")
    finally:
        sock.close()
