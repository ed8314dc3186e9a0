"""``claude-force validate``: every problem of the project, one line each (exit 2 if any).

Loading is tolerant (``config/tolerant.py``): a broken agent or workflow is set aside with a
warning and the rest of the project works. This command is where they are all listed — agent
entries, agent files, models, workflows — instead of being found one run at a time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from ._common import emit_json, state_of
from ._options import JsonOpt

if TYPE_CHECKING:
    from ..config import Project
    from ._common import CliState


def load_quietly(state: CliState) -> Project:
    """The project, without the per-problem warnings (the caller lists the problems itself)."""
    from ..config import load_project
    from ..config.tolerant import quietly

    with quietly():
        return load_project(state.config)


def validate(
    ctx: typer.Context,
    json_out: JsonOpt = False,
) -> None:
    """Check the whole project: every agent and workflow on its own (exit 2 if any is broken)."""
    project = load_quietly(state_of(ctx))  # a claude.json that does not load: exit 2 as usual
    problems = [p.to_dict() for p in project.problems]
    report: dict[str, Any] = {
        "valid": not problems,
        "config": str(project.config_path),
        "agents": len(project.settings.agents),
        "workflows": len(project.settings.workflows),
        "problems": problems,
    }
    if json_out:
        emit_json(report)
    else:
        usable = f"{report['agents']} agents and {report['workflows']} workflows usable"
        if not problems:
            typer.echo(f"✓ {project.config_path}: {usable}, no problems")
        else:
            for p in problems:
                typer.echo(f"✗ {p['kind']} '{p['name']}': {p['message']}")
            typer.echo(f"{len(problems)} problem(s) in {project.config_path}; {usable}")
    if problems:
        raise typer.Exit(2)
