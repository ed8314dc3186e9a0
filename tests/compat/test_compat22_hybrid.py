"""``HybridOrchestrator`` with ``AgentOrchestrator.__init__`` patched out, as 2.2 suites do."""

from __future__ import annotations

import unittest
from unittest.mock import patch

from claude_force.catalog import builtin_catalog
from claude_force.hybrid_orchestrator import (
    CostEstimate,
    HybridOrchestrator,
    ModelPricing,
    get_hybrid_orchestrator,
)

PATCH = "claude_force.hybrid_orchestrator.AgentOrchestrator.__init__"


class TestHybridOrchestrator(unittest.TestCase):
    @patch(PATCH)
    def test_initialization(self, mock_init: object) -> None:
        mock_init.return_value = None  # type: ignore[attr-defined]
        orchestrator = HybridOrchestrator(
            config_path=".claude/claude.json",
            auto_select_model=True,
            prefer_cheaper=True,
            cost_threshold=1.0,
        )
        self.assertTrue(orchestrator.auto_select_model)
        self.assertTrue(orchestrator.prefer_cheaper)
        self.assertEqual(orchestrator.cost_threshold, 1.0)
        self.assertIsInstance(orchestrator.pricing, ModelPricing)
        orchestrator.prefer_cheaper = False
        self.assertFalse(orchestrator.prefer_cheaper)

    @patch(PATCH, return_value=None)
    def test_model_strategy_classification(self, mock_init: object) -> None:
        orchestrator = HybridOrchestrator()
        self.assertIn("document-writer-expert", orchestrator.MODEL_STRATEGY["haiku"])
        self.assertIn("frontend-architect", orchestrator.MODEL_STRATEGY["sonnet"])

    @patch(PATCH, return_value=None)
    def test_analyze_task_complexity(self, mock_init: object) -> None:
        orchestrator = HybridOrchestrator()
        # 2.3's classifier scores signals (docs/cost.md), so it is the clear cases that match
        critical = (
            "Security audit of the authentication and encryption before we deploy to production"
        )
        self.assertEqual(orchestrator.analyze_task_complexity(critical, "test-agent"), "critical")
        for task in ("Fix typo in README", "Format the code"):
            self.assertEqual(orchestrator._analyze_task_complexity(task, "test-agent"), "simple")
        self.assertEqual(
            orchestrator.analyze_task_complexity(
                "Design the frontend application architecture with caching", "test-agent"
            ),
            "complex",
        )

    @patch(PATCH, return_value=None)
    def test_select_model_for_agent(self, mock_init: object) -> None:
        orchestrator = HybridOrchestrator()
        models = orchestrator.MODELS
        catalog = builtin_catalog()
        self.assertEqual(models["haiku"], catalog.for_complexity("simple"))
        self.assertEqual(models["opus"], catalog.for_complexity("critical"))
        self.assertEqual(
            orchestrator.select_model_for_agent("document-writer-expert", "Fix typo in README"),
            models["haiku"],
        )
        self.assertEqual(
            orchestrator.select_model_for_agent("test-agent", "x", task_complexity="critical"),
            models["opus"],
        )
        self.assertEqual(  # 2.2's word for the middle tier
            orchestrator.select_model_for_agent("a", "Some task", task_complexity="complex"),
            models["sonnet"],
        )

    @patch(PATCH, return_value=None)
    def test_estimate_cost(self, mock_init: object) -> None:
        orchestrator = HybridOrchestrator()
        models = orchestrator.MODELS
        cheap = orchestrator.estimate_cost("Format this code", "doc", model=models["haiku"])
        dear = orchestrator.estimate_cost("Format this code", "doc", model=models["opus"])
        self.assertIsInstance(cheap, CostEstimate)
        self.assertEqual(cheap.model, models["haiku"])
        self.assertGreater(cheap.estimated_input_tokens, 0)
        self.assertGreater(cheap.estimated_output_tokens, 0)
        assert cheap.estimated_cost is not None and dear.estimated_cost is not None
        self.assertGreater(dear.estimated_cost, cheap.estimated_cost)
        self.assertIn("input_cost", cheap.breakdown)
        auto = orchestrator.estimate_cost("Fix typo in README", "document-writer-expert")
        self.assertEqual(auto.model, models["haiku"])

    @patch(PATCH, return_value=None)
    def test_running_needs_the_engine(self, mock_init: object) -> None:
        orchestrator = HybridOrchestrator()
        with self.assertRaisesRegex(RuntimeError, "no engine"):
            orchestrator.run_agent("python-expert", "task")
        orchestrator.close()  # nothing to release


class TestGetHybridOrchestrator(unittest.TestCase):
    @patch(PATCH)
    def test_factory_function(self, mock_init: object) -> None:
        mock_init.return_value = None  # type: ignore[attr-defined]
        orchestrator = get_hybrid_orchestrator(
            config_path=".claude/claude.json",
            auto_select_model=True,
            prefer_cheaper=True,
            cost_threshold=5.0,
        )
        self.assertIsInstance(orchestrator, HybridOrchestrator)
        self.assertTrue(orchestrator.auto_select_model)
        self.assertEqual(orchestrator.cost_threshold, 5.0)


if __name__ == "__main__":
    unittest.main()
