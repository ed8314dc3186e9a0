"""WorkflowDAG: building, validation at load (with file/key/line), cycles, order, rendering."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from claude_force.config import load_project
from claude_force.errors import ConfigurationError, UnknownAgentError, WorkflowCycleError
from claude_force.workflows import (
    Step,
    WorkflowDAG,
    WorkflowDefinitionError,
    WorkflowSpec,
    _template,
    load_workflow,
    validate_workflows,
)
from claude_force.workflows._context import Upstream, fit, inputs_block, shares

AGENTS = {"a1", "a2", "a3"}


def dag_of(edges: dict[str, list[str]], **kw: Any) -> WorkflowDAG:
    dag = WorkflowDAG("wf", **kw)
    for sid, deps in edges.items():
        dag.add_step(sid, "a1", deps)
    return dag


def write_workflows(config: Path, workflows: dict[str, Any]) -> None:
    raw = json.loads(config.read_text())
    raw["workflows"] = workflows
    config.write_text(json.dumps(raw, indent=2))


# --- building and reading ------------------------------------------------------------------------


def test_build_in_python_and_read_back() -> None:
    dag = WorkflowDAG("review", description="d")
    for agent in ("a1", "a2", "a3"):
        dag.add_step(agent, agent)
    summary = dag.add_step("sum", "a1", ["a1", "a2", "a3", "a2"], task="{task}\n{inputs}")
    assert summary.depends_on == ("a1", "a2", "a3")  # repeats dropped, order kept
    assert summary.template is not None
    assert dag.ids == ["a1", "a2", "a3", "sum"] and len(dag) == 4 and "sum" in dag
    assert [s.id for s in dag] == dag.ids and dag.steps[3] is dag.step("sum")
    assert dag.dependents("a2") == ["sum"] and dag.ancestors("sum") == {"a1", "a2", "a3"}
    assert dag.descendants("a1") == {"sum"} and dag.descendants("sum") == set()
    assert dag.validate(AGENTS) is dag
    assert dag.policy("sum") == "fail" and dag.budget("sum") == dag.context_budget_chars
    assert repr(dag) == "WorkflowDAG('review', steps=['a1', 'a2', 'a3', 'sum'])"
    with pytest.raises(WorkflowDefinitionError, match=r"no step 'sun'.*did you mean 'sum'"):
        dag.step("sun")


def test_step_overrides_and_constructor_steps() -> None:
    dag = WorkflowDAG(
        "wf",
        [Step("x", "a1", on_failure="continue", context_budget_chars=5)],
        on_failure="skip_dependents",
    )
    dag.add_step("y", "a2", ["x"])
    assert dag.policy("x") == "continue" and dag.policy("y") == "skip_dependents"
    assert dag.budget("x") == 5 and dag.budget("y") == dag.context_budget_chars


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda d: d.add_step("", "a1"), "non-empty id"),
        (lambda d: (d.add_step("x", "a1"), d.add_step("x", "a2")), "two steps with id 'x'"),
        (lambda d: d.add_step("x", "a1", on_failure="explode"), "on_failure must be one of"),
        (lambda d: d.add_step("x", "a1", task="{nope}"), "unknown placeholder '{nope}'"),
        (lambda d: d.add_step("x", "a1", task="a { b"), "unmatched '{'"),
    ],
)
def test_building_errors(build: Any, message: str) -> None:
    with pytest.raises(WorkflowDefinitionError, match=message):
        build(WorkflowDAG("wf"))


def test_workflow_policy_must_be_known() -> None:
    with pytest.raises(WorkflowDefinitionError, match="on_failure must be one of"):
        WorkflowDAG("wf", on_failure="panic")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("edges", "agents", "error", "message"),
    [
        ({}, None, WorkflowDefinitionError, "has no steps"),
        ({"x": ["x"]}, None, WorkflowDefinitionError, "step 'x' depends on itself"),
        ({"x": ["y"]}, None, WorkflowDefinitionError, "depends on unknown step 'y'"),
        ({"x": []}, {"a2"}, UnknownAgentError, "names unknown agent 'a1'"),
        ({"a": ["b"], "b": ["a"]}, None, WorkflowCycleError, "cycle a → b → a"),
    ],
)
def test_validation_errors(
    edges: dict[str, list[str]], agents: set[str] | None, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        dag_of(edges).validate(agents)


def test_template_must_name_an_upstream_step() -> None:
    dag = dag_of({"a": [], "b": [], "c": ["a"]})
    dag.add_step("d", "a1", ["c"], task="{output:a} {output:c}")
    dag.validate()  # a is upstream of d through c
    dag.add_step("e", "a1", ["a"], task="{output:b}")
    with pytest.raises(
        WorkflowDefinitionError, match=r"'b' is not upstream.*add 'b' to depends_on"
    ):
        dag.validate()
    other = dag_of({"a": []})
    other.add_step("z", "a1", ["a"], task="{output:zz}")
    with pytest.raises(WorkflowDefinitionError, match="'zz' is not upstream"):
        other.validate()


def test_chain_ids_for_repeated_agents() -> None:
    dag = WorkflowDAG.from_chain("c", ["a1", "a2", "a1", "a1"])
    assert dag.chain
    assert dag.ids == ["a1", "a2", "a1#2", "a1#3"]
    assert [s.depends_on for s in dag] == [(), ("a1",), ("a2",), ("a1#2",)]
    assert dag.topological_order() == dag.ids


# --- cycles: exact detection (property) -----------------------------------------------------------


def reachability(n: int, edges: set[tuple[int, int]]) -> list[list[bool]]:
    """Floyd–Warshall transitive closure: an oracle independent of the DFS under test."""
    r = [[(i, j) in edges for j in range(n)] for i in range(n)]
    for k, i, j in itertools.product(range(n), repeat=3):
        if r[i][k] and r[k][j]:
            r[i][j] = True
    return r


@st.composite
def digraphs(draw: st.DrawFn) -> tuple[int, set[tuple[int, int]]]:
    n = draw(st.integers(1, 7))
    pairs = [(i, j) for i in range(n) for j in range(n) if i != j]
    edges = draw(st.sets(st.sampled_from(pairs), max_size=len(pairs))) if pairs else set()
    return n, edges


@settings(max_examples=300, deadline=None)
@given(digraphs())
def test_cycle_detection_is_exact(graph: tuple[int, set[tuple[int, int]]]) -> None:
    n, edges = graph
    dag = WorkflowDAG("g")
    for i in range(n):
        dag.add_step(f"s{i}", "a1", [f"s{j}" for j in range(n) if (i, j) in edges])
    closure = reachability(n, edges)
    has_cycle = any(closure[i][i] for i in range(n))
    cycle = dag.find_cycle()
    assert (cycle is not None) == has_cycle
    if cycle is None:
        order = dag.topological_order()
        assert sorted(order) == sorted(dag.ids)
        seen: set[str] = set()
        for sid in order:
            assert set(dag.step(sid).depends_on) <= seen
            seen.add(sid)
        dag.validate()
    else:
        # a real cycle: closed, no repeats inside, every consecutive pair is a depends_on edge
        assert cycle[0] == cycle[-1] and len(set(cycle[:-1])) == len(cycle) - 1
        for a, b in itertools.pairwise(cycle):
            assert b in dag.step(a).depends_on
        with pytest.raises(WorkflowCycleError) as info:
            dag.validate()
        assert info.value.cycle == cycle
        assert " → ".join(cycle) in str(info.value)
        with pytest.raises(WorkflowCycleError):
            dag.topological_order()


def test_cycle_message_starts_at_the_earliest_step() -> None:
    dag = dag_of({"a": ["c"], "b": ["a"], "c": ["b"], "d": []})
    with pytest.raises(WorkflowCycleError, match=r"dependency cycle a → c → b → a"):
        dag.validate()


# --- order, stages, critical path, rendering -----------------------------------------------------


def test_topological_order_prefers_definition_order() -> None:
    dag = dag_of({"late": ["b"], "a": [], "b": [], "c": ["a"]})
    assert dag.topological_order() == ["a", "b", "late", "c"]
    assert dag.stages() == [["a", "b"], ["late", "c"]]


def test_critical_path() -> None:
    dag = dag_of({"a": [], "b": [], "c": [], "sum": ["a", "b", "c"], "side": []})
    assert dag.critical_path({"a": 1, "b": 3, "c": 2, "sum": 1, "side": 3.5}) == (
        ["b", "sum"],
        4.0,
    )
    # ties go to the earlier-defined step; missing durations count as zero
    assert dag.critical_path({"a": 1, "b": 1}) == (["a"], 1.0)
    assert WorkflowDAG("empty").critical_path({}) == ([], 0.0)


def test_text_and_mermaid() -> None:
    dag = WorkflowDAG("cq", description="three then one")
    dag.add_step("a1", "a1")
    dag.add_step("rev", "a2", on_failure="continue")
    dag.add_step("sum", "a3", ["a1", "rev"])
    text = dag.to_text()
    assert text.splitlines()[0] == "workflow cq — three then one"
    assert "stage 1 (in parallel):" in text and "    a1\n" in text
    assert "rev (a2)  [on_failure: continue]" in text
    assert "sum (a3)  ← a1, rev" in text
    mermaid = dag.to_mermaid().splitlines()
    assert mermaid[0] == "flowchart TD"
    assert '    s1["rev<br/><small>a2</small>"]' in mermaid
    assert "    s0 --> s2" in mermaid and "    s1 --> s2" in mermaid
    quoted = WorkflowDAG("q")
    quoted.add_step('say "hi"', "a1")
    assert "#quot;" in quoted.to_mermaid()


# --- templates and the context budget -------------------------------------------------------------


def test_template_parse_and_render() -> None:
    parts = _template.parse("{{literal}} {task} / {inputs} / {output: a } / {workflow}:{step}")
    assert _template.referenced_steps(parts) == ["a"] and _template.uses_inputs(parts)
    text = _template.render(
        parts, task="T", inputs="I", outputs={"a": "{task}"}, workflow="W", step="S"
    )
    assert text == "{literal} T / I / {task} / W:S"  # values are not re-parsed
    assert (
        _template.render(
            _template.parse("{output:x}"), task="", inputs="", outputs={}, workflow="", step=""
        )
        == ""
    )
    with pytest.raises(_template.TemplateError, match="unmatched '}'"):
        _template.parse("a } b")
    with pytest.raises(_template.TemplateError, match="unknown placeholder"):
        _template.parse("{output:}")


@given(st.lists(st.integers(0, 500), max_size=8), st.integers(0, 2000))
def test_budget_shares_are_fair_and_bounded(lengths: list[int], budget: int) -> None:
    alloc = shares(lengths, budget)
    assert all(0 <= a <= n for a, n in zip(alloc, lengths, strict=True))
    assert sum(alloc) == min(sum(lengths), budget)
    cut_items = [i for i, (a, n) in enumerate(zip(alloc, lengths, strict=True)) if a < n]
    # max-min fairness: every cut item gets at least as much as any other item's allocation - 1
    for i in cut_items:
        assert alloc[i] >= max(alloc) - 1


def test_inputs_block_labels_and_cuts() -> None:
    items = [Upstream("a", "a1", True, "x" * 100), Upstream("b", "a2", False, "boom")]
    texts = fit(items, 50)
    assert texts[1] == "boom" and texts[0].startswith("x" * 46)
    assert "[… 54 more characters cut to fit the context budget]" in texts[0]
    block = inputs_block(items, 1000)
    assert block.startswith("# Inputs from earlier steps")
    assert "## Output of step 'a' (agent a1)" in block
    assert "## Step 'b' (agent a2) FAILED — its error\n\nboom" in block
    assert inputs_block([], 10) == ""


# --- claude.json: the DAG form, validated at load -------------------------------------------------


def test_sample_project_workflows_are_valid_dags(sample_config: Path) -> None:
    project = load_project(sample_config)
    dags = {d.name: d for d in validate_workflows(project)}
    cq = dags["code-quality-check"]
    assert cq.stages() == [
        ["python-expert", "code-reviewer", "security-specialist"],
        ["document-writer"],
    ]
    assert not cq.chain and dags["refactor"].chain
    assert isinstance(project.workflow("code-quality-check"), WorkflowSpec)


def test_dag_form_loads_with_defaults(sample_config: Path) -> None:
    write_workflows(
        sample_config,
        {
            "w": {
                "steps": [
                    {"agent": "python-expert"},
                    {
                        "id": "rev",
                        "agent": "code-reviewer",
                        "depends_on": ["python-expert"],
                        "model": "claude-haiku-5-5",
                        "max_tokens": 100,
                        "timeout_seconds": 5,
                        "on_failure": "continue",
                        "context_budget_chars": 10,
                    },
                ],
                "on_failure": "skip_dependents",
                "max_concurrent": 2,
                "timeout_seconds": 30,
            }
        },
    )
    dag = load_workflow(load_project(sample_config), "w")
    rev = dag.step("rev")
    assert dag.ids == ["python-expert", "rev"] and rev.depends_on == ("python-expert",)
    assert (rev.model, rev.max_tokens, rev.timeout_seconds) == ("claude-haiku-5-5", 100, 5)
    assert dag.policy("rev") == "continue" and dag.policy("python-expert") == "skip_dependents"
    assert (dag.max_concurrent, dag.timeout_seconds, dag.budget("rev")) == (2, 30, 10)


def _load_error(config: Path, workflows: dict[str, Any]) -> ConfigurationError:
    write_workflows(config, workflows)
    with pytest.raises(ConfigurationError) as info:
        load_project(config, strict=True)
    # tolerant (the default): the project loads; the workflow is refused when used, same error
    project = load_project(config)
    name = next(iter(workflows))
    with pytest.raises(ConfigurationError) as used:
        project.workflow(name)
    assert str(used.value) == str(info.value)
    return info.value


def _line_of(config: Path, needle: str) -> int:
    lines = config.read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if needle in line)


@pytest.mark.parametrize(
    ("steps", "error", "key", "needle", "message"),
    [
        (
            [{"agent": "python-expert"}, {"agent": "nobody", "depends_on": ["python-expert"]}],
            UnknownAgentError,
            "workflows.w.steps.1.agent",
            '"nobody"',
            "names unknown agent 'nobody'",
        ),
        (
            [
                {"agent": "python-expert", "depends_on": ["code-reviewr"]},
                {"agent": "code-reviewer"},
            ],
            WorkflowDefinitionError,
            "workflows.w.steps.0.depends_on",
            '"depends_on"',
            "unknown step 'code-reviewr'.*did you mean 'code-reviewer'",
        ),
        (
            [{"agent": "python-expert"}, {"agent": "python-expert"}],
            WorkflowDefinitionError,
            "workflows.w.steps.1",
            None,
            "two steps with id 'python-expert'",
        ),
        (
            [{"agent": "python-expert", "depends_on": ["python-expert"]}],
            WorkflowDefinitionError,
            "workflows.w.steps.0.depends_on",
            '"depends_on"',
            "depends on itself",
        ),
        (
            [{"agent": "python-expert", "task": "{oops}"}],
            WorkflowDefinitionError,
            "workflows.w.steps.0.task",
            '"task"',
            "unknown placeholder",
        ),
    ],
    ids=["unknown-agent", "unknown-dependency", "duplicate-id", "self", "template"],
)
def test_load_errors_name_file_key_and_line(
    sample_config: Path,
    steps: list[dict[str, Any]],
    error: type[ConfigurationError],
    key: str,
    needle: str | None,
    message: str,
) -> None:
    exc = _load_error(sample_config, {"w": {"steps": steps}})
    assert isinstance(exc, error)
    assert exc.file == sample_config and exc.key == key
    assert exc.line is not None
    if needle is not None:
        assert exc.line == _line_of(sample_config, needle)
    assert re.search(message, str(exc)), str(exc)


def test_load_error_for_a_cycle_names_it(sample_config: Path) -> None:
    exc = _load_error(
        sample_config,
        {
            "w": {
                "steps": [
                    {"id": "a", "agent": "python-expert", "depends_on": ["c"]},
                    {"id": "b", "agent": "code-reviewer", "depends_on": ["a"]},
                    {"id": "c", "agent": "document-writer", "depends_on": ["b"]},
                ]
            }
        },
    )
    assert isinstance(exc, WorkflowCycleError) and exc.cycle == ["a", "c", "b", "a"]
    assert exc.key == "workflows.w" and "a → c → b → a" in str(exc)


@pytest.mark.parametrize(
    ("entry", "key", "message"),
    [
        (
            {"steps": [{"agent": "python-expert", "depends-on": ["x"]}]},
            "depends-on",
            "Extra inputs",
        ),
        ({"steps": [{"id": "x"}]}, "workflows.w.steps.0.agent", "required"),
        ({"steps": []}, "workflows.w.steps", "at least 1"),
        ({"steps": [{"agent": "python-expert", "on_failure": "explode"}]}, "on_failure", "Input"),
        ("python-expert", "workflows.w", "valid list"),
    ],
)
def test_schema_errors_point_at_the_dag_keys(
    sample_config: Path, entry: Any, key: str, message: str
) -> None:
    exc = _load_error(sample_config, {"w": entry})
    assert exc.key is not None and key in exc.key
    assert "dict[steps]" not in exc.key and "list[str]" not in exc.key
    assert message in str(exc)


def test_list_form_unknown_agent_still_reported(sample_config: Path) -> None:
    exc = _load_error(sample_config, {"w": ["python-expert", "ghost"]})
    assert isinstance(exc, UnknownAgentError) and "ghost" in str(exc)


def test_public_names_resolve() -> None:
    import claude_force.workflows as wf

    assert sorted(wf.__all__) == sorted(dir(wf))
    for name in wf.__all__:
        assert getattr(wf, name) is not None
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        _ = wf.Nope
