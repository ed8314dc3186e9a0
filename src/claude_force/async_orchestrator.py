"""The 2.2 import path of the async API. The face lives in :mod:`claude_force.compat`; the work
is done by :class:`claude_force.engine.AgentEngine`."""

from .compat.async_orchestrator import AsyncAgentOrchestrator, AsyncAgentResult

__all__ = ["AsyncAgentOrchestrator", "AsyncAgentResult"]
