"""The 2.2 import path of ``HybridOrchestrator``, model routing for cost; the face lives in :mod:`claude_force.compat`."""

from .compat.hybrid_orchestrator import *  # noqa: F403 - the face's public names, as in 2.2
from .compat.hybrid_orchestrator import __all__ as __all__
from .compat.orchestrator import AgentOrchestrator as AgentOrchestrator  # 2.2 suites patch it here
