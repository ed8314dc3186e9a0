"""The options several commands share, as ``Annotated`` aliases: one spelling, one help text.

A command declares ``json_out: JsonOpt = False`` instead of repeating the ``typer.Option``; the
default stays in the signature, where each command may choose its own. Options only one command
has stay beside that command.

Import-light on purpose (typer and typing only): every sub-command module imports it, and the
CLI's start-up time is measured.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = [
    "AgentOpt",
    "JsonOpt",
    "MaxTokensOpt",
    "ModelFilterOpt",
    "ModelOpt",
    "NoCacheOpt",
    "OutputOpt",
    "QuietOpt",
    "RealOnlyOpt",
    "RefreshOpt",
    "SimulateOpt",
    "SinceOpt",
    "SubmitOpt",
    "TaskFileOpt",
    "TaskOpt",
    "TasksFileOpt",
    "TemperatureOpt",
    "UntilOpt",
    "WorkflowFilterOpt",
    "YesOpt",
]

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout only.")]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
SimulateOpt = Annotated[
    bool,
    typer.Option("--simulate", help="Use the offline SIMULATED model even if a key is set."),
]

# Running agents: execute, run agent, run-workflow, batch submit, route, recommend.
ModelOpt = Annotated[
    str | None,
    typer.Option("--model", "-m", help="Model id or alias (default: from claude.json)."),
]
MaxTokensOpt = Annotated[
    int, typer.Option("--max-tokens", min=1, help="Upper bound on output tokens.")
]
TemperatureOpt = Annotated[
    float | None,
    typer.Option(
        "--temperature",
        min=0.0,
        max=1.0,
        help="Sampling temperature; sent only when given (some models reject it).",
    ),
]
QuietOpt = Annotated[
    bool, typer.Option("--quiet", "-q", help="Print only the outputs (no progress or summary).")
]
NoCacheOpt = Annotated[
    bool, typer.Option("--no-cache", help="Neither read nor write the response cache.")
]
RefreshOpt = Annotated[
    bool, typer.Option("--refresh", help="Skip cached answers but store the fresh ones.")
]
SubmitOpt = Annotated[
    bool,
    typer.Option(
        "--submit",
        help="Cluster mode: enqueue the run(s) for the workers, print the run id(s) and exit.",
    ),
]
TaskOpt = Annotated[str | None, typer.Option("--task", "-t", help="The task text.")]
TaskFileOpt = Annotated[
    Path | None,
    typer.Option("--task-file", help="Read one task from a file (the whole file; '-' = stdin)."),
]
TasksFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--tasks-file",
        help='Read many tasks: one per line, or JSON Lines {"agent": ..., "task": ...}.',
    ),
]
OutputOpt = Annotated[
    Path | None,
    typer.Option(
        "--output", "-o", help="Write the output (or the JSON) to FILE instead of stdout."
    ),
]

# Filters on stored data (executions, cache entries, memory sessions).
AgentOpt = Annotated[
    str | None, typer.Option("--agent", "-a", help="Only this agent.", show_default=False)
]
ModelFilterOpt = Annotated[
    str | None, typer.Option("--model", help="Only this model.", show_default=False)
]
WorkflowFilterOpt = Annotated[
    str | None, typer.Option("--workflow", help="Only this workflow.", show_default=False)
]
RealOnlyOpt = Annotated[bool, typer.Option("--real-only", help="Leave out SIMULATED executions.")]
SinceOpt = Annotated[
    str | None,
    typer.Option(
        "--since",
        help="Start: 7d, 24h, 30m, today, 2026-11-01 or an ISO time (UTC).",
        show_default=False,
    ),
]
UntilOpt = Annotated[
    str | None,
    typer.Option("--until", help="End (exclusive), same forms as --since.", show_default=False),
]
