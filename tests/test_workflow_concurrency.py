"""``execute_workflow(max_concurrent=N)`` above the orchestrator's bound raises it, as the CLI."""

from __future__ import annotations

from pathlib import Path

from _workflow_helpers import REVIEWERS, RecordingProvider, core_for
from claude_force.workflows import WorkflowDAG, execute_workflow


async def test_a_larger_workflow_bound_raises_the_orchestrators(sample_config: Path) -> None:
    provider = RecordingProvider()
    async with core_for(sample_config, provider, max_concurrent=1) as core:
        warm = await core.execute_agent("python-expert", "warm up")  # the semaphore exists now
        assert warm.success
        provider.rendezvous = set(REVIEWERS)
        result = await execute_workflow(
            core, "code-quality-check", "t", parallel=True, max_concurrent=3
        )
        assert result.success and result.max_concurrent == 3
        assert provider.max_inflight == 3  # the three reviewers answered together
        assert core.max_concurrent == 3


async def test_the_workflows_own_bound_counts_too_and_nothing_is_ever_lowered(
    sample_config: Path,
) -> None:
    dag = WorkflowDAG("wide", max_concurrent=3)
    for agent in REVIEWERS:
        dag.add_step(agent, agent)
    provider = RecordingProvider(rendezvous=set(REVIEWERS))
    async with core_for(sample_config, provider, max_concurrent=2) as core:
        assert (await core.execute_workflow(dag, "t", parallel=True)).success
        assert provider.max_inflight == 3 and core.max_concurrent == 3
        provider.rendezvous = set()
        await core.execute_workflow(dag, "t", parallel=True, max_concurrent=1)
        assert core.max_concurrent == 3


async def test_a_sequential_run_leaves_the_bound_alone(sample_config: Path) -> None:
    provider = RecordingProvider()
    async with core_for(sample_config, provider, max_concurrent=1) as core:
        result = await core.execute_workflow(
            "code-quality-check", "t", parallel=False, max_concurrent=5
        )
        assert result.success and provider.max_inflight == 1 and core.max_concurrent == 1
