"""``claude_force.hybrid_orchestrator`` as a claude-force 2.2 user calls it (simulated model)."""

from __future__ import annotations

import inspect
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from claude_force.events import ExecutionFinished
from claude_force.hybrid_orchestrator import (
    AsyncHybridOrchestrator,
    CostEstimate,
    HybridOrchestrator,
    ModelPricing,
    RoutedExecution,
    get_hybrid_orchestrator,
)
from claude_force.orchestrator import AgentOrchestrator
from claude_force.providers.simulated import SimulatedProvider
from claude_force.runner import RunOptions

HAIKU, SONNET, OPUS = "claude-haiku-5-5", "claude-sonnet-5-5", "claude-opus-5-5"
SIMPLE_TASK = "Fix typo in README"
CRITICAL_TASK = (
    "Audit the authentication flow for security vulnerabilities before the production release"
)


@pytest.fixture
def hybrid(in_project: Path) -> Iterator[HybridOrchestrator]:
    h = HybridOrchestrator(
        provider=SimulatedProvider(latency="instant"), enable_tracking=False, enable_memory=False
    )
    yield h
    h.close()


def test_signature_is_the_2_2_one() -> None:
    params = list(inspect.signature(HybridOrchestrator.__init__).parameters)
    assert params[:6] == [
        "self",
        "config_path",
        "anthropic_api_key",
        "auto_select_model",
        "prefer_cheaper",
        "cost_threshold",
    ]
    assert issubclass(HybridOrchestrator, AgentOrchestrator)
    run = inspect.signature(HybridOrchestrator.run_agent).parameters
    assert {"auto_select", "estimate_only", "model", "max_tokens"} <= set(run)
    assert list(inspect.signature(HybridOrchestrator.estimate_cost).parameters)[1:] == [
        "task",
        "agent_name",
        "model",
    ]


def test_select_model_for_agent(hybrid: HybridOrchestrator) -> None:
    assert hybrid.select_model_for_agent("document-writer", SIMPLE_TASK) == HAIKU
    assert hybrid.select_model_for_agent("code-reviewer", "Review this function") == SONNET
    assert hybrid.select_model_for_agent("security-specialist", CRITICAL_TASK) == OPUS
    assert hybrid.select_model_for_agent("document-writer", SIMPLE_TASK, "critical") == OPUS
    assert hybrid.select_model_for_agent("document-writer", SIMPLE_TASK, "complex") == SONNET
    with pytest.raises(ValueError, match="unknown complexity"):
        hybrid.select_model_for_agent("document-writer", SIMPLE_TASK, "enormous")


def test_estimate_cost_has_the_2_2_fields(hybrid: HybridOrchestrator) -> None:
    est = hybrid.estimate_cost(CRITICAL_TASK, "security-specialist")
    assert isinstance(est, CostEstimate)
    assert est.model == OPUS
    assert est.estimated_input_tokens > 100 and est.estimated_output_tokens == 1024
    assert est.estimated_cost == pytest.approx(
        est.breakdown["input_cost"] + est.breakdown["output_cost"]
    )
    assert est.estimated is True and "estimate" in est.basis
    assert set(est.__dict__) >= {"model", "estimated_cost", "breakdown"}  # 2.2 used __dict__
    cheaper = hybrid.estimate_cost(CRITICAL_TASK, "security-specialist", model="haiku")
    assert cheaper.model == HAIKU and cheaper.estimated_cost < est.estimated_cost  # type: ignore[operator]


def test_run_agent_records_the_choice_in_metadata(hybrid: HybridOrchestrator) -> None:
    result = hybrid.run_agent("document-writer", SIMPLE_TASK)
    assert result.success, result.errors
    meta = result.metadata
    assert meta["model"] == HAIKU
    assert meta["complexity"] == "simple"
    assert any("typo" in r for r in meta["complexity_reasons"])
    assert meta["routing"]["source"] == "routed"
    assert meta["estimate"]["model"] == HAIKU and meta["estimate"]["estimated"] is True
    assert meta["simulated"] is True and meta["cost_usd"] > 0


def test_explicit_model_and_auto_select_off(hybrid: HybridOrchestrator) -> None:
    r = hybrid.run_agent("document-writer", SIMPLE_TASK, model="opus")
    assert r.metadata["model"] == OPUS and r.metadata["routing"]["source"] == "explicit"
    r = hybrid.run_agent("document-writer", SIMPLE_TASK, auto_select=False)
    assert r.metadata["model"] == SONNET and r.metadata["routing"]["source"] == "default"
    hybrid.auto_select_model = False
    assert hybrid.auto_select_model is False
    assert hybrid.run_agent("security-specialist", CRITICAL_TASK).metadata["model"] == SONNET
    r = hybrid.run_agent("document-writer", SIMPLE_TASK, auto_select=True)
    assert r.metadata["model"] == HAIKU


def test_estimate_only_does_not_run(hybrid: HybridOrchestrator) -> None:
    provider = hybrid.core.engine.provider.chosen
    assert isinstance(provider, SimulatedProvider)
    r = hybrid.run_agent("security-specialist", CRITICAL_TASK, estimate_only=True)
    assert r.success and r.output == "Cost estimate only"
    assert r.metadata["model"] == OPUS and r.metadata["estimate"]["model"] == OPUS
    assert r.metadata["estimate_only"] is True
    assert provider.calls == 0


def test_cost_threshold_steps_down_or_refuses(hybrid: HybridOrchestrator) -> None:
    opus = hybrid.estimate_cost(CRITICAL_TASK, "security-specialist").estimated_cost
    haiku = hybrid.estimate_cost(CRITICAL_TASK, "security-specialist", "haiku").estimated_cost
    assert opus is not None and haiku is not None
    hybrid.cost_threshold = haiku * 2  # only the simple tier fits
    assert hybrid.cost_threshold == haiku * 2
    r = hybrid.run_agent("security-specialist", CRITICAL_TASK)
    assert r.success and r.metadata["model"] == HAIKU
    assert r.metadata["routing"]["stepped_down_from"] == OPUS
    hybrid.cost_threshold = haiku / 2  # nothing fits: a failed result, nothing sent
    r = hybrid.run_agent("security-specialist", CRITICAL_TASK)
    assert not r.success and r.metadata["error_type"] == "BudgetExceededError"
    assert "exceeds cost_threshold" in r.errors[0]
    r = hybrid.run_agent("security-specialist", CRITICAL_TASK, estimate_only=True)
    assert not r.success and r.metadata["error_type"] == "BudgetExceededError"
    # estimate_cost answers "what would it cost", whatever the threshold
    assert hybrid.estimate_cost(CRITICAL_TASK, "security-specialist").model == OPUS
    hybrid.cost_threshold = None
    assert hybrid.cost_threshold is None
    assert hybrid.run_agent("security-specialist", CRITICAL_TASK).metadata["model"] == OPUS


def test_prefer_cheaper_off_keeps_simple_tasks_on_the_normal_model(in_project: Path) -> None:
    with HybridOrchestrator(prefer_cheaper=False, simulate=True, enable_tracking=False) as h:
        assert h.prefer_cheaper is False
        assert h.select_model_for_agent("document-writer", SIMPLE_TASK) == SONNET
        h.prefer_cheaper = True
        assert h.select_model_for_agent("document-writer", SIMPLE_TASK) == HAIKU


def test_pinned_models_always_win(in_project: Path) -> None:
    data = json.loads(in_project.read_text())
    data["agents"]["document-writer"]["model"] = "opus"
    data.setdefault("models", {})["agents"] = {"security-specialist": "haiku"}
    in_project.write_text(json.dumps(data))
    with get_hybrid_orchestrator(str(in_project), simulate=True, enable_tracking=False) as h:
        assert isinstance(h, HybridOrchestrator)
        assert h.select_model_for_agent("document-writer", SIMPLE_TASK) == OPUS
        assert h.select_model_for_agent("security-specialist", CRITICAL_TASK) == HAIKU
        r = h.run_agent("security-specialist", CRITICAL_TASK)
        assert r.metadata["model"] == HAIKU and r.metadata["routing"]["source"] == "pinned"
        assert r.metadata["complexity"] == "critical"  # still classified and explained


def test_unknown_agent_is_a_failed_result_with_suggestions(hybrid: HybridOrchestrator) -> None:
    r = hybrid.run_agent("document-writr", SIMPLE_TASK)
    assert not r.success and "did you mean 'document-writer'" in r.errors[0]
    r = hybrid.run_agent("document-writer", SIMPLE_TASK, task_complexity="huge")
    assert not r.success and r.metadata["error_type"] == "ValueError"
    r = hybrid.run_agent("nobody", SIMPLE_TASK, estimate_only=True)
    assert not r.success and r.metadata["error_type"] == "UnknownAgentError"


def test_workflow_steps_and_run_many_are_routed(hybrid: HybridOrchestrator) -> None:
    results = hybrid.run_many(
        [("document-writer", SIMPLE_TASK), ("security-specialist", CRITICAL_TASK)]
    )
    assert [r.metadata["model"] for r in results] == [HAIKU, OPUS]
    steps = hybrid.run_workflow("code-quality-check", "Review the payment module for security")
    assert steps and all("routing" in s.metadata for s in steps)


def test_classify_task_and_model_pricing(hybrid: HybridOrchestrator) -> None:
    c = hybrid.classify_task("document-writer", SIMPLE_TASK)
    assert c.complexity == "simple" and c.reasons
    p = hybrid.pricing
    assert isinstance(p, ModelPricing)
    assert (p.haiku_input, p.sonnet_input, p.opus_output) == (0.10, 2.00, 20.00)
    assert ModelPricing().sonnet_output == 10.00


async def test_async_core_routes_and_records_refusals(sample_config: Path) -> None:
    seen: list[ExecutionFinished] = []
    core = AsyncHybridOrchestrator(
        sample_config,
        provider=SimulatedProvider(latency="instant"),
        enable_tracking=False,
        enable_memory=False,
        cost_threshold=0.0000001,
    )
    core.bus.subscribe(lambda e: seen.append(e) if isinstance(e, ExecutionFinished) else None)
    async with core:
        ex = await core.execute("document-writer", SIMPLE_TASK, RunOptions())
        assert not ex.success and ex.error_type == "BudgetExceededError"
        assert seen and seen[-1].error_type == "BudgetExceededError" and seen[-1].cost_usd == 0
        core.clear_cost_threshold()
        ex = await core.execute("document-writer", SIMPLE_TASK)
        assert isinstance(ex, RoutedExecution) and ex.route is not None
        assert ex.model == HAIKU and ex.metadata()["routing"]["complexity"] == "simple"
        forced = await core.execute_routed("document-writer", SIMPLE_TASK, complexity="critical")
        assert forced.model == OPUS
