"""The small items of issue 16 (point 9): an empty list-form workflow, a 10,000-step cycle, a
read-only ``cache stats`` on a damaged cache, no speedup for an all-failed run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _sec_helpers import cli, error_line, hostile_project

from claude_force.errors import WorkflowCycleError
from claude_force.testing import EmulatorThread


def test_an_empty_list_workflow_is_refused_by_list_agents_and_validate_alike(
    tmp_path: Path,
) -> None:
    config = hostile_project(tmp_path, {"a": {}}, workflows={"empty": []})
    listed = cli("--config", str(config), "list", "agents")
    validated = cli("--config", str(config), "workflow", "validate", "empty")
    # tolerant loading (issue 12): listing works and warns; validating (or running) refuses it
    assert listed.exit_code == 0 and validated.exit_code == 2
    for result in (listed, validated):
        assert "workflow 'empty' has no steps" in result.stderr


def test_a_ten_thousand_step_cycle_is_one_short_line(tmp_path: Path) -> None:
    steps = [
        {"id": f"s{i}", "agent": "a", "depends_on": [f"s{(i + 1) % 10_000}"]} for i in range(10_000)
    ]
    config = hostile_project(tmp_path, {"a": {}}, workflows={"loop": {"steps": steps}})
    result = cli("--config", str(config), "workflow", "validate", "loop")
    assert result.exit_code == 2
    line = error_line(result)
    assert len(line) < 600 and "dependency cycle of 10,000 steps" in line
    assert "more" in line


def test_the_cycle_error_keeps_the_whole_cycle() -> None:
    cycle = [f"s{i}" for i in range(50)] + ["s0"]
    err = WorkflowCycleError(cycle)
    assert err.cycle == cycle and "… 41 more …" in str(err)
    assert str(WorkflowCycleError(["a", "b", "a"])).startswith("dependency cycle a → b → a")


def test_cache_stats_leaves_a_damaged_cache_where_it_is(sample_config: Path) -> None:
    ran = cli("--config", str(sample_config), "--simulate", "execute", "python-expert", "hi")
    assert ran.exit_code == 0, ran.output
    db = sample_config.parent / "state" / "cache.db"
    db.write_bytes(b"this is not a database at all" * 10)

    def files() -> list[str]:  # (the settings snapshot may appear: config/snapshot.py)
        return sorted(p.name for p in db.parent.iterdir() if p.name != "settings-snapshot.json")

    before = files()
    for command in (("cache", "stats"), ("cache", "list")):
        result = cli("--config", str(sample_config), *command)
        assert result.exit_code == 1
        assert "damaged" in error_line(result) and "left as it is" in error_line(result)
    assert files() == before  # nothing moved aside


def test_an_all_failed_run_reports_no_speedup(
    sample_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with EmulatorThread(latency="instant", faults="500/noretry:1") as emu:  # an outage
        monkeypatch.setenv("ANTHROPIC_BASE_URL", emu.base_url)
        args = ("--config", str(sample_config), "--api-key", "test", "execute")
        result = cli(*args, "python-expert", "a", "b", "c", "--json", "--no-cache")
    assert result.exit_code == 1
    summary = json.loads(result.stdout)["summary"]
    assert summary["failed"] == 3 and summary["speedup"] is None
