"""Model routing: judge a task's complexity, pick a model from the catalog, estimate its cost.

Pure policy objects (no I/O). :class:`~claude_force.hybrid_orchestrator.HybridOrchestrator`,
``claude-force execute --auto-model``, ``claude-force route`` and batch mode drive them.
"""

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
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

# Imported lazily: loading claude.json imports this package's settings module, and must not
# import every policy and wrapper with it (read-only commands start fast).
_EXPORTS: dict[str, str] = {
    "COMPLEXITIES": ".classifier",
    "AgentProfile": ".classifier",
    "Classification": ".classifier",
    "Complexity": ".classifier",
    "ComplexityClassifier": ".classifier",
    "Signal": ".classifier",
    "parse_complexity": ".classifier",
    "CostEstimate": ".estimate",
    "CostEstimator": ".estimate",
    "ModelRouter": ".router",
    "RouteDecision": ".router",
    "ClassifierSettings": ".settings",
    "RoutingSettings": ".settings",
}

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

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, __all__)
