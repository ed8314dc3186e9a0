"""The 2.2 names of ``HybridOrchestrator`` that do not need an engine.

2.2 test suites patch ``AgentOrchestrator.__init__`` out and then call ``HybridOrchestrator``'s
choosing methods (``select_model_for_agent``, ``estimate_cost``, ``analyze_task_complexity``) and
read its attributes (``auto_select_model``, ``prefer_cheaper``, ``cost_threshold``, ``pricing``,
``MODEL_STRATEGY``, ``MODELS``). With no engine and no project, those answer from the package's
model catalog (tiers, prices) through a :class:`~claude_force.routing.ModelRouter` built here.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from .catalog import ModelCatalog, builtin_catalog
from .routing import Complexity, ModelRouter
from .routing.settings import OverBudget

#: 2.2's classification of its bundled agents, kept for code that reads it. Routing does not use
#: it: the complexity classifier and the models pinned in claude.json decide (docs/cost.md).
MODEL_STRATEGY: dict[str, list[str]] = {
    "haiku": ["document-writer-expert", "api-documenter", "deployment-integration-expert"],
    "sonnet": [
        "frontend-architect",
        "backend-architect",
        "database-architect",
        "ai-engineer",
        "prompt-engineer",
        "data-engineer",
        "code-reviewer",
        "security-specialist",
        "bug-investigator",
        "claude-code-expert",
        "devops-architect",
        "google-cloud-expert",
        "qc-automation-expert",
        "ui-components-expert",
        "python-expert",
        "frontend-developer",
    ],
    "opus": [],
}

#: 2.2's tier names → the routing complexities whose models stand in for them today.
TIERS: dict[str, Complexity] = {"haiku": "simple", "sonnet": "normal", "opus": "critical"}


def tier_models(catalog: ModelCatalog) -> dict[str, str]:
    """2.2's ``MODELS`` (``haiku``/``sonnet``/``opus``) as today's models of the three tiers."""
    return {name: catalog.for_complexity(c) for name, c in TIERS.items()}


def complexity_word(c: Complexity) -> str:
    """A routing complexity in 2.2's words: ``simple``, ``complex`` (our *normal*), ``critical``."""
    return "complex" if c == "normal" else c


@dataclass
class DetachedRouting:
    """Routing options of a ``HybridOrchestrator`` whose engine was never created."""

    auto_select_model: bool = True
    prefer_cheaper: bool = True
    cost_threshold: float | None = None
    over_budget: OverBudget | None = None

    @property
    def catalog(self) -> ModelCatalog:
        return builtin_catalog()

    def router(self, *, budget: bool = True) -> ModelRouter:
        threshold = self.cost_threshold if budget else None
        return ModelRouter(
            catalog=self.catalog,
            prefer_cheaper=self.prefer_cheaper,
            cost_threshold=None if threshold is None else Decimal(str(threshold)),
            over_budget=self.over_budget or "step_down",
        )
