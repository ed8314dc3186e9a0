"""The ``metrics`` section of ``claude.json`` (imports only pydantic: the config schema uses it)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class MetricsSettings(BaseModel):
    """Where execution metrics are kept, for how long, and how they are written.

    ``raw_retention_days``: raw per-execution rows older than this many whole UTC days are
    rolled up into daily rows (then deleted). ``daily_retention_days``: daily rows older than
    this are deleted (``null`` keeps them forever). ``keep_text``: keep each execution's task
    and answer (redacted, at most ``text_max_chars`` each) for the dashboard's execution view.
    """

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)

    enabled: bool = True
    backend: Literal["sqlite", "memory"] = "sqlite"
    path: str = "metrics.db"
    raw_retention_days: int = Field(default=7, ge=0, le=3650)
    daily_retention_days: int | None = Field(default=None, ge=1, le=36_500)
    auto_rollup: bool = True
    rollup_interval_hours: float = Field(default=24.0, gt=0, le=8_760)
    batch_size: int = Field(default=256, ge=1, le=100_000)
    flush_interval_seconds: float = Field(default=1.0, gt=0, le=3600)
    max_pending: int = Field(default=100_000, ge=1, le=10_000_000)
    record_simulated: bool = True
    # the task and answer text of each execution, redacted, in its note (the dashboard's
    # execution view); off by default: prompts and answers may hold what must not be kept
    keep_text: bool = False
    text_max_chars: int = Field(default=4000, ge=0, le=1_000_000)
