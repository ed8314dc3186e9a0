"""``SemanticAgentSelector``: the agent-selection API of claude-force 2.2, for migrating users.

Same names and calls as 2.2 (``select_agents(task, top_k=3, min_confidence=0.3)`` returning
``AgentMatch(agent_name, confidence, reasoning, domains, priority)``, ``explain_selection``,
``benchmark_selection``, ``get_selector``), over :mod:`claude_force.recommend`.

Changes from 2.2 (see docs/migration.md): the model is not downloaded from a hub at run time —
all-MiniLM-L6-v2 comes installed with the ``semantic`` extra and runs without PyTorch; without
the extra the selector ranks with BM25 instead of raising ``ImportError`` (``method`` says which);
the agent vectors are cached in the project's state directory, per agent, and re-computed when
that agent's definition changes; ``confidence`` is the similarity itself (2.2 added a priority
bonus to the sort key only — here priority breaks ties).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .recommend import AgentMatch, AgentRecommender, Method

__all__ = ["AgentMatch", "SemanticAgentSelector", "get_selector"]

DEFAULT_MODEL = "all-MiniLM-L6-v2"


class SemanticAgentSelector:
    """Recommends the project's agents for a task (offline; embeddings, else BM25)."""

    def __init__(
        self,
        config_path: str | os.PathLike[str] = ".claude/claude.json",
        model_name: str = DEFAULT_MODEL,
        use_cache: bool = True,
    ) -> None:
        from .config import load_project

        if model_name != DEFAULT_MODEL:
            raise ValueError(
                f"model_name '{model_name}' is not available offline; claude-force ships "
                f"'{DEFAULT_MODEL}' (see docs/cli.md, 'recommend')"
            )
        self.config_path = Path(config_path)
        self.model_name = model_name
        self.use_cache = use_cache
        self.project = load_project(self.config_path, check_files=False)
        self.config_path = self.project.config_path
        self._recommender: AgentRecommender | None = None

    @property
    def recommender(self) -> AgentRecommender:
        if self._recommender is None:
            r = AgentRecommender.for_project(self.project)
            if not self.use_cache:
                r.cache.path = None
            self._recommender = r
        return self._recommender

    @property
    def method(self) -> Method:
        """``"embeddings"`` or ``"bm25"`` (the fallback without the ``semantic`` extra)."""
        return self.recommender.method

    def select_agents(
        self, task: str, top_k: int = 3, min_confidence: float = 0.3
    ) -> list[AgentMatch]:
        return self.recommender.recommend(task, top_k=top_k, min_confidence=min_confidence)

    def explain_selection(self, task: str, agent_name: str) -> dict[str, Any]:
        ranked = self.recommender.rank(task)
        match = next((m for m in ranked if m.agent_name == agent_name), None)
        if match is None:
            return {"agent": agent_name, "selected": False, "reason": "Agent not found"}
        return {
            "agent": agent_name,
            "selected": match.rank <= 3,
            "rank": match.rank,
            "confidence": round(match.confidence, 3),
            "reasoning": match.reasoning,
            "domains": match.domains,
            "all_candidates": [
                {"agent": m.agent_name, "confidence": round(m.confidence, 3)} for m in ranked[:5]
            ],
        }

    def benchmark_selection(self, test_cases: list[dict[str, Any]]) -> dict[str, Any]:
        """2.2's measure: a case is correct when at least half its expected agents are in the top 3."""
        results: list[dict[str, Any]] = []
        correct = 0
        for case in test_cases:
            task = case.get("task", "")
            expected = set(case.get("expected_agents", []))
            if not task or not expected:
                continue
            matches = self.select_agents(task, top_k=3)
            selected = {m.agent_name for m in matches}
            accuracy = len(selected & expected) / len(expected)
            correct += accuracy >= 0.5
            results.append(
                {
                    "task": task[:100],
                    "expected": sorted(expected),
                    "selected": [m.agent_name for m in matches],
                    "accuracy": accuracy,
                    "top_match": matches[0].agent_name if matches else None,
                    "top_confidence": round(matches[0].confidence, 3) if matches else 0,
                }
            )
        total = len(results)
        return {
            "total_tests": total,
            "correct": correct,
            "accuracy": round(correct / total, 3) if total else 0,
            "detailed_results": results,
        }


def get_selector(
    config_path: str | os.PathLike[str] = ".claude/claude.json", model_name: str = DEFAULT_MODEL
) -> SemanticAgentSelector:
    return SemanticAgentSelector(config_path, model_name)
