"""Run the app with uvicorn on a socket we bind first (so the URL, with an ephemeral port, is
known before the server starts and a busy port is a clear error, not a traceback)."""

from __future__ import annotations

import errno
import ipaddress
import socket
from types import FrameType
from typing import Any

import uvicorn
from fastapi import FastAPI
from uvicorn.config import LOGGING_CONFIG

from ..errors import ConfigurationError

GRACEFUL_SHUTDOWN_S = 5


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (``port`` 0: any free port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets whose proto says TCP;
    # with proto 0, replies on kept-alive connections wait ~40 ms (Nagle + delayed ACK).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ConfigurationError(
                f"port {port} on {host} is already in use",
                key="--port",
                hint="pass another --port (0 picks a free one) or stop the other server",
            ) from None
        raise ConfigurationError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}",
            key="--host",
            hint="use an address of this machine, e.g. 127.0.0.1",
        ) from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket) -> str:
    """The URL to open in a browser (loopback for a wildcard address)."""
    host, port = sock.getsockname()[:2]
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1" if host == "0.0.0.0" else "::1"
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Server(uvicorn.Server):
    """uvicorn's server, ending the live event streams as soon as shutdown starts (an open
    stream would otherwise hold the graceful shutdown until its timeout)."""

    def __init__(
        self,
        app: FastAPI,
        *,
        log_level: str = "info",
        access_log: bool = True,
        configure_logging: bool = True,
    ) -> None:
        self.app = app
        # X-Forwarded-For is read only from the proxies the project trusts (uvicorn rewrites the
        # client address before the request guard keys its per-client limits on it)
        state = getattr(app.state, "claude_force", None)
        trusted = list(state.settings.trusted_proxies) if state is not None else []
        super().__init__(
            uvicorn.Config(
                app,
                log_level=log_level,
                access_log=access_log,
                log_config=LOGGING_CONFIG if configure_logging else None,
                lifespan="on",
                proxy_headers=bool(trusted),
                forwarded_allow_ips=trusted or None,
                server_header=False,
                timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
            )
        )

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.end_streams()
        super().handle_exit(sig, frame)

    def end_streams(self) -> None:
        state = getattr(self.app.state, "claude_force", None)
        if state is not None:
            state.broadcaster.close()

    async def stop(self) -> None:
        """Ask the server to exit (from its own event loop, e.g. in tests)."""
        self.end_streams()
        self.should_exit = True


def json_log_config() -> dict[str, Any]:
    """uvicorn's loggers (access lines included) as JSON lines with the request id."""
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "claude_force.telemetry.logs.JsonFormatter"}},
        "handlers": {"default": handler},
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": "INFO", "propagate": False},
            "uvicorn.error": {"level": "INFO"},
            "uvicorn.access": {"handlers": ["default"], "level": "INFO", "propagate": False},
        },
    }


def run(
    app: FastAPI, sock: socket.socket, *, log_level: str = "info", json_logs: bool = False
) -> None:
    """Serve until interrupted (Ctrl+C)."""
    server = Server(app, log_level=log_level)
    if json_logs:
        server.config.log_config = json_log_config()
        server.config.configure_logging()
    server.run(sockets=[sock])
