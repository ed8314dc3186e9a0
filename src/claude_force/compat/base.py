"""The 2.2 orchestrator base class and the cache/tracker protocols (see docs/migration.md)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Protocol, runtime_checkable

from ..results import AgentResult, WorkflowResult

__all__ = ["AgentResult", "BaseOrchestrator", "CacheProtocol", "TrackerProtocol", "WorkflowResult"]


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
