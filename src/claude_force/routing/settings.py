"""The ``routing`` section of ``claude.json`` (imports only pydantic: the config schema uses it).

``models.routing`` (in the ``models`` section) maps a complexity to a model; this section says how
a task's complexity is judged and what the router may spend.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

OverBudget = Literal["step_down", "refuse"]


class ClassifierSettings(BaseModel):
    """The complexity classifier's knobs. ``None`` lists mean the built-in ones (see docs/cost.md).

    A keyword matches any word that starts with it, case-insensitively (``migrat`` matches
    *migrate*, *migration*, *migrating*); a phrase with spaces matches as a phrase.
    """

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)

    critical_keywords: list[str] | None = None
    simple_keywords: list[str] | None = None
    extra_critical_keywords: list[str] = Field(default_factory=list)
    extra_simple_keywords: list[str] = Field(default_factory=list)
    critical_domains: list[str] | None = None
    long_task_chars: int = Field(default=2000, ge=1, le=100_000_000)
    medium_task_chars: int = Field(default=600, ge=1, le=100_000_000)
    short_task_chars: int = Field(default=160, ge=0, le=100_000_000)
    critical_at: int = Field(default=3, ge=-100, le=100)
    simple_at: int = Field(default=-2, ge=-100, le=100)


class RoutingSettings(BaseModel):
    """How the model router chooses (``HybridOrchestrator``, ``execute --auto-model``, ``route``).

    ``cost_threshold_usd``: the most one execution may cost (estimated, USD). ``over_budget``:
    ``step_down`` tries cheaper routing tiers first and refuses only when none fits;
    ``refuse`` refuses at once. ``output_ratio``: estimated output tokens = ``max_tokens`` × ratio.
    """

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)

    prefer_cheaper: bool = True
    cost_threshold_usd: Decimal | None = Field(default=None, gt=0, le=1_000_000)
    over_budget: OverBudget = "step_down"
    output_ratio: float = Field(default=0.25, gt=0, le=1)
    classifier: ClassifierSettings = Field(default_factory=ClassifierSettings)
