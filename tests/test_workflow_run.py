"""Workflows through the orchestrators, the call pipeline and the CLI (simulated, instant)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from _workflow_helpers import REVIEWERS, RecordingProvider, core_for, set_section, set_workflows
from claude_force import callctx
from claude_force.base import AgentResult
from claude_force.base import WorkflowResult as BaseWorkflowResult
from claude_force.cli.app import app
from claude_force.config import load_project
from claude_force.errors import InvalidRequestError, UnknownAgentError, UnknownWorkflowError
from claude_force.messages import MessageRequest, MessageResponse
from claude_force.orchestrator import AgentOrchestrator
from claude_force.providers.simulated import SIMULATED_BANNER, SimulatedProvider
from claude_force.workflows import WorkflowDAG, WorkflowResult

# --- the async core ------------------------------------------------------------------------------


async def test_code_quality_check_runs_the_reviewers_in_parallel(sample_config: Path) -> None:
    provider = RecordingProvider(rendezvous=set(REVIEWERS))
    async with core_for(sample_config, provider) as core:
        result = await core.execute_workflow("code-quality-check", "Review payments.py")
    assert isinstance(result, WorkflowResult) and isinstance(result, BaseWorkflowResult)
    assert result.status == "succeeded" and result.parallel
    assert provider.max_inflight == 3
    steps = result.steps
    reviewer_ends = [steps[a].end_offset_s or 0.0 for a in REVIEWERS]
    reviewer_starts = [steps[a].start_offset_s or 0.0 for a in REVIEWERS]
    assert max(reviewer_starts) <= min(reviewer_ends)  # all three ran at the same time
    assert (steps["document-writer"].start_offset_s or 0.0) >= max(reviewer_ends)
    assert result.critical_path[-1] == "document-writer" and len(result.critical_path) == 2
    assert result.critical_path_s <= result.wall_s
    summary_prompt = dict(provider.requests)["document-writer"]
    assert summary_prompt.count(SIMULATED_BANNER) == 3
    assert summary_prompt.startswith("Summarise the three reviews below")
    assert "Review payments.py" in summary_prompt
    # every call carries the workflow's name, run id and step id through the pipeline
    assert {c.workflow_name for c in provider.contexts} == {"code-quality-check"}
    assert {c.workflow_run_id for c in provider.contexts} == {result.run_id}
    assert {c.step_id for c in provider.contexts} == set(REVIEWERS) | {"document-writer"}
    positions = [ex.workflow_position for ex in result.executions()]
    assert positions == [0, 1, 2, 3]
    assert result.totals.executed_steps == 4 and result.totals.tokens > 0
    assert result.totals.cost_usd is not None and result.totals.cost_usd > 0
    assert result.output.startswith(SIMULATED_BANNER)


async def test_fail_fast_leaves_nothing_running_or_billing(sample_config: Path) -> None:
    provider = RecordingProvider(
        fail={"code-reviewer"}, block={"python-expert", "security-specialist"}
    )
    async with core_for(sample_config, provider) as core:
        result = await core.execute_workflow("code-quality-check", "t")
        assert provider.inflight == set()
        assert [t for t in asyncio.all_tasks() if t.get_name().startswith("workflow:")] == []
        sent = len(provider.requests)
        for _ in range(20):
            await asyncio.sleep(0)
        assert len(provider.requests) == sent
    assert sorted(provider.cancelled) == ["python-expert", "security-specialist"]
    assert "document-writer" not in dict(provider.requests)
    assert result.status == "failed" and result.error_type == "InvalidRequestError"
    assert result.by_status("failed") == ["code-reviewer"]
    assert result.by_status("cancelled") == ["python-expert", "security-specialist"]
    assert result.by_status("skipped") == ["document-writer"]


async def test_the_feature_flag_and_the_parallel_argument(sample_config: Path) -> None:
    set_section(sample_config, "features", parallel_workflows_enabled=False)
    provider = RecordingProvider()
    async with core_for(sample_config, provider) as core:
        sequential = await core.execute_workflow("code-quality-check", "t")
        assert provider.max_inflight == 1 and not sequential.parallel
        assert [a for a, _ in provider.requests] == [*REVIEWERS, "document-writer"]
        provider.max_inflight = 0
        provider.rendezvous = set(REVIEWERS)
        parallel = await core.execute_workflow("code-quality-check", "t", parallel=True)
        assert provider.max_inflight == 3 and parallel.parallel
        provider.rendezvous = set()
        provider.max_inflight = 0
        bounded = await core.execute_workflow(
            "code-quality-check", "t", parallel=True, max_concurrent=2
        )
        assert bounded.max_concurrent == 2 and provider.max_inflight <= 2 and bounded.success
    # the simulated model is deterministic: the same inputs give the same outputs either way
    assert {s: r.output for s, r in sequential.steps.items()} == {
        s: r.output for s, r in parallel.steps.items()
    }


async def test_run_workflow_keeps_returning_a_list(sample_config: Path) -> None:
    provider = RecordingProvider(fail={"test-engineer"})
    async with core_for(sample_config, provider) as core:
        executions = await core.run_workflow("refactor", "t")
        assert [(ex.agent, ex.success) for ex in executions] == [
            ("refactoring-specialist", True),
            ("test-engineer", False),
        ]
        # the list form keeps 2.2's prompt: the task, then the previous output
        assert dict(provider.requests)["test-engineer"].startswith(
            "t\n\n## Output of the previous step (refactoring-specialist)\n\n" + SIMULATED_BANNER
        )
        dag_list = await core.run_workflow("code-quality-check", "t")
        assert [ex.agent for ex in dag_list] == [*REVIEWERS, "document-writer"]
        with pytest.raises(UnknownWorkflowError, match="did you mean 'refactor'"):
            await core.run_workflow("refactr", "t")
        assert isinstance(UnknownWorkflowError("x"), ValueError)


async def test_a_dag_built_in_python(sample_config: Path) -> None:
    dag = WorkflowDAG("mine")
    dag.add_step("plan", "backend-architect")
    dag.add_step("schema", "database-architect", ["plan"], task="Schema for: {output:plan}")
    provider = RecordingProvider()
    async with core_for(sample_config, provider) as core:
        result = await core.execute_workflow(dag, "a todo service")
        assert result.success and result.workflow_name == "mine"
        assert dict(provider.requests)["database-architect"].startswith(
            "Schema for: " + SIMULATED_BANNER
        )
        bad = WorkflowDAG("bad")
        bad.add_step("x", "nobody")
        with pytest.raises(UnknownAgentError, match="unknown agent 'nobody'"):
            await core.execute_workflow(bad, "t")


async def test_resume_through_the_orchestrator(sample_config: Path) -> None:
    state = load_project(sample_config).state_dir / "workflows"
    failing = RecordingProvider(fail={"test-engineer"})
    async with core_for(sample_config, failing) as core:
        first = await core.execute_workflow("refactor", "t", checkpoint=True)
    assert first.status == "failed" and len(list(state.glob("refactor-*.jsonl"))) == 1
    fixed = RecordingProvider()
    async with core_for(sample_config, fixed) as core:
        second = await core.execute_workflow("refactor", "t", resume=True)
    assert [a for a, _ in fixed.requests] == ["test-engineer", "code-reviewer"]
    assert second.by_status("reused") == ["refactoring-specialist"] and second.success
    assert list(state.glob("refactor-*.jsonl")) == []


def test_the_sync_facade(sample_config: Path) -> None:
    with AgentOrchestrator(sample_config, provider=RecordingProvider()) as orch:
        results = orch.run_workflow("code-quality-check", "t")
        assert isinstance(results, list) and all(isinstance(r, AgentResult) for r in results)
        assert [r.agent_name for r in results] == [*REVIEWERS, "document-writer"]
        full = orch.execute_workflow("code-quality-check", "t", parallel=False)
        assert isinstance(full, WorkflowResult) and not full.parallel
        assert orch.list_workflows()["code-quality-check"] == [*REVIEWERS, "document-writer"]
        data = full.to_dict()
        assert data["workflow_name"] == "code-quality-check" and len(data["agent_results"]) == 4
        assert data["steps"][0]["execution"]["simulated"] is True
        json.dumps(data)  # serialisable as it is


# --- the CLI -------------------------------------------------------------------------------------

runner = CliRunner()


@pytest.fixture(autouse=True)
def _instant(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAUDE_FORCE_LATENCY", "instant")


def cli(*args: str) -> Result:
    return runner.invoke(app, list(args))


@pytest.fixture
def fail_agent(monkeypatch: pytest.MonkeyPatch) -> Iterator[set[str]]:
    """Agents named in the yielded set fail (400) through the simulated provider."""
    failing: set[str] = set()
    original = SimulatedProvider.send

    async def send(self: SimulatedProvider, request: MessageRequest) -> MessageResponse:
        if callctx.current().agent in failing:
            raise InvalidRequestError("bad request", status=400)
        return await original(self, request)

    monkeypatch.setattr(SimulatedProvider, "send", send)
    yield failing


def test_cli_run_workflow_json(in_project: Path) -> None:
    result = cli("run-workflow", "code-quality-check", "--task", "Review", "--json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["status"] == "succeeded" and data["parallel"] is True
    assert [s["step_id"] for s in data["steps"]] == [*REVIEWERS, "document-writer"]
    assert data["critical_path"][-1] == "document-writer"
    assert data["metadata"]["summary"]["tasks"] == 4
    assert "[4/4] step 4: document-writer  done" in result.stderr
    assert "code-quality-check: 4 steps, parallel, up to 10 at once" in result.stderr


def test_cli_run_workflow_sequential_text_and_quiet(in_project: Path, tmp_path: Path) -> None:
    text = cli("run-workflow", "code-quality-check", "-t", "Review", "--sequential", "-j", "3")
    assert text.exit_code == 0, text.stderr
    assert "code-quality-check step 4/4" in text.stdout
    assert "workflow code-quality-check: succeeded · 4 steps (4 ok)" in text.stdout
    assert "sequential" in text.stdout and text.stdout.count("SIMULATED —") == 1
    assert "4 steps, sequential" in text.stderr
    quiet = cli("run-workflow", "code-quality-check", "-t", "Review", "--quiet", "--parallel")
    assert quiet.exit_code == 0 and quiet.stderr == ""
    assert quiet.stdout.startswith(SIMULATED_BANNER)
    assert "Summarise the three reviews" in quiet.stdout
    task_file = tmp_path / "task.md"
    task_file.write_text("from a file")
    out = tmp_path / "out.json"
    written = cli(
        "run-workflow", "refactor", "--task-file", str(task_file), "--json", "-o", str(out)
    )
    assert written.exit_code == 0 and written.stdout == ""
    assert json.loads(out.read_text())["status"] == "succeeded"


def test_cli_failure_then_resume(in_project: Path, fail_agent: set[str]) -> None:
    fail_agent.add("test-engineer")
    failed = cli("run-workflow", "refactor", "-t", "T", "--json")
    assert failed.exit_code == 1
    data = json.loads(failed.stdout)
    assert data["status"] == "failed" and data["success"] is False
    assert [s["status"] for s in data["steps"]] == ["succeeded", "failed", "skipped"]
    assert "error: step test-engineer (test-engineer) failed: bad request" in failed.stderr
    assert "error: workflow refactor failed: step 'test-engineer' failed" in failed.stderr
    fail_agent.clear()
    resumed = cli("run-workflow", "refactor", "-t", "T", "--json")
    assert resumed.exit_code == 0, resumed.stderr
    assert [s["status"] for s in json.loads(resumed.stdout)["steps"]] == [
        "reused",
        "succeeded",
        "succeeded",
    ]
    assert "resumed: 1 step(s) reused" in resumed.stderr
    assert "reused from the checkpoint" in resumed.stderr


def test_cli_partial_run_warns_and_exits_0(in_project: Path, fail_agent: set[str]) -> None:
    raw = json.loads(in_project.read_text())
    raw["workflows"]["code-quality-check"]["on_failure"] = "skip_dependents"
    in_project.write_text(json.dumps(raw))
    fail_agent.add("security-specialist")
    result = cli("run-workflow", "code-quality-check", "-t", "T", "--fresh")
    assert result.exit_code == 0
    assert "warning: workflow code-quality-check finished with failed steps" in result.stderr
    assert "skipped: document-writer" in result.stderr


def test_cli_workflow_show(in_project: Path) -> None:
    text = cli("workflow", "show", "code-quality-check")
    assert text.exit_code == 0
    assert "stage 1 (in parallel):" in text.stdout and "```mermaid" in text.stdout
    mermaid = cli("workflow", "show", "code-quality-check", "--mermaid")
    assert mermaid.stdout.startswith("flowchart TD") and "s0 --> s3" in mermaid.stdout
    data = json.loads(cli("workflow", "show", "refactor", "--json").stdout)
    assert data["form"] == "list" and data["topological_order"] == [
        "refactoring-specialist",
        "test-engineer",
        "code-reviewer",
    ]
    unknown = cli("workflow", "show", "nope")
    assert unknown.exit_code == 2 and unknown.stderr.startswith("error: ")


def test_cli_workflow_validate(in_project: Path) -> None:
    ok = cli("workflow", "validate")
    assert (
        ok.exit_code == 0 and "✓ code-quality-check: 4 steps in 2 stage(s) (dag form)" in ok.stdout
    )
    one = json.loads(cli("workflow", "validate", "refactor", "--json").stdout)
    assert one == {
        "valid": True,
        "workflows": {"refactor": {"valid": True, "steps": 3, "stages": 3, "form": "list"}},
    }
    set_workflows(
        in_project,
        loop={"steps": [{"id": "a", "agent": "python-expert", "depends_on": ["a"]}]},
    )
    broken = cli("workflow", "validate")
    assert broken.exit_code == 2
    assert "✗ loop" in broken.stdout and "✓ refactor" in broken.stdout
    assert "error: " in broken.stderr and "depends on itself" in broken.stderr
    data = json.loads(cli("workflow", "validate", "--json").stdout)
    assert data["valid"] is False and data["workflows"]["loop"]["valid"] is False
    assert cli("workflow", "validate", "nope").exit_code == 2
    # a broken workflow does not lock the others: it is a warning, and refused when run
    run = cli("run-workflow", "refactor", "-t", "t", "--quiet")
    assert run.exit_code == 0 and "warning: workflow 'loop'" in run.stderr
    run = cli("run-workflow", "loop", "-t", "t")
    assert run.exit_code == 2 and "depends on itself" in run.stderr


async def test_workflow_runs_do_not_block_the_loop(sample_config: Path) -> None:
    from blockbuster import blockbuster_ctx

    provider = RecordingProvider(fail={"document-writer"})
    async with core_for(sample_config, provider) as core:
        with blockbuster_ctx(["claude_force"], excluded_modules=["claude_force.testing"]):
            first = await core.execute_workflow("code-quality-check", "t", checkpoint=True)
            provider.fail.clear()
            second = await core.execute_workflow("code-quality-check", "t", resume=True)
    assert first.status == "failed" and first.by_status("succeeded") == REVIEWERS
    assert second.success and second.by_status("reused") == REVIEWERS
    assert all("Blocking call" not in (s.error or "") for s in first.steps.values())
