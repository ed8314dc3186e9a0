"""Linear project loading: line numbers come from one index per file, each JSON container is
scanned at most once, and nothing is looked up for agents that are fine (issue 16, point 3)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _sec_helpers import hostile_project

from claude_force.config import load_project
from claude_force.config._jsonpos import JsonLines, line_of


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
