"""Operations endpoints: liveness, readiness, Prometheus metrics, and the dashboard page."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Response
from fastapi.responses import FileResponse, JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST

from .._version import __version__
from .schemas import LivenessOut, ReadinessOut
from .state import ServerState, state_of

router = APIRouter()
State = Annotated[ServerState, Depends(state_of)]

STATIC_DIR = Path(str(resources.files("claude_force.server") / "static"))


@router.get("/healthz", response_model=LivenessOut, tags=["operations"])
async def healthz(state: State) -> LivenessOut:
    """Liveness: the process answers. Never probes the provider."""
    uptime = max(0.0, state.clock.now() - state.started_at)
    return LivenessOut(status="ok", version=__version__, uptime_s=round(uptime, 3))


@router.get(
    "/readyz",
    response_model=ReadinessOut,
    tags=["operations"],
    responses={503: {"model": ReadinessOut, "description": "Not ready (see the body)."}},
)
async def readyz(state: State) -> JSONResponse:
    """Readiness: the provider answers (a free ``count_tokens`` probe; the simulated model
    always does), breaker states and rate-limit headroom, and the state directory is writable.
    200 when ready — a *degraded* provider (429/529, a breaker open) still is — else 503."""
    data = await state.readiness()
    body = ReadinessOut.model_validate(data).model_dump(mode="json")
    return JSONResponse(body, status_code=200 if body["ready"] else 503)


@router.get("/metrics", tags=["operations"], response_class=Response)
async def metrics(state: State) -> Response:
    """Prometheus text exposition: executions, tokens, cost, cache, latency, retries, breakers
    (this process, since it started), and the server's anomaly and stream gauges."""
    return Response(state.monitor.exposition(), media_type=CONTENT_TYPE_LATEST)


@router.get("/", include_in_schema=False)
async def dashboard() -> FileResponse:
    """The live dashboard (a static page; it reads ``/api/v1/events``)."""
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html; charset=utf-8")
