"""Model routing: the complexity classifier, cost estimates and the router's decisions."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from claude_force.catalog import builtin_catalog
from claude_force.config import load_project
from claude_force.errors import BudgetExceededError
from claude_force.messages import Usage
from claude_force.routing import (
    COMPLEXITIES,
    AgentProfile,
    ClassifierSettings,
    ComplexityClassifier,
    CostEstimator,
    ModelRouter,
    parse_complexity,
)
from claude_force.routing.classifier import Classification, forced

DAY = date(2026, 11, 20)
CATALOG = builtin_catalog()
HAIKU, SONNET, OPUS = "claude-haiku-5-5", "claude-sonnet-5-5", "claude-opus-5-5"
SYSTEM = "# Reviewer\n\nYou review code carefully. " * 20

WRITER = AgentProfile("document-writer", ("documentation", "readme"), 3)
REVIEWER = AgentProfile("code-reviewer", ("code-review", "quality"), 1)
SECURITY = AgentProfile("security-specialist", ("security", "owasp"), 1)
TESTER = AgentProfile("test-engineer", ("testing",), 2)
PLAIN = AgentProfile("plain")

CODE = "```python\n" + "x = 1\n" * 10 + "```\n"

# --- the classifier ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("task", "agent", "expected"),
    [
        ("Fix typo in README", WRITER, "simple"),
        ("Summarize the changelog and list the breaking changes", WRITER, "simple"),
        ("Rename the variable", PLAIN, "simple"),  # short (-1) + simple keyword (-1) = -2
        ("Review this function for bugs", REVIEWER, "normal"),
        ("Write unit tests for the parser", TESTER, "normal"),
        (
            "Audit the authentication flow for security vulnerabilities before the production "
            "release",
            SECURITY,
            "critical",
        ),
        ("Design the architecture for migrating our payment service", PLAIN, "critical"),
        ("Explain " + "this module in detail. " * 100, PLAIN, "normal"),  # long prose only: +2
        ("Refactor these:\n" + CODE * 3 + "and explain. " * 60, PLAIN, "critical"),
    ],
)
def test_classifier_table(task: str, agent: AgentProfile, expected: str) -> None:
    c = ComplexityClassifier().classify(task, agent)
    assert c.complexity == expected, c.reasons
    assert sum(s.points for s in c.signals) == c.score


def test_classifier_explains_every_signal() -> None:
    c = ComplexityClassifier().classify(
        "Check the migration script for security problems before production\n" + CODE, SECURITY
    )
    text = " | ".join(c.reasons)
    assert "short task (140 characters ≤ 160) (-1)" in text
    assert c.score == -1 + 4 + 1 + 1 + 1
    assert "critical keywords: migration, security, production (+4)" in text
    assert "1 code block(s)" in text
    assert "priority 1 (high) (+1)" in text
    assert "agent domains: security (+1)" in text
    assert c.to_dict()["complexity"] == "critical"


def test_keywords_inside_code_blocks_do_not_count() -> None:
    task = "Tidy this up please, it is fine otherwise, nothing special here at all, thanks a lot\n"
    task += "```\nsecurity = production = migrate = 1\n```\n"
    c = ComplexityClassifier().classify(task, PLAIN)
    assert not any("critical keywords" in r for r in c.reasons)


def test_keyword_caps() -> None:
    many = "security authentication encryption production migration payment compliance"
    c = ComplexityClassifier().classify(many, PLAIN)
    kw = [s for s in c.signals if s.reason.startswith("critical keywords")]
    assert kw[0].points == 4
    c = ComplexityClassifier().classify("typo spelling rename reformat lint", PLAIN)
    kw = [s for s in c.signals if s.reason.startswith("simple keywords")]
    assert kw[0].points == -2


def test_classifier_settings_from_claude_json_shape() -> None:
    s = ClassifierSettings(
        critical_keywords=["banana"],
        extra_simple_keywords=["trivial"],
        critical_domains=["fruit"],
        critical_at=2,
        simple_at=-1,
    )
    c = ComplexityClassifier.from_settings(s)
    assert c.classify("the banana stand", AgentProfile("x", ("Fruit",), 2)).complexity == "critical"
    replaced = c.classify("security review", PLAIN)  # no longer a keyword: only "short" counts
    assert replaced.complexity == "simple" and replaced.score == -1
    assert c.classify("a trivial change", PLAIN).complexity == "simple"


def test_classifier_rejects_inverted_thresholds() -> None:
    with pytest.raises(ValueError, match="simple_at"):
        ComplexityClassifier(simple_at=3, critical_at=3)


def test_empty_keyword_lists_match_nothing() -> None:
    c = ComplexityClassifier(critical_keywords=(), simple_keywords=(" ",))
    assert not any("keywords" in r for r in c.classify("security typo", PLAIN).reasons)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("auto", None), ("simple", "simple"), ("Complex", "normal"), (" critical ", "critical")],
)
def test_parse_complexity(value: str, expected: str | None) -> None:
    assert parse_complexity(value) == expected


def test_parse_complexity_rejects_unknown() -> None:
    with pytest.raises(ValueError, match="unknown complexity"):
        parse_complexity("huge")


def test_forced_classification() -> None:
    c = forced("critical")
    assert c.forced and c.complexity == "critical" and "given by the caller" in c.reasons[0]


# --- estimates -----------------------------------------------------------------------------------


def test_estimate_uses_the_price_table_exactly() -> None:
    est = CostEstimator(CATALOG.prices, output_ratio=0.5, today=lambda: DAY)
    e = est.estimate(SONNET, system="s" * 400, task="t" * 40, max_tokens=1000)
    prompt = (400 + 1 + 40 + 3) // 4  # system + "\n" + task at ~4 characters per token
    assert (e.estimated_input_tokens, e.estimated_output_tokens) == (prompt, 500)
    expected = CATALOG.prices.cost(SONNET, Usage(prompt, 500), DAY)
    assert e.cost_usd == expected
    assert e.estimated_cost == float(expected)  # type: ignore[arg-type]
    assert e.estimated and "estimate:" in e.basis
    assert e.breakdown["input_tokens"] == prompt
    half = est.estimate(SONNET, system="s" * 400, task="t" * 40, max_tokens=1000, batch=True)
    assert half.cost_usd == expected / 2  # type: ignore[operator]
    assert "batch discount" in half.basis
    assert e.to_dict()["cost_usd"] == str(expected.normalize())  # type: ignore[union-attr]


def test_estimate_of_an_unpriced_model_is_unknown() -> None:
    e = CostEstimator(CATALOG.prices).estimate("claude-private-1", system="", task="hi")
    assert e.cost_usd is None and e.estimated_cost is None
    assert "no price" in e.basis


def test_output_ratio_must_be_a_fraction() -> None:
    with pytest.raises(ValueError):
        CostEstimator(CATALOG.prices, output_ratio=0)


# --- the router ------------------------------------------------------------------------------------


def router(**kw: object) -> ModelRouter:
    base: dict[str, object] = {
        "catalog": CATALOG,
        "estimator": CostEstimator(CATALOG.prices, today=lambda: DAY),
    }
    base.update(kw)
    return ModelRouter(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kw", "call", "model", "source"),
    [
        ({}, {"complexity": "simple"}, HAIKU, "routed"),
        ({}, {"complexity": "normal"}, SONNET, "routed"),
        ({}, {"complexity": "critical"}, OPUS, "routed"),
        ({"prefer_cheaper": False}, {"complexity": "simple"}, SONNET, "routed"),
        ({"prefer_cheaper": False}, {"complexity": "critical"}, OPUS, "routed"),
        ({}, {"complexity": "simple", "explicit_model": "opus"}, OPUS, "explicit"),
        ({"pins": {"plain": OPUS}}, {"complexity": "simple"}, OPUS, "pinned"),
        ({"pins": {"plain": HAIKU}}, {"complexity": "critical"}, HAIKU, "pinned"),
        ({}, {"complexity": "critical", "auto": False}, SONNET, "default"),
    ],
)
def test_routing_decisions(
    kw: dict[str, object], call: dict[str, object], model: str, source: str
) -> None:
    d = router(**kw).route(PLAIN, "a task", system=SYSTEM, **call)  # type: ignore[arg-type]
    assert (d.model, d.source) == (model, source)
    assert d.estimate.model == model
    meta = d.to_metadata()
    assert meta["model"] == model and meta["source"] == source
    assert meta["reasons"] == d.reasons and d.reasons[-1] in d.notes


def test_prefer_cheaper_off_says_why() -> None:
    d = router(prefer_cheaper=False).route(WRITER, "fix typo", system=SYSTEM)
    assert d.complexity == "simple" and d.model == SONNET
    assert any("prefer_cheaper is off" in r for r in d.reasons)


def test_budget_steps_a_routed_choice_down_to_the_first_tier_that_fits() -> None:
    r = router()
    opus = r.route(PLAIN, "t", system=SYSTEM, complexity="critical").estimate.cost_usd
    sonnet = r.route(PLAIN, "t", system=SYSTEM, complexity="normal").estimate.cost_usd
    assert opus is not None and sonnet is not None and sonnet < opus
    between = (opus + sonnet) / 2
    d = router(cost_threshold=between).route(PLAIN, "t", system=SYSTEM, complexity="critical")
    assert (d.model, d.stepped_down_from) == (SONNET, OPUS)
    assert d.estimate.cost_usd is not None and d.estimate.cost_usd <= between
    assert "stepped down" in d.reasons[-1]
    assert d.to_metadata()["cost_threshold_usd"] == float(between)


def test_budget_refuses_when_no_tier_fits() -> None:
    with pytest.raises(BudgetExceededError, match="no cheaper routing tier fits"):
        router(cost_threshold=Decimal("0.0000001")).route(
            PLAIN, "t", system=SYSTEM, complexity="critical"
        )


def test_budget_refuse_policy_never_steps_down() -> None:
    r = router(cost_threshold=Decimal("0.002"), over_budget="refuse")
    with pytest.raises(BudgetExceededError, match="over_budget is 'refuse'"):
        r.route(PLAIN, "t", system=SYSTEM, complexity="critical")


@pytest.mark.parametrize(
    ("kw", "call", "why"),
    [
        ({"pins": {"plain": OPUS}}, {}, "pinned"),
        ({}, {"explicit_model": OPUS}, "named by the caller"),
        ({}, {"auto": False}, "auto-selection is off"),
    ],
)
def test_budget_never_changes_a_model_the_user_chose(
    kw: dict[str, object], call: dict[str, object], why: str
) -> None:
    r = router(cost_threshold=Decimal("0.0001"), **kw)
    with pytest.raises(BudgetExceededError, match=why):
        r.route(PLAIN, "t", system=SYSTEM, **call)  # type: ignore[arg-type]


def test_budget_cannot_check_an_unpriced_model() -> None:
    with pytest.raises(BudgetExceededError, match="no price"):
        router(cost_threshold=Decimal(1), pins={"plain": "claude-private-1"}).route(PLAIN, "t")


def test_batch_estimates_fit_a_budget_the_online_price_does_not() -> None:
    r = router()
    online = r.route(PLAIN, "t", system=SYSTEM, complexity="normal").estimate.cost_usd
    assert online is not None
    tight = router(cost_threshold=online * Decimal("0.75"), over_budget="refuse")
    with pytest.raises(BudgetExceededError):
        tight.route(PLAIN, "t", system=SYSTEM, complexity="normal")
    d = tight.route(PLAIN, "t", system=SYSTEM, complexity="normal", batch=True)
    assert d.model == SONNET and d.estimate.batch


def test_threshold_must_be_positive() -> None:
    with pytest.raises(ValueError):
        router(cost_threshold=Decimal(0))


# --- properties ----------------------------------------------------------------------------------

TASKS = st.lists(
    st.sampled_from(["abc ", "x", "\n", "```\n", "security ", "typo ", "production ", "y" * 90]),
    max_size=60,
).map("".join)
PROFILES = st.builds(
    AgentProfile,
    st.sampled_from(["alpha", "beta", "plain"]),
    st.lists(st.sampled_from(["security", "docs", "architecture"]), max_size=2).map(tuple),
    st.integers(min_value=1, max_value=4),
)
THRESHOLDS = st.none() | st.decimals(
    min_value=Decimal("0.00001"), max_value=Decimal("0.1"), places=6
)


@settings(max_examples=150, deadline=None)
@given(
    task=TASKS,
    agent=PROFILES,
    pin=st.sampled_from([HAIKU, SONNET, OPUS]),
    prefer=st.booleans(),
    auto=st.booleans(),
    threshold=THRESHOLDS,
    max_tokens=st.integers(min_value=1, max_value=8192),
)
def test_property_pinned_models_always_win(
    task: str,
    agent: AgentProfile,
    pin: str,
    prefer: bool,
    auto: bool,
    threshold: Decimal | None,
    max_tokens: int,
) -> None:
    r = router(pins={agent.name: pin}, prefer_cheaper=prefer, cost_threshold=threshold)
    try:
        d = r.route(agent, task, system=SYSTEM, max_tokens=max_tokens, auto=auto)
    except BudgetExceededError:
        assert threshold is not None  # refused, never switched to another model
        est = r.estimator.estimate(pin, system=SYSTEM, task=task, max_tokens=max_tokens)  # type: ignore[union-attr]
        assert est.cost_usd is not None and est.cost_usd > threshold
        return
    assert d.model == pin and d.source == "pinned"


@settings(max_examples=150, deadline=None)
@given(
    task=TASKS,
    agent=PROFILES,
    prefer=st.booleans(),
    threshold=THRESHOLDS,
    policy=st.sampled_from(["step_down", "refuse"]),
    max_tokens=st.integers(min_value=1, max_value=8192),
)
def test_property_cost_threshold_is_respected(
    task: str,
    agent: AgentProfile,
    prefer: bool,
    threshold: Decimal | None,
    policy: str,
    max_tokens: int,
) -> None:
    r = router(prefer_cheaper=prefer, cost_threshold=threshold, over_budget=policy)
    free = router(prefer_cheaper=prefer)
    wanted = free.route(agent, task, system=SYSTEM, max_tokens=max_tokens)
    try:
        d = r.route(agent, task, system=SYSTEM, max_tokens=max_tokens)
    except BudgetExceededError:
        assert threshold is not None
        assert wanted.estimate.cost_usd is not None and wanted.estimate.cost_usd > threshold
        if policy == "step_down":  # refused only when no cheaper tier would have fitted
            below = COMPLEXITIES[: COMPLEXITIES.index(wanted.complexity)]
            for tier in below:
                est = free.route(
                    agent, task, system=SYSTEM, max_tokens=max_tokens, complexity=tier
                ).estimate.cost_usd
                assert est is not None and est > threshold
        return
    if threshold is not None:
        assert d.estimate.cost_usd is not None and d.estimate.cost_usd <= threshold
    if d.model != wanted.model:  # only ever a step down, and only when allowed
        assert policy == "step_down" and d.stepped_down_from == wanted.model
        assert d.estimate.cost_usd < wanted.estimate.cost_usd  # type: ignore[operator]
    else:
        assert d.stepped_down_from is None


# --- from a project --------------------------------------------------------------------------------


def _project(tmp_path: Path, extra: dict[str, object]) -> Path:
    claude = tmp_path / ".claude"
    (claude / "agents").mkdir(parents=True)
    for name in ("alpha", "beta", "gamma"):
        (claude / "agents" / f"{name}.md").write_text(f"# {name}\n\nDoes {name} things.\n")
    config = {
        "agents": {
            "alpha": {"file": "agents/alpha.md", "model": "haiku", "priority": 1},
            "beta": {"file": "agents/beta.md", "domains": ["security"]},
            "gamma": {"file": "agents/gamma.md", "priority": 3},
        },
        **extra,
    }
    path = claude / "claude.json"
    path.write_text(json.dumps(config))
    return path


def test_router_from_project_reads_pins_routing_and_settings(tmp_path: Path) -> None:
    path = _project(
        tmp_path,
        {
            "models": {
                "agents": {"beta": "sonnet", "outsider": "opus"},
                "routing": {"simple": "claude-haiku-4-5"},
                "prompt_cache_ttl": "1h",
            },
            "routing": {
                "prefer_cheaper": False,
                "cost_threshold_usd": "0.5",
                "over_budget": "refuse",
                "output_ratio": 0.1,
                "classifier": {"extra_critical_keywords": ["kubernetes"]},
            },
        },
    )
    r = ModelRouter.from_project(load_project(path), today=lambda: DAY)
    assert dict(r.pins) == {"alpha": HAIKU, "beta": SONNET, "outsider": OPUS}
    assert r.prefer_cheaper is False and r.over_budget == "refuse"
    assert r.cost_threshold == Decimal("0.5") and r.cache_ttl == "1h"
    assert r.estimator is not None and r.estimator.output_ratio == 0.1
    assert r.classifier.classify("kubernetes rollout plan", PLAIN).score >= 1
    assert r.catalog.for_complexity("simple") == "claude-haiku-4-5"
    r2 = ModelRouter.from_project(load_project(path), prefer_cheaper=True, cost_threshold=2)
    assert r2.prefer_cheaper is True and r2.cost_threshold == Decimal(2)


def test_routing_section_is_validated(tmp_path: Path) -> None:
    from claude_force.errors import ConfigurationError

    path = _project(tmp_path, {"routing": {"output_ratio": 2}})
    with pytest.raises(ConfigurationError, match=r"routing\.output_ratio"):
        load_project(path)


def test_classification_type_is_exported() -> None:
    assert isinstance(ComplexityClassifier().classify("x"), Classification)
