"""The HTTP server: JSON API, health endpoints, Prometheus ``/metrics``, live dashboard (SSE).

``create_app(project_or_orchestrator)`` builds the FastAPI application; ``claude-force serve``
runs it with uvicorn. FastAPI and uvicorn come with the ``server`` extra
(``pip install 'claude-force[server]'``). Names load lazily: the config schema imports
:mod:`.settings` from here, which must not import FastAPI.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
    from .app import create_app
    from .settings import ServerSettings

_EXPORTS: dict[str, str] = {"create_app": ".app", "ServerSettings": ".settings"}

__all__ = ["ServerSettings", "create_app"]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, __all__)
