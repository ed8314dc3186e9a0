"""``--no-cache`` and ``--refresh`` on every command that runs agents, observed end to end:
whether the answer came from the cache, and what the cache's statistics counted."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from claude_force.cli.app import app

runner = CliRunner()


@pytest.fixture(autouse=True)
def _instant(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAUDE_FORCE_LATENCY", "instant")


def run_json(*args: str) -> Any:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def cache_counts() -> tuple[int, int, int]:
    stats = run_json("cache", "stats")
    return stats["hits"], stats["misses"], stats["stores"]


def test_run_agent_honours_no_cache_and_refresh(in_project: Path) -> None:
    agent = ("run", "agent", "python-expert", "--task", "Explain generators")
    assert run_json(*agent)["metadata"]["cached"] is False
    assert run_json(*agent)["metadata"]["cached"] is True
    assert cache_counts() == (1, 1, 1)
    # --no-cache: neither read nor written
    assert run_json(*agent, "--no-cache")["metadata"]["cached"] is False
    assert cache_counts() == (1, 1, 1)
    # --refresh: the cached answer is skipped (no lookup), the fresh one is stored
    assert run_json(*agent, "--refresh")["metadata"]["cached"] is False
    assert cache_counts() == (1, 1, 2)
    assert run_json(*agent)["metadata"]["cached"] is True


@pytest.mark.parametrize("command", [("run-workflow",), ("run", "workflow")])
def test_workflows_honour_no_cache_and_refresh(in_project: Path, command: tuple[str, ...]) -> None:
    wf = (*command, "refactor", "--task", "Tidy the parser module")

    def cached_flags(*extra: str) -> list[bool]:
        data = run_json(*wf, *extra)
        assert data["success"] is True
        return [r["metadata"]["cached"] for r in data["agent_results"]]

    assert cached_flags() == [False, False, False]
    assert cached_flags() == [True, True, True]
    hits, misses, stores = cache_counts()
    assert (hits, misses, stores) == (3, 3, 3)
    assert cached_flags("--no-cache") == [False, False, False]
    assert cache_counts() == (3, 3, 3)
    assert cached_flags("--refresh") == [False, False, False]
    assert cache_counts() == (3, 3, 6)
