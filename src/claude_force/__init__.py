"""claude-force: run specialised Claude agents and workflows of agents — concurrently, cheaply,
safely and measurably.

Public names are imported lazily so that ``claude-force --help`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:
    from .async_orchestrator import AsyncAgentOrchestrator, AsyncAgentResult
    from .base import AgentResult, WorkflowResult
    from .config import Project, load_project
    from .errors import (
        CircuitOpenError,
        ClaudeForceError,
        ConfigurationError,
        ProviderError,
        WorkflowCycleError,
    )
    from .messages import MessageRequest, MessageResponse, Usage
    from .orchestrator import AgentOrchestrator
    from .providers import Provider, SimulatedProvider
    from .runner import Execution, RunOptions

_EXPORTS: dict[str, str] = {
    "AgentOrchestrator": ".orchestrator",
    "AsyncAgentOrchestrator": ".async_orchestrator",
    "AsyncAgentResult": ".async_orchestrator",
    "AgentResult": ".base",
    "WorkflowResult": ".base",
    "Project": ".config",
    "load_project": ".config",
    "ClaudeForceError": ".errors",
    "ConfigurationError": ".errors",
    "ProviderError": ".errors",
    "CircuitOpenError": ".errors",
    "WorkflowCycleError": ".errors",
    "MessageRequest": ".messages",
    "MessageResponse": ".messages",
    "Usage": ".messages",
    "Provider": ".providers",
    "SimulatedProvider": ".providers",
    "Execution": ".runner",
    "RunOptions": ".runner",
}

__all__ = [
    "AgentOrchestrator",
    "AgentResult",
    "AsyncAgentOrchestrator",
    "AsyncAgentResult",
    "CircuitOpenError",
    "ClaudeForceError",
    "ConfigurationError",
    "Execution",
    "MessageRequest",
    "MessageResponse",
    "Project",
    "Provider",
    "ProviderError",
    "RunOptions",
    "SimulatedProvider",
    "Usage",
    "WorkflowCycleError",
    "WorkflowResult",
    "__version__",
    "load_project",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'claude_force' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
