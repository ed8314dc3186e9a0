"""The 2.2 import path of ``AgentOrchestrator``, the synchronous API; the face lives in :mod:`claude_force.compat`."""

from .compat.orchestrator import AgentOrchestrator
from .results import AgentResult

__all__ = ["AgentOrchestrator", "AgentResult"]
