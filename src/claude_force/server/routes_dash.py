"""``/api/v1/dashboard``: the dashboard's data, from the project's metrics store; and ``/docs``,
the API's Swagger UI with its assets served by this server (the content-security policy allows
nothing from elsewhere)."""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Query
from fastapi.responses import FileResponse, HTMLResponse

from . import dashboard
from .state import ServerState, UnknownExecutionError, state_of

if TYPE_CHECKING:
    from ..metrics.backend import MetricsStore
    from ..metrics.tracker import MetricsTracker

T = TypeVar("T")
router = APIRouter()
State = Annotated[ServerState, Depends(state_of)]
RangeParam = Annotated[str, Query(description="15m, 1h, 24h, 7d or 30d.")]

STATIC_DIR = Path(str(resources.files("claude_force.server") / "static"))


def swagger_dir() -> Path | None:
    """Swagger UI's files, from the ``fastapi-offline`` package (``claude-force[server]``)."""
    try:
        import fastapi_offline  # type: ignore[import-untyped]
    except ImportError:
        return None
    folder = Path(fastapi_offline.__file__).parent / "static"
    return folder if (folder / "swagger-ui-bundle.js").is_file() else None


async def _read(state: ServerState, question: Callable[[MetricsStore], T]) -> T:
    """Answer from the store off the event loop (after this process's pending writes)."""

    def ask(tracker: MetricsTracker) -> T:
        tracker.flush(timeout=5.0)
        return question(tracker.store)

    return await state.ask_metrics(ask)


def _now_us(state: ServerState) -> int:
    return int(state.clock.now() * 1_000_000)


@router.get("/api/v1/dashboard/overview", tags=["dashboard"])
async def overview(state: State, range: RangeParam = "1h") -> dict[str, Any]:
    """Totals, one point per bucket (executions, errors, p50/p95 latency, cost, cache hits,
    savings, queue wait) and cost by agent and by model — for every process writing to the
    project's store."""
    now = _now_us(state)
    data = await _read(state, lambda s: dashboard.overview(s, range, now))
    data["refresh_s"] = state.settings.dashboard_refresh_seconds
    return data


@router.get("/api/v1/dashboard/executions", tags=["dashboard"])
async def executions(
    state: State,
    range: RangeParam = "1h",
    limit: Annotated[int, Query(ge=1, le=dashboard.MAX_ROWS)] = 50,
    agent: str | None = None,
    model: str | None = None,
    failed_only: bool = False,
) -> dict[str, Any]:
    """The newest executions of the range, newest first (final attempts)."""
    now = _now_us(state)
    return await _read(
        state,
        lambda s: dashboard.executions(
            s, range, now, limit=limit, agent=agent, model=model, failed_only=failed_only
        ),
    )


@router.get("/api/v1/dashboard/executions/{execution_id}", tags=["dashboard"])
async def execution(state: State, execution_id: str) -> dict[str, Any]:
    """One execution: timings (queue wait, service time), attempts and retry events, tokens,
    cost, cache and routing; its task and answer only when ``metrics.keep_text`` is on."""
    found = await _read(state, lambda s: dashboard.execution_detail(s, execution_id))
    if found is None:
        raise UnknownExecutionError(
            f"no stored execution '{execution_id[:64]}'",
            hint="it may have been rolled up into daily rows (metrics.raw_retention_days)",
        )
    return found


@router.get("/docs", include_in_schema=False, response_model=None)
async def docs() -> FileResponse | HTMLResponse:
    """Swagger UI for ``/openapi.json``, every file served from here."""
    if swagger_dir() is None:
        return HTMLResponse(
            "<!doctype html><title>claude-force API</title><p>Swagger UI needs the "
            "<code>fastapi-offline</code> package: <code>pip install 'claude-force[server]'"
            "</code>. The API description is at <a href='/openapi.json'>/openapi.json</a>.",
            status_code=503,
        )
    return FileResponse(STATIC_DIR / "docs.html", media_type="text/html; charset=utf-8")
