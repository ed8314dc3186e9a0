"""``create_app``: the FastAPI application of ``claude-force serve``.

Endpoints (see ``docs/dashboard.md``): ``GET /healthz``, ``GET /readyz``, ``GET /metrics``,
``GET /`` (dashboard), ``GET /api/v1/summary|agents|models|workflows|trends|anomalies|live|
project``, ``GET /api/v1/events`` (SSE), ``POST /api/v1/execute``,
``POST /api/v1/workflows/{name}/run``. The two ``POST`` endpoints need the bearer token when one
is configured.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.types import Receive, Scope, Send

from .._version import __version__
from ..clock import SYSTEM_CLOCK, WALL_CLOCK, Clock
from ..errors import ClaudeForceError
from ..monitoring.anomaly import AnomalyDetector
from ..monitoring.live import LiveStats
from ..monitoring.settings import AnomalySettings
from . import routes_api, routes_dash, routes_ops
from ._asgi import HttpMiddleware, with_headers
from .broadcast import Broadcaster
from .follow import StoreFollower
from .guard import AuthThrottle, RequestGuard
from .monitor import Monitor
from .request_ids import RequestIds
from .schemas import ErrorDetail, ErrorResponse, validation_details
from .settings import LOOPBACK_HOSTS, TOKEN_ENV, ServerSettings
from .state import AuthError, ServerState, status_of_error

if TYPE_CHECKING:
    from ..async_orchestrator import AsyncAgentOrchestrator
    from ..config import Project
    from ..engine import AgentEngine

WILDCARD_HOSTS = ("0.0.0.0", "::", "")

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)


def resolve_token(
    settings: ServerSettings, explicit: str | None, env: Mapping[str, str] | None
) -> str | None:
    """``explicit`` > ``$CLAUDE_FORCE_SERVER_TOKEN`` > ``server.token``; blank means none."""
    environ = os.environ if env is None else env
    for candidate in (
        explicit,
        environ.get(TOKEN_ENV),
        settings.token.get_secret_value() if settings.token is not None else None,
    ):
        if candidate is not None and candidate.strip():
            return candidate.strip()
    return None


def trusted_hosts(settings: ServerSettings, host: str | None = None) -> list[str]:
    """The ``Host`` header values to accept: loopback names, the bound host and
    ``server.allowed_hosts``; any when bound to a wildcard address."""
    bound = settings.host if host is None else host
    if bound in WILDCARD_HOSTS or "*" in settings.allowed_hosts:
        return ["*"]
    hosts = [*LOOPBACK_HOSTS, bound, *settings.allowed_hosts]
    return list(dict.fromkeys(h.lower() for h in hosts))


class SecurityHeaders(HttpMiddleware):
    """Adds a strict Content-Security-Policy (the dashboard loads nothing from elsewhere) and
    ``nosniff`` / ``no-referrer`` to every response."""

    HEADERS = (
        (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"no-referrer"),
    )

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, with_headers(send, self.HEADERS))


def _orchestrator_for(
    target: AgentEngine | AsyncAgentOrchestrator | Project | str | os.PathLike[str] | None,
    simulate: bool | None,
    api_key: str | None,
) -> tuple[AgentEngine, bool]:
    """The engine to serve, and whether this app owns (and closes) it. An orchestrator (a 2.2
    face) is served through its engine; requests never pass through the face."""
    from ..async_orchestrator import AsyncAgentOrchestrator
    from ..engine import AgentEngine

    if isinstance(target, AgentEngine):
        return target, False
    if isinstance(target, AsyncAgentOrchestrator):
        return target.engine, False
    return AgentEngine.open(target, api_key=api_key, simulate=simulate), True


def create_app(
    target: AgentEngine | AsyncAgentOrchestrator | Project | str | os.PathLike[str] | None = None,
    *,
    simulate: bool | None = None,
    api_key: str | None = None,
    token: str | None = None,
    settings: ServerSettings | None = None,
    anomalies: AnomalySettings | None = None,
    host: str | None = None,
    env: Mapping[str, str] | None = None,
    clock: Clock = WALL_CLOCK,
    monotonic: Clock = SYSTEM_CLOCK,
    warm_up: bool = True,
    allowed_hosts: Sequence[str] | None = None,
) -> FastAPI:
    """The server for an engine or an orchestrator (its engine, used as is, closed by its
    owner), a loaded project, or the path of ``claude.json`` (``None``: the nearest one). For the
    latter two the app opens an engine (with ``simulate`` and ``api_key``) and closes it at
    shutdown.

    ``settings``/``anomalies`` default to the project's ``server`` and ``anomalies`` sections;
    ``token`` overrides ``CLAUDE_FORCE_SERVER_TOKEN`` and ``server.token``. ``host`` is the
    address the server binds (for the allowed ``Host`` headers); ``allowed_hosts`` replaces
    that list. ``clock`` (on the epoch scale) and ``monotonic`` drive the live figures, the anomaly
    detector and the readiness cache.
    """
    orchestrator, owned = _orchestrator_for(target, simulate, api_key)
    project_settings = orchestrator.project.settings
    server_settings = settings or getattr(project_settings, "server", None) or ServerSettings()
    anomaly_settings = anomalies or getattr(project_settings, "anomalies", None)
    tracker = orchestrator.metrics
    broadcaster = Broadcaster(server_settings.sse_queue_size)
    monitor = Monitor(
        live=LiveStats(clock=clock, window_s=server_settings.live_window_minutes * 60),
        detector=AnomalyDetector(anomaly_settings, clock=clock),
        broadcaster=broadcaster,
        prometheus=tracker.prometheus if tracker is not None else None,
    )
    state = ServerState(
        orchestrator=orchestrator,
        owned=owned,
        settings=server_settings,
        monitor=monitor,
        broadcaster=broadcaster,
        token=resolve_token(server_settings, token, env),
        clock=clock,
        monotonic=monotonic,
        started_at=clock.now(),
    )

    follower = (
        StoreFollower(lambda: tracker.store, monitor)
        if tracker is not None and server_settings.follow_seconds > 0
        else None
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        broadcaster.bind(asyncio.get_running_loop())
        unsubscribe = orchestrator.bus.subscribe(monitor.on_event)
        following: asyncio.Task[None] | None = None
        readying: asyncio.Task[object] | None = None
        unfollow = orchestrator.bus.subscribe(follower.on_event) if follower else None
        try:
            # load the provider (SDK import, client) before serving: /readyz answers once it is
            # ready, and no request's latency includes it
            await orchestrator.prepare()
            if warm_up:
                # both in the background: the server answers at once (a store of millions of
                # rows takes seconds to replay); /api/v1/anomalies waits for the warm-up
                state.hold_live()  # executions from now on are fed after the stored ones
                state.warming = asyncio.create_task(state.warm_up())
                # the first readiness answer is computed now, not on the first probe
                readying = asyncio.create_task(state.readiness())
            if follower is not None:
                following = asyncio.create_task(follower.run(server_settings.follow_seconds))
            yield
        finally:
            for task in (readying, state.warming):
                if task is not None and not task.done():
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task
            if following is not None:
                following.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await following
            if unfollow is not None:
                unfollow()
            unsubscribe()
            broadcaster.close()
            if owned:
                await orchestrator.close()

    app = FastAPI(
        title="claude-force",
        version=__version__,
        summary="Run Claude agents and workflows; analytics, health, metrics, live dashboard.",
        lifespan=lifespan,
        docs_url=None,  # served by routes_dash with local assets (the CSP blocks any CDN)
        redoc_url=None,
    )
    app.state.claude_force = state
    app.state.claude_force_follower = follower
    app.include_router(routes_ops.router)
    app.include_router(routes_api.router)
    app.include_router(routes_dash.router)
    swagger = routes_dash.swagger_dir()
    if swagger is not None:
        app.mount("/static/swagger", StaticFiles(directory=swagger), name="swagger")
    app.mount("/static", StaticFiles(directory=routes_ops.STATIC_DIR), name="static")

    @app.exception_handler(ClaudeForceError)
    async def on_error(request: Request, exc: ClaudeForceError) -> JSONResponse:
        redact = state.redact_paths
        message, hint = redact(exc.message), None if exc.hint is None else redact(exc.hint)
        body = ErrorResponse(error=ErrorDetail(type=type(exc).__name__, message=message, hint=hint))
        headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, AuthError) else None
        return JSONResponse(body.model_dump(), status_code=status_of_error(exc), headers=headers)

    @app.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        """FastAPI's own answer echoes every invalid input whole (a 100 MB body came back as a
        104 MB answer): here each problem says where and what, and shows no input."""
        return JSONResponse({"detail": validation_details(exc.errors())}, status_code=422)

    app.add_middleware(
        RequestGuard,
        state=state,
        throttle=AuthThrottle(
            server_settings.auth_failures_before_backoff,
            server_settings.auth_backoff_max_seconds,
            monotonic.now,
        ),
    )
    app.add_middleware(SecurityHeaders)
    app.add_middleware(RequestIds)
    app.add_middleware(
        TrustedHostMiddleware,
        allowed_hosts=list(allowed_hosts)
        if allowed_hosts is not None
        else trusted_hosts(server_settings, host),
    )
    return app
