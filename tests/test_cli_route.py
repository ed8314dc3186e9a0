"""``claude-force route`` and ``claude-force execute --auto-model``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from claude_force.cli.app import app

runner = CliRunner()
CRITICAL = "Audit the login flow for security vulnerabilities before the production release"


@pytest.fixture(autouse=True)
def _instant(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAUDE_FORCE_LATENCY", "instant")


def test_route_explains_the_choice(in_project: Path) -> None:
    result = runner.invoke(app, ["route", "security-specialist", CRITICAL])
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "claude-opus-5-5 (routed)" in out and "critical (score +5)" in out
    assert "critical keywords: security, vulnerabilities, production (+4)" in out
    assert "estimate:" in out and "no prompt-cache discount" in out


def test_route_json(in_project: Path, tmp_path: Path) -> None:
    task = tmp_path / "task.md"
    task.write_text("Fix typo in README")
    result = runner.invoke(
        app, ["route", "document-writer", "--task-file", str(task), "--json", "--batch"]
    )
    assert result.exit_code == 0, result.stderr
    d = json.loads(result.stdout)
    assert d["agent"] == "document-writer" and d["model"] == "claude-haiku-5-5"
    assert d["complexity"] == "simple" and d["estimate"]["batch"] is True
    forced = runner.invoke(
        app, ["route", "document-writer", "x", "--complexity", "critical", "--json"]
    )
    assert json.loads(forced.stdout)["model"] == "claude-opus-5-5"
    named = runner.invoke(app, ["route", "document-writer", "x", "--model", "sonnet", "--json"])
    assert json.loads(named.stdout)["source"] == "explicit"


def test_route_over_budget_and_usage_errors(in_project: Path) -> None:
    data = json.loads(in_project.read_text())
    data["routing"] = {"cost_threshold_usd": 0.0000001}
    in_project.write_text(json.dumps(data))
    over = runner.invoke(app, ["route", "security-specialist", CRITICAL])
    assert over.exit_code == 1 and "exceeds cost_threshold" in over.stderr
    data["routing"] = {"cost_threshold_usd": 0.01}
    in_project.write_text(json.dumps(data))
    down = runner.invoke(app, ["route", "security-specialist", CRITICAL])
    assert down.exit_code == 0 and "stepped down from" in down.stdout
    assert "cost threshold" in down.stdout
    assert runner.invoke(app, ["route", "nobody", "x"]).exit_code == 2
    assert runner.invoke(app, ["route", "document-writer"]).exit_code == 2
    bad = runner.invoke(app, ["route", "document-writer", "x", "--complexity", "huge"])
    assert bad.exit_code == 2 and "unknown complexity" in bad.stderr


def test_execute_auto_model(in_project: Path) -> None:
    result = runner.invoke(
        app,
        [
            "--simulate",
            "execute",
            "document-writer",
            "Fix typo in README",
            "--auto-model",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.stderr
    meta = json.loads(result.stdout)["results"][0]["metadata"]
    assert meta["model"] == "claude-haiku-5-5" and meta["routing"]["source"] == "routed"
    plain = runner.invoke(app, ["--simulate", "execute", "document-writer", "Fix it", "--json"])
    meta = json.loads(plain.stdout)["results"][0]["metadata"]
    assert meta["model"] == "claude-sonnet-5-5" and "routing" not in meta


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["route", "python-expert"], "no task given"),
        (
            ["route", "python-expert", "t", "--task-file", "-"],
            "give only one of TASK and --task-file",
        ),
        (
            ["recommend", "--task", "t", "--task-file", "-"],
            "give only one of --task and --task-file",
        ),
        (["route", "python-expert", "  "], "the task is empty"),
    ],
)
def test_the_task_commands_read_one_task_the_same_way(
    in_project: Path, args: list[str], says: str
) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert says in result.stderr
