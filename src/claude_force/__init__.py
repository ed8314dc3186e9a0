"""claude-force: run specialised Claude agents and workflows of agents — concurrently, cheaply,
safely and measurably.

Public names are imported lazily so that ``claude-force --help`` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._lazy import lazy_exports
from ._version import __version__

if TYPE_CHECKING:
    from .async_orchestrator import AsyncAgentOrchestrator, AsyncAgentResult
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
    from .results import AgentResult, WorkflowResult
    from .runner import Execution, RunOptions

_EXPORTS: dict[str, str] = {
    "AgentOrchestrator": ".orchestrator",
    "AsyncAgentOrchestrator": ".async_orchestrator",
    "AsyncAgentResult": ".async_orchestrator",
    "AgentResult": ".results",
    "WorkflowResult": ".results",
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


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, __all__)
