"""``AgentOrchestrator``: the synchronous API (kept from claude-force 1.x/2.2).

It drives the async core (:class:`~claude_force.async_orchestrator.AsyncAgentOrchestrator`) on a
private event loop thread; there is no second implementation. Callers already inside an event
loop use the ``a``-prefixed coroutine methods instead.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Unpack

from .._closing import Closing
from .._sync import LoopThread, blocking
from ..config import Project
from ..errors import ConfigurationError
from ..inputs import check_run
from ..runner import RunOptions
from .async_orchestrator import AsyncAgentOrchestrator, FaceOptions
from .base import AgentResult, BaseOrchestrator
from .hooks import originals, replaced

if TYPE_CHECKING:
    from ..workflows.dag import WorkflowDAG
    from ..workflows.result import WorkflowResult
    from .performance_tracker import PerformanceTracker


class AgentOrchestrator(BaseOrchestrator, Closing):
    """Run agents and workflows of a ``.claude/`` project."""

    #: The async core's class (``HybridOrchestrator`` swaps in one that routes models).
    core_class: type[AsyncAgentOrchestrator] = AsyncAgentOrchestrator

    def __init__(
        self,
        config_path: str | os.PathLike[str] = ".claude/claude.json",
        anthropic_api_key: str | None = None,
        enable_tracking: bool = True,
        enable_memory: bool = True,
        validate_api_key: bool = False,
        **options: Unpack[FaceOptions],
    ) -> None:
        self.core = self.core_class(
            config_path,
            api_key=anthropic_api_key,
            enable_tracking=enable_tracking,
            enable_memory=enable_memory,
            **options,
        )
        # the key given, else ANTHROPIC_API_KEY as read once when the project was loaded
        self.api_key = self.core.project.environment.key(anthropic_api_key)
        if validate_api_key and not self.api_key and not options.get("simulate"):
            raise ValueError(
                "Anthropic API key required: pass anthropic_api_key or set ANTHROPIC_API_KEY "
                "(or use simulate=True to run offline)"
            )
        self.enable_tracking = enable_tracking
        self.enable_memory = enable_memory
        self._loop = LoopThread()
        self._client: Any = None
        self._client_assigned = False
        self._tracker: PerformanceTracker | None = None

    # --- properties kept from 2.2 ---------------------------------------------------------------

    @property
    def project(self) -> Project:
        return self.core.project

    @property
    def config_path(self) -> Path:
        return self.core.config_path

    @property
    def config(self) -> dict[str, Any]:
        """The project's settings as a plain dict (2.2 exposed the parsed JSON)."""
        return self.project.settings.model_dump(mode="json", exclude_none=True)

    @property
    def client(self) -> Any:
        """A synchronous ``anthropic.Anthropic`` client, created at first use (2.2 attribute).

        claude-force itself sends requests through the async core; this client is for callers
        that used ``orchestrator.client`` directly.
        """
        if self._client is None:
            import anthropic

            self._client = anthropic.Anthropic(api_key=self.api_key, max_retries=0)
        return self._client

    @client.setter
    def client(self, value: Any) -> None:
        """Assigning a client (2.2 tests assign mocks) routes every call through it."""
        self._client = value
        self._client_assigned = value is not None

    def _sync_client(self) -> None:
        """At the entry of each call: hand a client assigned to (or patched over) ``client`` to
        the async face, which puts it into the engine below the cache and resilience layers."""
        client = self._client if self._client_assigned else replaced(self, "client", _HOOKS)
        self.core._outer_client = client

    # --- running ----------------------------------------------------------------------------------

    async def arun_agent(
        self,
        /,
        agent_name: str,
        task: str,
        model: str | None = None,
        max_tokens: int = 4096,
        temperature: float | None = None,
        workflow_name: str | None = None,
        workflow_position: int | None = None,
        **_: Any,
    ) -> AgentResult:
        """Run one agent. Failures are returned as ``success=False`` with ``errors``.

        An invalid agent name or a task over 100,000 characters raises ``ValueError`` first (the
        checks of 2.2's ``execute_agent``), before anything is read or sent.
        """
        check_run(agent_name, task)
        # RunOptions' first fields are 2.2's run arguments, in 2.2's order
        opts = RunOptions(model, max_tokens, temperature, workflow_name, workflow_position)
        self._sync_client()
        return (await self.core.execute(agent_name, task, opts)).to_agent_result()

    run_agent = blocking(arun_agent)

    async def arun_workflow(
        self, /, workflow_name: str, task: str, pass_output_to_next: bool = True, **_: Any
    ) -> list[AgentResult]:
        """Run a workflow; returns one result per step that ran (stops at the first failure)."""
        self._sync_client()
        executions = await self.core.run_workflow(workflow_name, task, pass_output_to_next)
        return [ex.to_agent_result() for ex in executions]

    run_workflow = blocking(arun_workflow)

    async def aexecute_workflow(
        self, /, workflow: str | WorkflowDAG, task: str, **options: Any
    ) -> WorkflowResult:
        """Run a workflow and return the full result (per-step timing, critical path, totals).

        ``options`` are those of :meth:`AsyncAgentOrchestrator.execute_workflow` (``parallel``,
        ``max_concurrent``, ``timeout_seconds``, ``resume`` …); an ``observer`` is called on the
        orchestrator's loop thread.
        """
        self._sync_client()
        return await self.core.execute_workflow(workflow, task, **options)

    execute_workflow = blocking(aexecute_workflow)

    def run_many(self, items: list[tuple[str, str]]) -> list[AgentResult]:
        """Run (agent, task) pairs concurrently within the configured bound."""
        self._sync_client()
        return [ex.to_agent_result() for ex in self._loop.run(self.core.execute_many(items))]

    # --- project information ----------------------------------------------------------------------

    def list_agents(self) -> list[dict[str, Any]]:
        agents = [
            {
                "name": name,
                "file": spec.file,
                "domains": list(spec.domains),
                "priority": spec.priority,
            }
            for name, spec in self.project.settings.agents.items()
        ]
        return sorted(agents, key=lambda a: (a["priority"], a["name"]))

    def list_workflows(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for name, spec in self.project.settings.workflows.items():
            if isinstance(spec, list):
                out[name] = list(spec)
            else:  # the DAG form: its steps' agents, in definition order
                out[name] = [step.agent for step in spec.steps]
        return out

    def get_agent_info(self, agent_name: str) -> dict[str, Any]:
        try:
            spec = self.project.agent(agent_name)
        except ConfigurationError as exc:
            raise ValueError(str(exc)) from None
        docs = self.project.read_agent(agent_name)
        return {
            "name": agent_name,
            "file": spec.file,
            "contract": spec.contract,
            "domains": list(spec.domains),
            "priority": spec.priority,
            "description": spec.description or _first_paragraph(docs.definition),
            "model": self.project.model_for(agent_name),
        }

    # --- performance (kept from 2.2; see claude_force.performance_tracker) --------------------

    @property
    def tracker(self) -> PerformanceTracker | None:
        """The 2.2 tracker view of this orchestrator's metrics (None with tracking off)."""
        if self.core.metrics is None:
            return None
        if self._tracker is None:
            from .performance_tracker import PerformanceTracker

            self._tracker = PerformanceTracker(tracker=self.core.metrics)
        return self._tracker

    def _require_tracker(self) -> PerformanceTracker:
        tracker = self.tracker
        if tracker is None:
            raise RuntimeError(
                "performance tracking is off: create the orchestrator with enable_tracking=True "
                "(and keep metrics.enabled true in claude.json)"
            )
        return tracker

    def get_performance_summary(self, hours: float | None = None) -> dict[str, Any]:
        return self._require_tracker().get_summary(hours)

    def get_agent_performance(self, agent_name: str | None = None) -> dict[str, Any]:
        return self._require_tracker().get_agent_stats(agent_name)

    def get_cost_breakdown(self) -> dict[str, Any]:
        return self._require_tracker().get_cost_breakdown()

    def export_performance_metrics(self, output_path: str, format: str = "json") -> None:
        tracker = self._require_tracker()
        if format == "json":
            tracker.export_json(output_path)
        elif format == "csv":
            tracker.export_csv(output_path)
        else:
            raise ValueError(f"unsupported format '{format}': use 'json' or 'csv'")

    # --- lifecycle --------------------------------------------------------------------------------

    def __enter__(self) -> AgentOrchestrator:
        """Load the provider (SDK import, client) now, before any run's clock starts."""
        self._loop.run(self.core.prepare())
        return self

    def close(self) -> None:
        if self._loop.running:
            self._loop.run(self.core.close())
        self._loop.close()


def _first_paragraph(markdown: str) -> str:
    """The first non-heading paragraph of an agent file, as its description."""
    for block in markdown.split("\n\n"):
        text = " ".join(line.strip() for line in block.splitlines() if not line.startswith("#"))
        if text.strip():
            return text.strip()[:300]
    return ""


_HOOKS = originals(AgentOrchestrator, "client")
