"""The HTTP server: JSON API, health endpoints, Prometheus ``/metrics``, live dashboard (SSE).

``create_app(project_or_orchestrator)`` builds the FastAPI application; ``claude-force serve``
runs it with uvicorn. FastAPI and uvicorn come with the ``server`` extra
(``pip install 'claude-force[server]'``). Names load lazily: the config schema imports
:mod:`.settings` from here, which must not import FastAPI.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import create_app
    from .settings import ServerSettings

_EXPORTS: dict[str, str] = {"create_app": ".app", "ServerSettings": ".settings"}

__all__ = ["ServerSettings", "create_app"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'claude_force.server' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
