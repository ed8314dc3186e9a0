"""Linear project loading: line numbers come from one index per file, each JSON container is
scanned at most once, and nothing is looked up for agents that are fine (issue 16, point 3)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from _sec_helpers import hostile_project

from claude_force.config import load_project
from claude_force.config._jsonpos import JsonLines, line_of
from claude_force.config.tolerant import DefinitionWarning


def test_line_numbers_match_a_plain_count() -> None:
    data = {
        "agents": {f"a{i}": {"file": f"agents/{i}.md", "domains": ["x", "y"]} for i in range(50)},
        "workflows": {"w": ["a1", "a2"]},
    }
    text = json.dumps(data, indent=2)
    lines = text.splitlines()
    for i in (0, 17, 49):
        line = line_of(text, ["agents", f"a{i}", "file"])
        assert line is not None and f'"file": "agents/{i}.md"' in lines[line - 1]
    assert line_of(text, ["workflows", "w", 1]) is not None
    assert '"a2"' in lines[line_of(text, ["workflows", "w", 1]) - 1]  # type: ignore[operator]
    assert line_of(text, ["agents", "nobody"]) is None
    assert line_of(text, ["agents", 0]) is None  # an index into an object
    assert line_of("", ["agents"]) is None


def test_each_container_is_scanned_once(monkeypatch: pytest.MonkeyPatch) -> None:
    text = json.dumps({"agents": {f"a{i}": {"file": "f", "model": "m"} for i in range(500)}})
    calls: list[int] = []
    original = JsonLines._scan

    def counted(self: JsonLines, pos: int) -> dict[str | int, tuple[int, int]]:
        calls.append(pos)
        return original(self, pos)

    monkeypatch.setattr(JsonLines, "_scan", counted)
    index = JsonLines(text)
    for _ in range(3):
        for i in range(500):
            assert index.line_of(["agents", f"a{i}", "model"]) == 1
    assert len(calls) == len(set(calls)) == 2 + 500  # root, agents, each agent once


def test_loading_many_agents_scans_claude_json_a_bounded_number_of_times(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    agents = {f"agent-{i}": {"model": "claude-sonnet-5-5", "priority": 1} for i in range(400)}
    config = hostile_project(tmp_path, agents)
    calls = 0
    original = JsonLines._scan

    def counted(self: JsonLines, pos: int) -> dict[str | int, tuple[int, int]]:
        nonlocal calls
        calls += 1
        return original(self, pos)

    monkeypatch.setattr(JsonLines, "_scan", counted)
    project = load_project(config)
    for name in project.agent_names:  # and again: nothing is scanned twice
        project.read_agent(name)
    assert calls <= 2 + len(agents)  # linear: the old walk scanned the agents 3 times each


@pytest.fixture
def validations(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts ``ProjectSettings.model_validate`` calls (one item per call)."""
    from claude_force.config.schema import ProjectSettings

    calls: list[int] = []
    original = ProjectSettings.model_validate.__func__  # type: ignore[attr-defined]

    def counted(cls: type[ProjectSettings], *args: object, **kwargs: object) -> ProjectSettings:
        calls.append(1)
        return original(cls, *args, **kwargs)  # type: ignore[no-any-return]

    monkeypatch.setattr(ProjectSettings, "model_validate", classmethod(counted))
    return calls


def test_a_valid_project_is_validated_once_not_once_per_agent(
    tmp_path: Path, validations: list[int]
) -> None:
    agents = {f"agent-{i}": {"priority": 1} for i in range(200)}
    config = hostile_project(tmp_path, agents)
    project = load_project(config)
    assert len(project.agent_names) == 200
    assert (
        len(validations) == 1
    )  # validating each agent on its own built a whole settings object each


def test_one_broken_agent_among_many_costs_a_few_validations(
    tmp_path: Path, validations: list[int]
) -> None:
    agents: dict[str, object] = {f"agent-{i}": {"priority": 1} for i in range(200)}
    agents["agent-7"] = {"priority": "high"}
    agents["agent-9"] = {"priority": float("inf")}  # written as Infinity
    config = hostile_project(tmp_path, agents)
    with pytest.warns(DefinitionWarning) as caught:
        project = load_project(config)
    assert "agent-7" not in project.agent_names and "agent-9" not in project.agent_names
    assert len(project.agent_names) == 198
    said = " ".join(str(w.message) for w in caught)
    assert "agents.agent-7.priority" in said and "agents.agent-9" in said and "finite" in said
    assert (
        len(validations) <= 6
    )  # the whole file, the section once, each suspect alone, the rest once


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"a": 1.5, "b": 1e308, "c": 12345678901234567890}', False),
        ('{"a": "Infinity is a string here"}', False),
        ('{"a": 1e400}', True),
        ('{"a": -Infinity}', True),
        ('{"a": NaN}', True),
        ('{"a": ' + "9" * 400 + ".0}", True),
        ("{not json", True),  # cannot tell: the caller walks the values
    ],
)
def test_non_finite_numbers_are_found_from_the_text(text: str, expected: bool) -> None:
    from claude_force.config.loader import may_hold_non_finite

    assert may_hold_non_finite(text) is expected


def test_listing_stats_agent_files_and_still_sets_broken_ones_aside(tmp_path: Path) -> None:
    agents = {f"agent-{i}": {"priority": 1} for i in range(5)}
    config = hostile_project(tmp_path, agents)
    agents_dir = config.parent / "agents"
    (agents_dir / "1.md").write_text("")  # empty
    (agents_dir / "2.md").unlink()  # missing
    (agents_dir / "3.md").unlink()
    os.mkfifo(agents_dir / "3.md")  # would block a reader: stat only
    with pytest.warns(DefinitionWarning) as caught:
        project = load_project(config, check_files="stat")
    assert project.agent_names == ["agent-0", "agent-4"]
    said = " ".join(str(w.message) for w in caught)
    assert "is empty" in said and "does not exist" in said and "not a regular file" in said
