"""Agent recommendation: profiles, BM25 fallback, cached agent vectors, the CLI and the 2.2 face."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from _embed_helpers import FakeEmbedder, real_embedder
from claude_force.cli.app import app
from claude_force.config import load_project
from claude_force.embeddings import EmbeddingsUnavailable
from claude_force.recommend import BM25, AgentRecommender, build_profile
from claude_force.recommend import selector as selector_module
from claude_force.recommend.bm25 import tokens
from claude_force.semantic_selector import AgentMatch, SemanticAgentSelector, get_selector

runner = CliRunner()

DEFINITION = """# Widget Smith

## Role
You build widgets out of sprockets and gears.

## When to Use
- A widget needs assembling from parts.
- Gears are
  misaligned.

## Must Not
- Ignore this section.
"""


def test_profile_views_come_from_the_definition() -> None:
    p = build_profile(
        "widget-smith", DEFINITION, description="Builds widgets.", domains=["widgets", "gear-work"]
    )
    assert p.views[0] == "widget smith: Builds widgets."
    assert p.views[1] == "widget smith works on widgets, gear work"
    assert "You build widgets out of sprockets and gears." in p.views
    assert "Gears are misaligned." in p.views  # a wrapped bullet is one view
    assert not any("Ignore" in v for v in p.views)
    changed = build_profile("widget-smith", DEFINITION.replace("gears", "cogs"))
    assert changed.fingerprint("m") != build_profile("widget-smith", DEFINITION).fingerprint("m")
    assert p.fingerprint("m") != p.fingerprint("other-model")
    bare = build_profile("plain", "Just some text without headings.")
    assert bare.views == ("plain", "Just some text without headings.")


def test_bm25_ranks_shared_rare_words_first() -> None:
    bm = BM25(["databases and SQL indexes", "writing tests with pytest", "deploying containers"])
    scores = bm.scores("add an index to the SQL query")
    assert scores[0] > 0 and scores[1] == scores[2] == 0
    assert tokens("The Testing of indexes") == ["test", "index"]
    assert BM25([]).scores("x") == []


def _sample_recommender(
    config: Path, embedder: FakeEmbedder | None = None, **kw: object
) -> AgentRecommender:
    project = load_project(config)
    return AgentRecommender.for_project(project, embedder=embedder, **kw)  # type: ignore[arg-type]


def test_agent_vectors_are_cached_and_invalidated_per_agent(sample_config: Path) -> None:
    fake = FakeEmbedder()
    rec = _sample_recommender(sample_config, fake)
    first = rec.rank("write pytest tests for the parser")
    views = sum(len(p.views) for p in rec.profiles)
    assert fake.embedded == views + 1 and rec.cache.computed == 12
    cache_file = sample_config.parent / "state" / "agent_vectors.json"
    assert cache_file.is_file()

    again = FakeEmbedder()
    rec2 = _sample_recommender(sample_config, again)
    assert [m.agent_name for m in rec2.rank("write pytest tests for the parser")] == [
        m.agent_name for m in first
    ]
    assert again.embedded == 1 and rec2.cache.loaded == 12  # only the task was embedded

    agent_file = sample_config.parent / "agents" / "test-engineer.md"
    text = agent_file.read_text()
    agent_file.write_text(text + "\nNot a section that recommendation reads.\n")
    unchanged = _sample_recommender(sample_config, FakeEmbedder())
    unchanged.rank("anything")
    assert unchanged.cache.computed == 0  # vectors depend only on the text that is embedded
    agent_file.write_text(
        text.replace("## When to Use\n", "## When to Use\n- Mutation testing campaigns.\n")
    )
    third = FakeEmbedder()
    rec3 = _sample_recommender(sample_config, third)
    rec3.rank("anything")
    assert rec3.cache.loaded == 11 and rec3.cache.computed == 1  # only the changed agent


def test_corrupt_or_unwritable_vector_cache_is_ignored(sample_config: Path) -> None:
    state = sample_config.parent / "state"
    state.mkdir()
    (state / "agent_vectors.json").write_text("{not json")
    rec = _sample_recommender(sample_config, FakeEmbedder())
    assert rec.rank("deploy with docker")[0].method == "embeddings"
    rec.cache.path = state / "agent_vectors.json" / "nested"  # a file where a folder must be
    rec.cache.save(["x"])  # logged, not raised


def test_ranking_order_filters_and_validation(sample_config: Path) -> None:
    rec = _sample_recommender(sample_config, FakeEmbedder())
    ranked = rec.rank("— …")  # no words: all zero, priority then name decide
    assert [m.rank for m in ranked] == list(range(1, 13))
    assert all(m.confidence == 0.0 for m in ranked)
    assert [m.priority for m in ranked] == sorted(m.priority for m in ranked)
    assert rec.recommend("— …") == []
    assert len(rec.recommend("zzzz", top_k=2, min_confidence=0.0)) == 2
    with pytest.raises(ValueError, match="top_k"):
        rec.recommend("x", top_k=0)
    with pytest.raises(ValueError, match="min_confidence"):
        rec.recommend("x", min_confidence=1.5)
    with pytest.raises(ValueError, match="empty"):
        rec.rank("   ")


def test_bm25_fallback_when_the_model_is_missing(
    sample_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unavailable() -> None:
        raise EmbeddingsUnavailable("the embedding model package x is not installed")

    monkeypatch.setattr(selector_module, "load_embedder", unavailable)
    rec = _sample_recommender(sample_config)
    assert rec.method == "bm25" and "not installed" in (rec.fallback_reason or "")
    top = rec.recommend("write pytest tests and fixtures with mocking")[0]
    assert top.agent_name == "test-engineer" and top.method == "bm25"
    assert "BM25" in top.reasoning and "pytest" in top.reasoning
    assert _sample_recommender(sample_config, use_embeddings=False).fallback_reason


@pytest.mark.parametrize(
    ("task", "agent"),
    [
        (
            "The checkout page crashes with a TypeError since Friday; find the root cause",
            "bug-investigator",
        ),
        ("Set up continuous deployment to Kubernetes", "devops-architect"),
        ("Add an index so the orders query stops scanning the whole table", "database-architect"),
    ],
)
def test_real_model_ranks_by_meaning(sample_config: Path, task: str, agent: str) -> None:
    rec = _sample_recommender(sample_config, real_embedder())  # type: ignore[arg-type]
    assert agent in [m.agent_name for m in rec.rank(task)[:3]]


def test_cli_recommend_json_and_explain(in_project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(selector_module, "load_embedder", FakeEmbedder)
    result = runner.invoke(
        app, ["recommend", "--task", "write pytest tests for the parser", "--json", "-k", "2"]
    )
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["method"] == "embeddings" and data["fallback_reason"] is None
    assert len(data["recommendations"]) <= 2
    assert {"rank", "agent", "confidence", "reasoning", "domains", "evidence"} <= set(
        data["recommendations"][0]
    )
    text = runner.invoke(
        app, ["recommend", "--task", "write pytest tests", "--explain", "--min-confidence", "0"]
    )
    assert text.exit_code == 0 and "Recommended agents (embeddings)" in text.stdout
    assert "closest part of its definition" in text.stdout and "method:" in text.stdout
    none = runner.invoke(app, ["recommend", "--task", "— …"])
    assert none.exit_code == 0 and "No agent reaches confidence" in none.stdout


def test_cli_recommend_fallback_and_usage_errors(
    in_project: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CLAUDE_FORCE_EMBEDDINGS", "off")
    task = tmp_path / "task.txt"
    task.write_text("write pytest tests with fixtures and mocking")
    result = runner.invoke(app, ["recommend", "--task-file", str(task), "--explain"])
    assert result.exit_code == 0, result.stderr
    assert "ranking by keywords (BM25)" in result.stderr and "test-engineer" in result.stdout
    assert "install the semantic extra" in result.stdout
    missing = runner.invoke(app, ["recommend"])
    assert missing.exit_code == 2 and "no task given" in missing.stderr
    empty = runner.invoke(app, ["recommend", "--task", "  "])
    assert empty.exit_code == 2 and "empty" in empty.stderr
    bad = runner.invoke(app, ["recommend", "--task", "x", "--top-k", "0"])
    assert bad.exit_code == 2


def test_semantic_selector_2_2_face(sample_config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(selector_module, "load_embedder", FakeEmbedder)
    no_cache = SemanticAgentSelector(str(sample_config), use_cache=False)
    no_cache.select_agents("deploy")
    assert not (sample_config.parent / "state" / "agent_vectors.json").exists()
    selector = SemanticAgentSelector(str(sample_config))
    matches = selector.select_agents("write pytest tests and fixtures", top_k=3, min_confidence=0.0)
    assert len(matches) == 3 and all(isinstance(m, AgentMatch) for m in matches)
    m = matches[0]
    assert (m.agent_name, m.confidence, m.reasoning, m.domains, m.priority) == (
        m.agent_name,
        m.confidence,
        m.reasoning,
        m.domains,
        m.priority,
    )
    assert matches == sorted(matches, key=lambda x: -x.confidence)
    assert selector.method == "embeddings"
    explained = selector.explain_selection("write pytest tests", matches[0].agent_name)
    assert explained["rank"] >= 1 and len(explained["all_candidates"]) == 5
    assert selector.explain_selection("x", "nobody") == {
        "agent": "nobody",
        "selected": False,
        "reason": "Agent not found",
    }
    bench = selector.benchmark_selection(
        [
            {"task": "write pytest tests with fixtures", "expected_agents": ["test-engineer"]},
            {"task": "", "expected_agents": ["x"]},
        ]
    )
    assert bench["total_tests"] == 1 and set(bench) >= {"accuracy", "detailed_results"}
    assert isinstance(get_selector(str(sample_config)), SemanticAgentSelector)
    with pytest.raises(ValueError, match="not available offline"):
        SemanticAgentSelector(str(sample_config), model_name="all-mpnet-base-v2")
    # the 2.2 positional construction still works
    assert AgentMatch("a", 0.5, "r", ["d"], 1).agent_name == "a"
