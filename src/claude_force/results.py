"""The result types every interface reports (kept from claude-force 1.x/2.2; see docs/migration.md).

:class:`AgentResult` and :class:`WorkflowResult` are plain data, views of the engine's
``Execution`` and ``workflows.WorkflowResult``; the engine and the faces both use them, so they
live below both. ``claude_force.base`` (the 2.2 path) re-exports them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class AgentResult:
    """The result of one agent run. Failures are results with ``success=False`` and ``errors``."""

    success: bool
    output: str
    errors: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    agent_name: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class WorkflowResult:
    """The result of a workflow: one :class:`AgentResult` per step, in order."""

    success: bool
    agent_results: list[AgentResult] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    workflow_name: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "success": self.success,
            "workflow_name": self.workflow_name,
            "agent_results": [r.to_dict() for r in self.agent_results],
            "metadata": dict(self.metadata),
        }
