"""Choose the model for one run: explicit choice > pinned model > complexity routing; then the budget.

Pure (no I/O): the caller passes the agent's system prompt, which the estimate needs.

Order of precedence:

1. a model the caller names (``model=`` / ``--model``) is used as is;
2. a model pinned to the agent (``agents.X.model``, else ``models.agents.X``) always wins over
   routing;
3. with auto-selection on, the classifier's complexity picks ``models.routing[complexity]``;
   ``prefer_cheaper=False`` keeps *simple* tasks on the *normal* model (routing then only ever
   moves a task up, never down);
4. with auto-selection off, the project's default model.

The budget (``cost_threshold``, USD per run, estimated) comes last. A routed choice over budget
steps down the routing tiers (critical → normal → simple) to the first model that fits
(``over_budget="step_down"``, the default); a model the user chose (explicit, pinned, or the
default with auto-selection off) is never changed behind their back, so a run of it over budget
is refused with :class:`~claude_force.errors.BudgetExceededError`, as is a routed run when no
tier fits or when ``over_budget="refuse"``. A model without a price cannot be checked against a
budget and is refused too when a threshold is set.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from ..catalog import ModelCatalog
from ..errors import BudgetExceededError
from ..messages import CacheTTL
from .classifier import (
    COMPLEXITIES,
    AgentProfile,
    Classification,
    Complexity,
    ComplexityClassifier,
    forced,
)
from .estimate import CostEstimate, CostEstimator, _today
from .settings import OverBudget, RoutingSettings

if TYPE_CHECKING:
    from ..config import Project

Source = Literal["explicit", "pinned", "routed", "default"]


@dataclass(frozen=True)
class RouteDecision:
    """The chosen model and why."""

    agent: str
    model: str
    source: Source
    classification: Classification
    estimate: CostEstimate
    notes: tuple[str, ...] = ()
    stepped_down_from: str | None = None
    cost_threshold_usd: Decimal | None = None

    @property
    def complexity(self) -> Complexity:
        return self.classification.complexity

    @property
    def reasons(self) -> list[str]:
        """The classifier's signals, then the router's notes."""
        return [*self.classification.reasons, *self.notes]

    def to_metadata(self) -> dict[str, Any]:
        """What a result's metadata records under ``routing``."""
        return {
            "model": self.model,
            "source": self.source,
            "complexity": self.complexity,
            "score": self.classification.score,
            "reasons": self.reasons,
            "stepped_down_from": self.stepped_down_from,
            "cost_threshold_usd": (
                None if self.cost_threshold_usd is None else float(self.cost_threshold_usd)
            ),
            "estimate": self.estimate.to_dict(),
        }


@dataclass(frozen=True)
class ModelRouter:
    catalog: ModelCatalog
    classifier: ComplexityClassifier = field(default_factory=ComplexityClassifier)
    estimator: CostEstimator | None = None
    pins: Mapping[str, str] = field(default_factory=dict)  # agent → resolved model id
    prefer_cheaper: bool = True
    cost_threshold: Decimal | None = None
    over_budget: OverBudget = "step_down"
    cache_ttl: CacheTTL = "5m"

    def __post_init__(self) -> None:
        if self.estimator is None:
            object.__setattr__(self, "estimator", CostEstimator(self.catalog.prices))
        if self.cost_threshold is not None and self.cost_threshold <= 0:
            raise ValueError(f"cost_threshold must be positive, got {self.cost_threshold}")

    @classmethod
    def from_project(
        cls,
        project: Project,
        *,
        prefer_cheaper: bool | None = None,
        cost_threshold: Decimal | float | None = None,
        over_budget: OverBudget | None = None,
        today: Callable[[], date] | None = None,
    ) -> ModelRouter:
        """The router for ``project``; arguments given win over its ``routing`` section."""
        s: RoutingSettings = project.settings.routing
        pins: dict[str, str] = {}
        for name, spec in project.settings.agents.items():
            pinned = spec.model or project.settings.models.agents.get(name)
            if pinned:
                pins[name] = project.model_for(name)
        for name, model in project.settings.models.agents.items():
            if name not in pins:  # pinned for an agent defined elsewhere (2.2 hooks)
                pins[name] = project.catalog.resolve(
                    model, where=f"models.agents.{name}", file=project.config_path
                )
        threshold = s.cost_threshold_usd if cost_threshold is None else cost_threshold
        return cls(
            catalog=project.catalog,
            classifier=ComplexityClassifier.from_settings(s.classifier),
            estimator=CostEstimator(
                project.catalog.prices, output_ratio=s.output_ratio, today=today or _today
            ),
            pins=pins,
            prefer_cheaper=s.prefer_cheaper if prefer_cheaper is None else prefer_cheaper,
            cost_threshold=None if threshold is None else Decimal(str(threshold)),
            over_budget=over_budget or s.over_budget,
            cache_ttl=project.settings.models.prompt_cache_ttl,
        )

    # --- deciding ------------------------------------------------------------------------------------

    def classify(
        self, task: str, agent: AgentProfile, complexity: Complexity | None = None
    ) -> Classification:
        return (
            forced(complexity) if complexity is not None else self.classifier.classify(task, agent)
        )

    def route(
        self,
        agent: AgentProfile,
        task: str,
        *,
        system: str = "",
        max_tokens: int = 4096,
        explicit_model: str | None = None,
        complexity: Complexity | None = None,
        auto: bool = True,
        batch: bool = False,
    ) -> RouteDecision:
        """The model for ``agent`` on ``task``; raises ``BudgetExceededError`` when refused."""
        cls = self.classify(task, agent, complexity)
        notes: list[str] = []
        source: Source
        if explicit_model:
            model, source = self.catalog.resolve(explicit_model), "explicit"
            notes.append(f"model '{model}' named by the caller")
        elif agent.name in self.pins:
            model, source = self.pins[agent.name], "pinned"
            notes.append(f"model '{model}' pinned to agent '{agent.name}' in claude.json")
        elif auto:
            tier = cls.complexity
            if tier == "simple" and not self.prefer_cheaper:
                tier = "normal"
                notes.append("prefer_cheaper is off: a simple task stays on the normal model")
            model, source = self.catalog.for_complexity(tier), "routed"
            notes.append(f"{tier} → '{model}' (models.routing)")
        else:
            model, source = self.catalog.default, "default"
            notes.append(f"auto-selection off: the default model '{model}'")
        est = self._estimate(model, system, task, max_tokens, batch)
        decision = RouteDecision(
            agent.name, model, source, cls, est, tuple(notes), None, self.cost_threshold
        )
        if self.cost_threshold is None or self._fits(est):
            return decision
        return self._over_budget(decision, system, task, max_tokens, batch)

    def _estimate(
        self, model: str, system: str, task: str, max_tokens: int, batch: bool
    ) -> CostEstimate:
        assert self.estimator is not None
        return self.estimator.estimate(
            model,
            system=system,
            task=task,
            max_tokens=max_tokens,
            batch=batch,
            cache_ttl=self.cache_ttl,
        )

    def _fits(self, est: CostEstimate) -> bool:
        assert self.cost_threshold is not None
        return est.cost_usd is not None and est.cost_usd <= self.cost_threshold

    def _over_budget(
        self, d: RouteDecision, system: str, task: str, max_tokens: int, batch: bool
    ) -> RouteDecision:
        assert self.cost_threshold is not None
        threshold = self.cost_threshold
        if d.source == "routed" and self.over_budget == "step_down":
            start = COMPLEXITIES.index(d.complexity)
            tried = {d.model}
            for tier in reversed(COMPLEXITIES[:start]):  # the next cheaper tiers, in order
                model = self.catalog.for_complexity(tier)
                if model in tried:
                    continue
                tried.add(model)
                est = self._estimate(model, system, task, max_tokens, batch)
                if self._fits(est):
                    note = (
                        f"stepped down from '{d.model}' (estimated {_usd(d.estimate.cost_usd)}) "
                        f"to {tier} tier '{model}' (estimated {_usd(est.cost_usd)}) to stay within "
                        f"cost_threshold ${threshold}"
                    )
                    return RouteDecision(
                        d.agent,
                        model,
                        "routed",
                        d.classification,
                        est,
                        (*d.notes, note),
                        d.model,
                        threshold,
                    )
        if d.estimate.cost_usd is None:
            raise BudgetExceededError(
                f"cannot check cost_threshold ${threshold} for agent '{d.agent}': model "
                f"'{d.model}' has no price in the catalog",
                hint="add its price under claude.json models.prices, or remove the threshold",
            )
        why = {
            "explicit": "the model was named by the caller",
            "pinned": "the model is pinned to the agent",
            "default": "auto-selection is off",
            "routed": (
                "no cheaper routing tier fits"
                if self.over_budget == "step_down"
                else "routing.over_budget is 'refuse'"
            ),
        }[d.source]
        raise BudgetExceededError(
            f"estimated cost {_usd(d.estimate.cost_usd)} of '{d.model}' for agent '{d.agent}' "
            f"exceeds cost_threshold ${threshold} ({why})",
            hint="raise the threshold (routing.cost_threshold_usd / cost_threshold), lower "
            "max_tokens, or choose a cheaper model",
        )


def _usd(value: Decimal | None) -> str:
    return "unknown" if value is None else f"${value:.6f}"
