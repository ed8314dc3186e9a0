"""Model routing: judge a task's complexity, pick a model from the catalog, estimate its cost.

Pure policy objects (no I/O). :class:`~claude_force.hybrid_orchestrator.HybridOrchestrator`,
``claude-force execute --auto-model``, ``claude-force route`` and batch mode drive them.
"""

from .classifier import (
    COMPLEXITIES,
    AgentProfile,
    Classification,
    Complexity,
    ComplexityClassifier,
    Signal,
    parse_complexity,
)
from .estimate import CostEstimate, CostEstimator
from .router import ModelRouter, RouteDecision
from .settings import ClassifierSettings, RoutingSettings

__all__ = [
    "COMPLEXITIES",
    "AgentProfile",
    "Classification",
    "ClassifierSettings",
    "Complexity",
    "ComplexityClassifier",
    "CostEstimate",
    "CostEstimator",
    "ModelRouter",
    "RouteDecision",
    "RoutingSettings",
    "Signal",
    "parse_complexity",
]
