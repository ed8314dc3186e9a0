"""The 2.2 import path of the result types and protocols (``AgentResult``, ``WorkflowResult``,
``BaseOrchestrator``, ``CacheProtocol``, ``TrackerProtocol``); they live in
:mod:`claude_force.results` and :mod:`claude_force.compat.base`."""

from .compat.base import BaseOrchestrator, CacheProtocol, TrackerProtocol
from .results import AgentResult, WorkflowResult

__all__ = ["AgentResult", "BaseOrchestrator", "CacheProtocol", "TrackerProtocol", "WorkflowResult"]
