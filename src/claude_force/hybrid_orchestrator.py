"""The 2.2 import path of ``HybridOrchestrator``, model routing for cost; the face lives in :mod:`claude_force.compat`."""

from .compat.hybrid_orchestrator import (
    AsyncHybridOrchestrator,
    CostEstimate,
    HybridOrchestrator,
    ModelPricing,
    RoutedExecution,
    get_hybrid_orchestrator,
)

__all__ = [
    "AsyncHybridOrchestrator",
    "CostEstimate",
    "HybridOrchestrator",
    "ModelPricing",
    "RoutedExecution",
    "get_hybrid_orchestrator",
]
