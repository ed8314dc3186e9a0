"""The default executor: a step runs in-process through ``AsyncAgentOrchestrator.execute``.

So each step goes through the same runner and call pipeline (cache → rate limit → breaker →
retry → provider) and emits the same events as a single agent run, tagged with the workflow's
name, run id and step id.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..runner import Execution, RunOptions
from ..telemetry import tracing
from .checkpoint import fingerprint
from .dag import Step
from .engine import StepCall

if TYPE_CHECKING:
    from ..async_orchestrator import AsyncAgentOrchestrator

DEFAULT_MAX_TOKENS = RunOptions().max_tokens


class OrchestratorExecutor:
    """Runs steps with an :class:`~claude_force.async_orchestrator.AsyncAgentOrchestrator`."""

    def __init__(
        self,
        orchestrator: AsyncAgentOrchestrator,
        *,
        use_cache: bool = True,
        refresh: bool = False,
        temperature: float | None = None,
    ) -> None:
        self.orchestrator = orchestrator
        self.use_cache = use_cache
        self.refresh = refresh
        self.temperature = temperature

    async def run_step(self, call: StepCall) -> Execution:
        with tracing.step_span(call.workflow, call.step.id, call.step.agent):
            return await self.orchestrator.execute(
                call.step.agent, call.task, self.options_for(call)
            )

    def options_for(self, call: StepCall) -> RunOptions:
        """The run options of one step (its model, context, ids, deadline and cache flags)."""
        step = call.step
        return RunOptions(
            model=step.model,
            max_tokens=step.max_tokens or DEFAULT_MAX_TOKENS,
            temperature=self.temperature,
            workflow_name=call.workflow,
            workflow_position=call.position,
            context=call.context,
            use_cache=self.use_cache,
            refresh=self.refresh,
            workflow_run_id=call.run_id,
            step_id=step.id,
            # the step's timeout is its calls' deadline too: no retry or rate-limit wait is
            # started that could not finish in time (the engine still enforces it)
            timeout_s=step.timeout_seconds,
        )

    async def identity(self, step: Step) -> str:
        """The agent's system prompt (definition + contract) and resolved model, digested."""
        system = await self.orchestrator.load_agent_definition(step.agent)
        model = self.orchestrator.project.model_for(step.agent, step.model)
        return fingerprint(system, model, self.temperature)
