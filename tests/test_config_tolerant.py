"""Tolerant loading: each agent and workflow is validated on its own (config/tolerant.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from _core_helpers import write_project
from claude_force.config import load_project
from claude_force.config.tolerant import DefinitionWarning
from claude_force.errors import ConfigurationError, ModelError

FILES = {"agents/a.md": "# A\n\nAgent A.\n", "agents/b.md": "# B\n\nAgent B.\n"}

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def project(tmp_path: Path, agents: dict[str, Any], workflows: dict[str, Any] | None = None,
            **extra: Any) -> Path:  # fmt: skip
    return write_project(tmp_path, {"agents": agents, "workflows": workflows or {}, **extra}, FILES)


def test_an_invalid_agent_entry_blocks_only_that_agent(tmp_path: Path) -> None:
    path = project(
        tmp_path,
        {"a": {"file": "agents/a.md"}, "b": {"file": "agents/b.md", "priority": "high"}},
        {"ab": ["a", "b"], "aa": ["a", "a"]},
    )
    with pytest.warns(DefinitionWarning, match="agent 'b' cannot be used"):
        p = load_project(path)
    assert list(p.settings.agents) == ["a"] and list(p.settings.workflows) == ["aa"]
    with pytest.raises(ConfigurationError) as info:
        p.agent("b")
    assert info.value.key == "agents.b.priority" and info.value.line == 8
    with pytest.raises(ConfigurationError, match="uses agent 'b', which cannot be used"):
        p.workflow("ab")
    assert p.workflow_names() == ["ab", "aa"]
    problem = p.problem("b")
    assert problem is not None and problem.to_dict()["key"] == "agents.b.priority"


def test_a_retired_agent_model_blocks_only_that_agent(tmp_path: Path) -> None:
    path = project(
        tmp_path,
        {"a": {"file": "agents/a.md"}, "b": {"file": "agents/b.md", "model": "claude-3-opus"}},
        models={"agents": {"a": "claude-3-haiku-20240307"}},
    )
    p = load_project(path)
    assert list(p.settings.agents) == []  # both: one by its own model, one by models.agents
    assert p.settings.models.agents == {}
    with pytest.raises(ModelError, match="claude-opus-5-5"):
        p.model_for("b")
    with pytest.raises(ModelError, match=r"models\.agents\.a"):
        p.agent("a")


def test_a_workflow_step_with_a_retired_model_blocks_only_the_workflow(tmp_path: Path) -> None:
    steps = [{"agent": "a", "model": "claude-2.1"}]
    path = project(tmp_path, {"a": {"file": "agents/a.md"}}, {"w": {"steps": steps}, "ok": ["a"]})
    p = load_project(path)
    assert list(p.settings.workflows) == ["ok"]
    with pytest.raises(ModelError):
        p.workflow("w")


def test_project_wide_problems_stay_fatal(tmp_path: Path) -> None:
    path = project(tmp_path, {"a": {"file": "agents/a.md"}}, performance={"timeout_seconds": -1})
    with pytest.raises(ConfigurationError, match=r"performance\.timeout_seconds"):
        load_project(path)
    path = write_project(tmp_path / "x", {"agents": ["a"]}, FILES)
    with pytest.raises(ConfigurationError, match="agents"):
        load_project(path)


def test_strict_mode_keeps_the_first_error(tmp_path: Path) -> None:
    path = project(tmp_path, {"a": {"file": "agents/missing.md"}})
    with pytest.raises(ConfigurationError, match="does not exist"):
        load_project(path, strict=True)
    assert [p.name for p in load_project(path).problems] == ["a"]
