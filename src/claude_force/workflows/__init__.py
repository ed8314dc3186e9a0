"""Workflows: a DAG of agent steps, validated at load and run with bounded parallelism.

``WorkflowDAG`` (model + validation) → ``Scheduler`` (pure policy) → ``WorkflowEngine``
(drives steps through a ``StepExecutor``) → ``WorkflowResult``. See docs/workflows.md.

Names are imported lazily: ``config.schema`` imports :mod:`.spec` while the configuration
package is still loading, and the engine imports the configuration in turn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
    from .api import checkpoint_store, execute_workflow, load_workflow, validate_workflows
    from .checkpoint import CheckpointStore
    from .dag import Step, WorkflowDAG
    from .engine import StepCall, StepEvent, StepExecutor, WorkflowEngine
    from .errors import (
        StepTimeoutError,
        WorkflowCycleError,
        WorkflowDefinitionError,
        WorkflowTimeoutError,
    )
    from .executor import OrchestratorExecutor
    from .result import StepResult, StepStatus, Totals, WorkflowResult
    from .scheduler import Decision, Scheduler
    from .spec import OnFailure, StepSpec, WorkflowSpec

_EXPORTS: dict[str, str] = {
    "checkpoint_store": ".api",
    "execute_workflow": ".api",
    "load_workflow": ".api",
    "validate_workflows": ".api",
    "CheckpointStore": ".checkpoint",
    "Step": ".dag",
    "WorkflowDAG": ".dag",
    "StepCall": ".engine",
    "StepEvent": ".engine",
    "StepExecutor": ".engine",
    "WorkflowEngine": ".engine",
    "StepTimeoutError": ".errors",
    "WorkflowCycleError": ".errors",
    "WorkflowDefinitionError": ".errors",
    "WorkflowTimeoutError": ".errors",
    "OrchestratorExecutor": ".executor",
    "StepResult": ".result",
    "StepStatus": ".result",
    "Totals": ".result",
    "WorkflowResult": ".result",
    "Decision": ".scheduler",
    "Scheduler": ".scheduler",
    "OnFailure": ".spec",
    "StepSpec": ".spec",
    "WorkflowSpec": ".spec",
}

__all__ = [
    "CheckpointStore",
    "Decision",
    "OnFailure",
    "OrchestratorExecutor",
    "Scheduler",
    "Step",
    "StepCall",
    "StepEvent",
    "StepExecutor",
    "StepResult",
    "StepSpec",
    "StepStatus",
    "StepTimeoutError",
    "Totals",
    "WorkflowCycleError",
    "WorkflowDAG",
    "WorkflowDefinitionError",
    "WorkflowEngine",
    "WorkflowResult",
    "WorkflowSpec",
    "WorkflowTimeoutError",
    "checkpoint_store",
    "execute_workflow",
    "load_workflow",
    "validate_workflows",
]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, __all__)
