"""A 2.2 project folder with stale workflows loads and runs (pytest style, CLI and Python API)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
from typer.testing import CliRunner

from claude_force import AgentOrchestrator
from claude_force.async_orchestrator import AsyncAgentOrchestrator
from claude_force.cli.app import app
from claude_force.config import load_project
from claude_force.config.tolerant import DefinitionWarning
from claude_force.errors import ConfigurationError, UnknownAgentError, WorkflowCycleError
from compat._project22 import copy_project22


@pytest.fixture
def stale22(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    config = copy_project22(tmp_path, stale=True)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CLAUDE_FORCE_LATENCY", "instant")
    return config


def cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_the_project_loads_and_reports_each_broken_workflow_once(stale22: Path) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        project = load_project()
        load_project()  # loaded again in the same process: not reported again
    messages = [str(w.message) for w in caught if issubclass(w.category, DefinitionWarning)]
    assert len(messages) == 2
    stale = next(m for m in messages if "'stale'" in m)
    text = stale22.read_text().splitlines()
    line = next(i for i, t in enumerate(text, 1) if '"removed-agent"' in t)  # the step's line
    assert f"{stale22}:{line}: workflows.stale:" in stale
    assert "names unknown agent 'removed-agent'" in stale
    assert "define the agent or remove the step" in stale  # the fix
    assert "dependency cycle a → b → a" in next(m for m in messages if "'loop'" in m)
    assert sorted(project.settings.workflows) == ["python-review", "review-and-document"]
    assert [p.name for p in project.problems] == ["stale", "loop"]


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_the_python_api_works_around_the_stale_workflows(stale22: Path) -> None:
    with AgentOrchestrator(simulate=True) as orch:
        assert [a["name"] for a in orch.list_agents()] == [
            "code-reviewer",
            "python-expert",
            "document-writer-expert",
        ]
        assert set(orch.list_workflows()) == {"review-and-document", "python-review"}
        assert orch.run_agent("python-expert", "Explain decorators").success
        assert [r.success for r in orch.run_workflow("python-review", "Review x.py")] == [
            True,
            True,
        ]
        with pytest.raises(ValueError, match="names unknown agent 'removed-agent'") as info:
            orch.run_workflow("stale", "task")
        assert isinstance(info.value, UnknownAgentError)
        with pytest.raises(WorkflowCycleError):
            orch.run_workflow("loop", "task")


@pytest.mark.filterwarnings("ignore::UserWarning")
async def test_the_async_api_works_around_the_stale_workflows(stale22: Path) -> None:
    async with AsyncAgentOrchestrator(simulate=True) as orch:
        result = await orch.execute_agent("code-reviewer", "Review this")
    assert result.success


def test_cli_lists_and_runs_and_refuses_only_the_stale_workflow(stale22: Path) -> None:
    code, out, err = cli("list", "agents", "--json")
    assert code == 0
    assert [a["name"] for a in json.loads(out)] == [
        "code-reviewer",
        "python-expert",
        "document-writer-expert",
    ]
    assert err.count("warning: workflow 'stale' cannot be used until fixed") == 1
    code, out, _ = cli("--demo", "run", "agent", "python-expert", "--task", "hi", "--json")
    assert code == 0 and json.loads(out)["success"] is True
    code, out, err = cli("--demo", "run-workflow", "stale", "--task", "hi")
    assert code == 2 and out == ""
    assert "error:" in err and "names unknown agent 'removed-agent'" in err
    code, _, _ = cli("--demo", "run-workflow", "python-review", "--task", "hi", "--quiet")
    assert code == 0


def test_validate_lists_every_problem_and_exits_2(stale22: Path) -> None:
    code, out, err = cli("validate")
    assert code == 2
    assert "✗ workflow 'stale':" in out and "✗ workflow 'loop':" in out
    assert "2 problem(s)" in out
    assert "warning:" not in err  # listed once, by the command itself
    code, out, _ = cli("validate", "--json")
    report = json.loads(out)
    assert code == 2 and report["valid"] is False
    stale = report["problems"][0]
    assert stale["kind"] == "workflow" and stale["name"] == "stale" and stale["line"] > 1
    assert stale["error"] == "workflow 'stale' step 2 names unknown agent 'removed-agent'"
    code, out, _ = cli("workflow", "validate")
    assert code == 2 and "✓ python-review" in out and "✗ stale" in out and "✗ loop" in out


def test_a_clean_2_2_project_validates(project22: Path) -> None:
    code, out, err = cli("validate")
    assert code == 0 and out.startswith("✓ ") and "no problems" in out
    assert err == ""


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_a_broken_agent_blocks_only_itself_and_its_workflows(stale22: Path) -> None:
    (stale22.parent / "agents" / "document-writer-expert.md").unlink()
    with AgentOrchestrator(simulate=True) as orch:
        assert "document-writer-expert" not in [a["name"] for a in orch.list_agents()]
        broken = orch.run_agent("document-writer-expert", "Write the docs")
        assert not broken.success and "does not exist" in broken.errors[0]
        assert orch.run_agent("code-reviewer", "Review").success
        assert list(orch.list_workflows()) == ["python-review"]
        with pytest.raises(ConfigurationError, match="uses agent 'document-writer-expert'"):
            orch.run_workflow("review-and-document", "task")
    code, out, _ = cli("validate", "--json")
    kinds = [(p["kind"], p["name"]) for p in json.loads(out)["problems"]]
    assert code == 2 and ("agent", "document-writer-expert") in kinds
    assert ("workflow", "review-and-document") in kinds
    code, _, err = cli("--demo", "run", "agent", "document-writer-expert", "--task", "x")
    assert code == 2 and "document-writer-expert.md' does not exist" in err


def test_strict_loading_raises_the_first_problem(stale22: Path) -> None:
    with pytest.raises(UnknownAgentError, match="removed-agent"):
        load_project(strict=True)
