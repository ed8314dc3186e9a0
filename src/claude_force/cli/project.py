"""``claude-force info AGENT`` and ``claude-force init [DIR]``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ._common import emit_json, notice, out_console, state_of
from ._options import JsonOpt


def info(
    ctx: typer.Context,
    agent: Annotated[str, typer.Argument(help="Agent name.", metavar="AGENT")],
    json_out: JsonOpt = False,
) -> None:
    """Show an agent: description, files, domains, priority, model and the workflows using it."""
    from .listing import sync_orchestrator

    with sync_orchestrator(state_of(ctx)) as orch:
        orch.project.agent(agent)  # unknown agent → exit 2 with a suggestion
        data: dict[str, Any] = orch.get_agent_info(agent)
        data["workflows"] = [
            name for name, agents in orch.list_workflows().items() if agent in agents
        ]
        data["definition_path"] = str(orch.project.agent_path(agent, "file"))
    if json_out:
        emit_json(data)
        return
    from rich.markup import escape
    from rich.table import Table

    table = Table(
        show_header=False, box=None, pad_edge=False, title=escape(agent), title_justify="left"
    )
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    rows = [
        ("description", data["description"]),
        ("model", data["model"]),
        ("priority", str(data["priority"])),
        ("domains", ", ".join(data["domains"]) or "—"),
        ("file", data["file"]),
        ("contract", data["contract"] or "—"),
        ("workflows", ", ".join(data["workflows"]) or "—"),
    ]
    for key, value in rows:
        table.add_row(key, escape(value))  # escapes rich markup; the console, control characters
    out_console().print(table)


def init(
    directory: Annotated[
        Path,
        typer.Argument(help="Project folder; .claude/ is created inside it.", metavar="DIR"),
    ] = Path("."),
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite the sample files of an existing project.")
    ] = False,
) -> None:
    """Write the sample project (agents with contracts, and workflows) into DIR/.claude/."""
    from ..scaffold import init_project

    config = init_project(directory, force=force)
    agents = len(list((config.parent / "agents").glob("*.md")))
    shown = directory if str(directory) != "." else Path.cwd()
    notice(f"created {config} ({agents} agents)")
    lines = [
        "",
        "Next steps:",
        *([f"  cd {shown}"] if str(directory) != "." else []),
        "  claude-force list agents",
        '  claude-force execute python-expert "Review utils.py for bugs" --simulate',
        "  export ANTHROPIC_API_KEY=...   # then the same commands call Claude",
        '  claude-force run workflow code-quality-check --task "Review the payment module"',
    ]
    out_console().print("\n".join(lines), markup=False, highlight=False)
