"""Public result types and protocols kept from claude-force 1.x/2.2 (see docs/migration.md)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, runtime_checkable


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


class BaseOrchestrator(ABC):
    """What every orchestrator offers."""

    @abstractmethod
    def run_agent(self, agent_name: str, task: str, **kwargs: Any) -> AgentResult: ...

    @abstractmethod
    def run_workflow(self, workflow_name: str, task: str, **kwargs: Any) -> Any: ...

    @abstractmethod
    def list_agents(self) -> list[dict[str, Any]]: ...

    @abstractmethod
    def list_workflows(self) -> dict[str, list[str]]: ...


@runtime_checkable
class CacheProtocol(Protocol):
    def get(self, agent_name: str, task: str, model: str) -> dict[str, Any] | None: ...

    def set(
        self,
        agent_name: str,
        task: str,
        model: str,
        response: str,
        input_tokens: int,
        output_tokens: int,
        estimated_cost: float,
    ) -> None: ...


@runtime_checkable
class TrackerProtocol(Protocol):
    def record_execution(self, agent_name: str, task: str, success: bool, **kwargs: Any) -> Any: ...

    def get_summary(self, hours: int | None = None) -> dict[str, Any]: ...
