"""``HybridOrchestrator``: model routing for cost (the claude-force 2.2 API, on the new engine).

There is no second engine. :class:`AsyncHybridOrchestrator` is the async core with one change:
before a run whose options name no model, it asks the :class:`~claude_force.routing.ModelRouter`
which model to use (explicit > pinned > routed by complexity; then the cost threshold) and passes
that model down. That covers single runs, ``run_many`` and every workflow step. The result's
metadata records the choice under ``routing`` (model, source, complexity, score, reasons,
estimate), plus ``complexity``, ``complexity_reasons`` and ``estimate`` at the top level.

A run refused by the cost threshold is a failed result (``success=False``, ``error_type``
``BudgetExceededError``); nothing is sent. See docs/cost.md.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from .async_orchestrator import AsyncAgentOrchestrator
from .base import AgentResult
from .catalog import ModelCatalog, builtin_catalog
from .config import Project
from .errors import BudgetExceededError, ClaudeForceError
from .events import EventBus
from .hybrid_compat import MODEL_STRATEGY, DetachedRouting, complexity_word, tier_models
from .inputs import check_run
from .orchestrator import AgentOrchestrator
from .providers.base import Provider
from .routing import (
    AgentProfile,
    Classification,
    Complexity,
    CostEstimate,
    ModelRouter,
    RouteDecision,
    parse_complexity,
)
from .routing.settings import OverBudget
from .runner import Execution, RunOptions, finished_event

__all__ = [
    "AsyncHybridOrchestrator",
    "CostEstimate",
    "HybridOrchestrator",
    "ModelPricing",
    "RoutedExecution",
    "get_hybrid_orchestrator",
]


# --- results ---------------------------------------------------------------------------------------


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


# --- 2.2 pricing view ------------------------------------------------------------------------------


def _rate(catalog: ModelCatalog, tier: Complexity, kind: str, on: date | None = None) -> float:
    entry = catalog.prices.price_for(catalog.for_complexity(tier), on or datetime.now(UTC).date())
    return float(getattr(entry.rates, kind)) if entry is not None else float("nan")


@dataclass
class ModelPricing:
    """USD per million tokens of the three routing tiers (2.2 field names).

    2.2 hard-coded the prices of models that are now retired; these come from the catalog's
    price table (``haiku`` = the *simple* tier's model, ``sonnet`` = *normal*, ``opus`` =
    *critical*), as in force today.
    """

    haiku_input: float = field(default_factory=lambda: _rate(builtin_catalog(), "simple", "input"))
    haiku_output: float = field(
        default_factory=lambda: _rate(builtin_catalog(), "simple", "output")
    )
    sonnet_input: float = field(default_factory=lambda: _rate(builtin_catalog(), "normal", "input"))
    sonnet_output: float = field(
        default_factory=lambda: _rate(builtin_catalog(), "normal", "output")
    )
    opus_input: float = field(default_factory=lambda: _rate(builtin_catalog(), "critical", "input"))
    opus_output: float = field(
        default_factory=lambda: _rate(builtin_catalog(), "critical", "output")
    )

    @classmethod
    def from_catalog(cls, catalog: ModelCatalog, on: date | None = None) -> ModelPricing:
        return cls(
            *(
                _rate(catalog, tier, kind, on)
                for tier in ("simple", "normal", "critical")
                for kind in ("input", "output")
            )
        )


# --- the async core with routing -------------------------------------------------------------------


class AsyncHybridOrchestrator(AsyncAgentOrchestrator):
    """The async core that chooses the model of each run whose options name none."""

    def __init__(
        self,
        *args: Any,
        auto_select_model: bool = True,
        prefer_cheaper: bool | None = None,
        cost_threshold: float | Decimal | None = None,
        over_budget: OverBudget | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.auto_select_model = auto_select_model
        self._prefer_cheaper = prefer_cheaper
        self._cost_threshold = cost_threshold
        self._over_budget = over_budget
        self._router: ModelRouter | None = None

    def configure_routing(
        self,
        *,
        auto_select_model: bool | None = None,
        prefer_cheaper: bool | None = None,
        cost_threshold: float | Decimal | None = None,
        over_budget: OverBudget | None = None,
    ) -> None:
        """Change routing options (``None`` keeps the current value)."""
        if auto_select_model is not None:
            self.auto_select_model = auto_select_model
        if prefer_cheaper is not None:
            self._prefer_cheaper = prefer_cheaper
        if cost_threshold is not None:
            self._cost_threshold = cost_threshold
        if over_budget is not None:
            self._over_budget = over_budget
        self._router = None

    def clear_cost_threshold(self) -> None:
        self._cost_threshold = None
        self._router = None

    @property
    def router(self) -> ModelRouter:
        if self._router is None:
            router = ModelRouter.from_project(
                self.project,
                prefer_cheaper=self._prefer_cheaper,
                cost_threshold=self._cost_threshold,
                over_budget=self._over_budget,
            )
            self._router = router
        return self._router

    def profile(self, agent_name: str) -> AgentProfile:
        spec = self.project.settings.agents.get(agent_name)
        if spec is None:
            return AgentProfile(agent_name)
        return AgentProfile(agent_name, tuple(spec.domains), spec.priority)

    async def route(
        self,
        agent_name: str,
        task: str,
        *,
        model: str | None = None,
        max_tokens: int = 4096,
        complexity: Complexity | None = None,
        auto: bool | None = None,
        batch: bool = False,
        budget: bool = True,
    ) -> RouteDecision:
        """The routing decision for one run (reads the agent's system prompt off the loop).

        Raises :class:`~claude_force.errors.BudgetExceededError` when the cost threshold refuses
        it (``budget=False`` ignores the threshold), or the configuration error of an unknown agent.
        """
        system = await self.load_agent_definition(agent_name)
        router = self.router if budget else replace(self.router, cost_threshold=None)
        return router.route(
            self.profile(agent_name),
            task,
            system=system,
            max_tokens=max_tokens,
            explicit_model=model,
            complexity=complexity,
            auto=self.auto_select_model if auto is None else auto,
            batch=batch,
        )

    async def execute(
        self, agent_name: str, task: str, options: RunOptions | None = None
    ) -> Execution:
        return await self.execute_routed(agent_name, task, options)

    async def execute_routed(
        self,
        agent_name: str,
        task: str,
        options: RunOptions | None = None,
        *,
        auto: bool | None = None,
        complexity: Complexity | None = None,
    ) -> Execution:
        """Route, then run with the chosen model; a refused run is a failed result."""
        opts = options or RunOptions()
        try:
            decision = await self.route(
                agent_name,
                task,
                model=opts.model,
                max_tokens=opts.max_tokens,
                complexity=complexity,
                auto=auto,
            )
        except BudgetExceededError as exc:
            return self._refused(agent_name, task, opts, exc)
        except ClaudeForceError:
            # an unknown agent or a retired model: the core reports it as a failed result
            return await super().execute(agent_name, task, opts)
        ex = await super().execute(agent_name, task, replace(opts, model=decision.model))
        if self.metrics is not None:  # the dashboard's execution view shows why this model
            self.metrics.add_note(
                ex.execution_id, ex.started_at, {"routing": decision.to_metadata()}
            )
        return RoutedExecution.of(ex, decision)

    def _refused(
        self, agent: str, task: str, opts: RunOptions, exc: BudgetExceededError
    ) -> Execution:
        ex = self._failed_execution(
            agent,
            task,
            opts,
            exc,
            str(exc),
        )
        self.bus.emit(finished_event(ex))  # the metrics tracker records the refusal
        return ex


# --- the 2.2 face ------------------------------------------------------------------------------------


class HybridOrchestrator(AgentOrchestrator):
    """Run agents with automatic model selection (simple → cheap, critical → capable).

    ``prefer_cheaper=False`` never routes a task below the normal model; ``cost_threshold`` (USD
    per run, estimated) steps a routed choice down to a cheaper tier, or refuses the run (a failed
    result) when nothing fits or the model was pinned or named. Without a ``cost_threshold`` the
    project's ``routing.cost_threshold_usd`` applies.
    """

    core_class = AsyncHybridOrchestrator

    #: 2.2's agent classification, kept for code that reads it (routing does not use it)
    MODEL_STRATEGY: dict[str, list[str]] = MODEL_STRATEGY

    def __init__(
        self,
        config_path: str | os.PathLike[str] = ".claude/claude.json",
        anthropic_api_key: str | None = None,
        auto_select_model: bool = True,
        prefer_cheaper: bool = True,
        cost_threshold: float | None = None,
        *,
        enable_tracking: bool = True,
        enable_memory: bool = True,
        validate_api_key: bool = False,
        simulate: bool | None = None,
        provider: Provider | None = None,
        project: Project | None = None,
        max_concurrent: int | None = None,
        bus: EventBus | None = None,
        over_budget: OverBudget | None = None,
    ) -> None:
        super().__init__(
            config_path,
            anthropic_api_key,
            enable_tracking,
            enable_memory,
            validate_api_key,
            simulate=simulate,
            provider=provider,
            project=project,
            max_concurrent=max_concurrent,
            bus=bus,
        )
        self._detached: DetachedRouting | None = None
        if "core" not in self.__dict__:
            # AgentOrchestrator.__init__ did not run (2.2 suites patch it out): choosing and
            # estimating still work, from the package's catalog; running needs the engine.
            self._detached = DetachedRouting(
                auto_select_model, prefer_cheaper, cost_threshold, over_budget
            )
            self.pricing = ModelPricing.from_catalog(self._detached.catalog)
            return
        self.hybrid.configure_routing(
            auto_select_model=auto_select_model,
            prefer_cheaper=prefer_cheaper,
            cost_threshold=cost_threshold,
            over_budget=over_budget,
        )
        self.pricing = ModelPricing.from_catalog(self.project.catalog)

    @property
    def hybrid(self) -> AsyncHybridOrchestrator:
        if self._detached is not None:
            raise RuntimeError(
                "this HybridOrchestrator has no engine: AgentOrchestrator.__init__ did not run "
                "(patched out?), so it can choose models and estimate costs but not run agents"
            )
        core = self.core
        assert isinstance(core, AsyncHybridOrchestrator)
        return core

    # 2.2 attributes, kept in step with the core's router
    @property
    def auto_select_model(self) -> bool:
        if self._detached is not None:
            return self._detached.auto_select_model
        return self.hybrid.auto_select_model

    @auto_select_model.setter
    def auto_select_model(self, value: bool) -> None:
        if self._detached is not None:
            self._detached.auto_select_model = value
            return
        self.hybrid.configure_routing(auto_select_model=value)

    @property
    def prefer_cheaper(self) -> bool:
        if self._detached is not None:
            return self._detached.prefer_cheaper
        return self.hybrid.router.prefer_cheaper

    @prefer_cheaper.setter
    def prefer_cheaper(self, value: bool) -> None:
        if self._detached is not None:
            self._detached.prefer_cheaper = value
            return
        self.hybrid.configure_routing(prefer_cheaper=value)

    @property
    def cost_threshold(self) -> float | None:
        if self._detached is not None:
            return self._detached.cost_threshold
        t = self.hybrid.router.cost_threshold
        return None if t is None else float(t)

    @cost_threshold.setter
    def cost_threshold(self, value: float | None) -> None:
        if self._detached is not None:
            self._detached.cost_threshold = value
            return
        if value is None:
            self.hybrid.clear_cost_threshold()
        else:
            self.hybrid.configure_routing(cost_threshold=value)

    # --- choosing ---------------------------------------------------------------------------------

    def route(
        self,
        agent_name: str,
        task: str,
        *,
        model: str | None = None,
        max_tokens: int = 4096,
        task_complexity: str = "auto",
        budget: bool = True,
    ) -> RouteDecision:
        """The full routing decision (model, source, complexity, reasons, estimate)."""
        if self._detached is not None:  # no project: the catalog's tiers, no system prompt
            return self._detached.router(budget=budget).route(
                AgentProfile(agent_name),
                task,
                max_tokens=max_tokens,
                explicit_model=model,
                complexity=parse_complexity(task_complexity),
            )
        return self._loop.run(
            self.hybrid.route(
                agent_name,
                task,
                model=model,
                max_tokens=max_tokens,
                complexity=parse_complexity(task_complexity),
                auto=True,
                budget=budget,
            )
        )

    def classify_task(self, agent_name: str, task: str) -> Classification:
        """The complexity of ``task`` for ``agent_name``, with the reasons."""
        if self._detached is not None:
            return self._detached.router().classify(task, AgentProfile(agent_name))
        return self.hybrid.router.classify(task, self.hybrid.profile(agent_name))

    def analyze_task_complexity(self, task: str, agent_name: str) -> str:
        """2.2's complexity words for ``task``: ``simple``, ``complex`` or ``critical``."""
        return complexity_word(self.classify_task(agent_name, task).complexity)

    _analyze_task_complexity = analyze_task_complexity  # 2.2's private name

    @property
    def MODELS(self) -> dict[str, str]:  # 2.2's name
        """2.2's ``{"haiku", "sonnet", "opus"}`` → today's models of the three routing tiers."""
        catalog = self._detached.catalog if self._detached is not None else self.project.catalog
        return tier_models(catalog)

    def select_model_for_agent(
        self, agent_name: str, task: str, task_complexity: str = "auto"
    ) -> str:
        """The model id for the agent and task (``task_complexity``: auto, simple, normal —
        2.2's ``complex`` — or critical). A pinned model always wins."""
        return self.route(agent_name, task, task_complexity=task_complexity).model

    def estimate_cost(self, task: str, agent_name: str, model: str | None = None) -> CostEstimate:
        """An estimate (labelled as one) for ``model``, or for the model routing would choose.

        The cost threshold is not applied here: this answers "what would it cost".
        """
        return self.route(agent_name, task, model=model, budget=False).estimate

    def close(self) -> None:
        if self._detached is None:
            super().close()

    # --- running ----------------------------------------------------------------------------------

    def run_agent(  # type: ignore[override]
        self,
        agent_name: str,
        task: str,
        model: str | None = None,
        max_tokens: int = 4096,
        temperature: float | None = None,
        auto_select: bool | None = None,
        estimate_only: bool = False,
        workflow_name: str | None = None,
        workflow_position: int | None = None,
        task_complexity: str = "auto",
        **_: Any,
    ) -> AgentResult:
        """Run one agent on the model routing chooses (unless ``model`` is given).

        ``auto_select`` overrides ``auto_select_model`` for this call; ``estimate_only`` returns
        the estimate without running (``output`` "Cost estimate only", as in 2.2).
        """
        check_run(agent_name, task)
        self.hybrid  # noqa: B018 - a face without an engine says so (RuntimeError)
        return self._loop.run(
            self.arun_routed(
                agent_name,
                task,
                model=model,
                max_tokens=max_tokens,
                temperature=temperature,
                auto_select=auto_select,
                estimate_only=estimate_only,
                workflow_name=workflow_name,
                workflow_position=workflow_position,
                task_complexity=task_complexity,
            )
        )

    async def arun_routed(
        self,
        agent_name: str,
        task: str,
        *,
        model: str | None = None,
        max_tokens: int = 4096,
        temperature: float | None = None,
        auto_select: bool | None = None,
        estimate_only: bool = False,
        workflow_name: str | None = None,
        workflow_position: int | None = None,
        task_complexity: str = "auto",
    ) -> AgentResult:
        check_run(agent_name, task)
        try:
            complexity = parse_complexity(task_complexity)
        except ValueError as exc:
            return AgentResult(False, "", [str(exc)], {"error_type": "ValueError"}, agent_name)
        if estimate_only:
            return await self._estimate_only(agent_name, task, model, max_tokens, complexity)
        opts = RunOptions(
            model=model,
            max_tokens=max_tokens,
            temperature=temperature,
            workflow_name=workflow_name,
            workflow_position=workflow_position,
        )
        ex = await self.hybrid.execute_routed(
            agent_name, task, opts, auto=auto_select, complexity=complexity
        )
        return ex.to_agent_result()

    async def _estimate_only(
        self,
        agent_name: str,
        task: str,
        model: str | None,
        max_tokens: int,
        complexity: Complexity | None,
    ) -> AgentResult:
        try:
            d = await self.hybrid.route(
                agent_name, task, model=model, max_tokens=max_tokens, complexity=complexity
            )
        except ClaudeForceError as exc:
            meta: dict[str, Any] = {"error_type": type(exc).__name__, "estimate_only": True}
            return AgentResult(False, "", [str(exc)], meta, agent_name)
        metadata = {
            "estimate": d.estimate.to_dict(),
            "model": d.model,
            "estimate_only": True,
            "complexity": d.complexity,
            "complexity_reasons": d.reasons,
            "routing": d.to_metadata(),
        }
        return AgentResult(True, "Cost estimate only", [], metadata, agent_name)


def get_hybrid_orchestrator(
    config_path: str | os.PathLike[str] = ".claude/claude.json",
    anthropic_api_key: str | None = None,
    auto_select_model: bool = True,
    prefer_cheaper: bool = True,
    cost_threshold: float | None = None,
    **kwargs: Any,
) -> HybridOrchestrator:
    """A :class:`HybridOrchestrator` (the 2.2 factory)."""
    return HybridOrchestrator(
        config_path=config_path,
        anthropic_api_key=anthropic_api_key,
        auto_select_model=auto_select_model,
        prefer_cheaper=prefer_cheaper,
        cost_threshold=cost_threshold,
        **kwargs,
    )
