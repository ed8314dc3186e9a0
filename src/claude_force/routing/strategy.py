"""Model routing as a strategy the engine is given: which model runs a task whose options name none.

:class:`ModelRouting` holds the routing options (auto-select, prefer cheaper, cost threshold, what
to do over budget) and the :class:`~claude_force.routing.ModelRouter` built from them and the
project, eagerly, so a bad option is reported when it is set. The engine asks it
(:meth:`ModelRouting.decide`) before a run; the 2.2 ``HybridOrchestrator`` faces only configure it.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol, TypedDict, Unpack

from ..runner import Execution
from .classifier import AgentProfile, Complexity
from .router import ModelRouter, RouteDecision
from .settings import OverBudget

if TYPE_CHECKING:
    from ..config import Project


class RouteOptions(TypedDict, total=False):
    """How to route one run: an explicit ``model``, ``max_tokens`` (for the estimate), a forced
    ``complexity``, ``auto`` (route at all; default: the strategy's), ``batch`` (price with the
    batch discount), ``budget`` (apply the cost threshold)."""

    model: str | None
    max_tokens: int
    complexity: Complexity | None
    auto: bool | None
    batch: bool
    budget: bool


@dataclass(frozen=True, slots=True)
class RouteRequest:
    """One run to route: the agent, the task, the system prompt it will send, and the options."""

    agent: str
    task: str
    system: str
    options: RouteOptions


class RoutingStrategy(Protocol):
    """Chooses the model of one run (raises ``BudgetExceededError`` to refuse it)."""

    def decide(self, request: RouteRequest) -> RouteDecision: ...


@dataclass(frozen=True, slots=True)
class RoutedExecution(Execution):
    """An :class:`Execution` that knows why its model was chosen."""

    route: RouteDecision | None = None

    @classmethod
    def of(cls, ex: Execution, route: RouteDecision) -> RoutedExecution:
        values = {f.name: getattr(ex, f.name) for f in fields(Execution)}
        return cls(**values, route=route)

    def metadata(self) -> dict[str, Any]:
        data = Execution.metadata(self)  # (slots dataclasses cannot use zero-argument super())
        if self.route is not None:
            data["routing"] = self.route.to_metadata()
            data["complexity"] = self.route.complexity
            data["complexity_reasons"] = self.route.reasons
            data["estimate"] = self.route.estimate.to_dict()
        return data


class RoutingOptions(TypedDict, total=False):
    """The options of :class:`ModelRouting`: ``auto_select_model`` (route runs that name no
    model; default true), ``prefer_cheaper`` (may route below the normal model), the
    ``cost_threshold`` (USD per run, estimated) and what to do ``over_budget`` — the last three
    default to the project's ``routing`` settings."""

    auto_select_model: bool | None
    prefer_cheaper: bool | None
    cost_threshold: float | Decimal | None
    over_budget: OverBudget | None


class ModelRouting:
    """The routing strategy of a project: explicit > pinned > routed by complexity; then budget."""

    def __init__(self, project: Project, **options: Unpack[RoutingOptions]) -> None:
        self.project = project
        self.auto_select_model = True
        self._options: RoutingOptions = {}
        self.configure(**options)

    def configure(self, **changes: Unpack[RoutingOptions]) -> None:
        """Change routing options (a ``None`` value keeps the current one)."""
        for key, value in changes.items():
            if value is not None:
                self._options[key] = value  # type: ignore[literal-required]
        auto = self._options.pop("auto_select_model", None)
        if auto is not None:
            self.auto_select_model = bool(auto)
        o = self._options
        self.router = ModelRouter.from_project(
            self.project,
            prefer_cheaper=o.get("prefer_cheaper"),
            cost_threshold=o.get("cost_threshold"),
            over_budget=o.get("over_budget"),
        )

    def clear_cost_threshold(self) -> None:
        self._options.pop("cost_threshold", None)
        self.configure()

    def profile(self, agent: str) -> AgentProfile:
        spec = self.project.settings.agents.get(agent)
        if spec is None:
            return AgentProfile(agent)
        return AgentProfile(agent, tuple(spec.domains), spec.priority)

    def decide(self, request: RouteRequest) -> RouteDecision:
        o = request.options
        router = self.router if o.get("budget", True) else replace(self.router, cost_threshold=None)
        auto = o.get("auto")
        return router.route(
            self.profile(request.agent),
            request.task,
            system=request.system,
            max_tokens=o.get("max_tokens", 4096),
            explicit_model=o.get("model"),
            complexity=o.get("complexity"),
            auto=self.auto_select_model if auto is None else auto,
            batch=o.get("batch", False),
        )
