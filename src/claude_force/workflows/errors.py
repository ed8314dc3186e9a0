"""Errors of workflow definitions and runs (children of :mod:`claude_force.errors`)."""

from __future__ import annotations

from ..errors import ConfigurationError, RunError, WorkflowCycleError

__all__ = [
    "StepTimeoutError",
    "WorkflowCycleError",
    "WorkflowDefinitionError",
    "WorkflowFailedError",
    "WorkflowTimeoutError",
]


class WorkflowDefinitionError(ConfigurationError):
    """A workflow's steps are malformed: unknown or self dependency, duplicate id, bad template."""


class StepTimeoutError(RunError):
    """A step ran past its ``timeout_seconds`` (or the workflow's remaining time) and was stopped."""

    def __init__(self, step_id: str, seconds: float) -> None:
        self.step_id = step_id
        self.seconds = seconds
        super().__init__(f"step '{step_id}' timed out after {seconds:g}s")


class WorkflowTimeoutError(RunError):
    """The workflow's deadline passed; running steps were cancelled."""

    def __init__(self, workflow: str, seconds: float) -> None:
        self.workflow = workflow
        self.seconds = seconds
        super().__init__(f"workflow '{workflow}' exceeded its deadline of {seconds:g}s")


class WorkflowFailedError(RunError):
    """Raised by interfaces (the CLI) when a workflow run ended in failure."""
