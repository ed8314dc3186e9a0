"""The DAG form of a workflow in ``claude.json`` (pydantic, at the edge).

A workflow is either the list form (an ordered chain of agent names, each receiving the previous
agent's output — kept from claude-force 1.x/2.2) or this DAG form::

    "code-quality-check": {
      "description": "Three reviewers in parallel, then a summary",
      "steps": [
        {"id": "python", "agent": "python-expert"},
        {"id": "review", "agent": "code-reviewer"},
        {"id": "security", "agent": "security-specialist"},
        {"id": "summary", "agent": "document-writer",
         "depends_on": ["python", "review", "security"]}
      ]
    }

Unknown keys are errors here (not warnings as elsewhere in ``claude.json``): a misspelt
``depends_on`` would otherwise silently change what runs when.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

OnFailure = Literal["fail", "continue", "skip_dependents"]

DEFAULT_CONTEXT_BUDGET_CHARS = 24_000


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StepSpec(_Spec):
    """One step of a DAG workflow."""

    id: str | None = Field(default=None, min_length=1, description="defaults to the agent name")
    agent: str = Field(min_length=1)
    depends_on: list[str] = Field(default_factory=list)
    task: str | None = Field(default=None, description="task template; see docs/workflows.md")
    model: str | None = None
    max_tokens: int | None = Field(default=None, ge=1, le=1_000_000)
    timeout_seconds: float | None = Field(default=None, gt=0, le=604_800)
    on_failure: OnFailure | None = Field(default=None, description="defaults to the workflow's")
    context_budget_chars: int | None = Field(default=None, ge=0, le=100_000_000)

    @property
    def step_id(self) -> str:
        return self.id or self.agent


class WorkflowSpec(_Spec):
    """A workflow as a graph of steps; a step starts when all of its ``depends_on`` are done."""

    description: str | None = None
    steps: list[StepSpec] = Field(min_length=1)
    on_failure: OnFailure = "fail"
    max_concurrent: int | None = Field(default=None, ge=1, le=1000)
    timeout_seconds: float | None = Field(default=None, gt=0, le=604_800)
    context_budget_chars: int = Field(default=DEFAULT_CONTEXT_BUDGET_CHARS, ge=0, le=100_000_000)


def _kind(value: Any) -> str:
    return "dict[steps]" if isinstance(value, dict | WorkflowSpec) else "list[str]"


# The tags name the union's branches in validation errors. Both contain '[' so that the config
# loader, which drops union branch names from the key path it reports, shows
# ``workflows.NAME.steps.0.agent`` rather than a branch name. The discriminator picks the branch
# by shape, so a broken DAG is reported against the DAG schema, not as "should be a valid list".
WorkflowEntry = Annotated[
    Annotated[list[str], Tag("list[str]")] | Annotated[WorkflowSpec, Tag("dict[steps]")],
    Discriminator(_kind),
]
