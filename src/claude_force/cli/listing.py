"""``claude-force list agents|workflows [--json]``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from ._common import emit_json, out_console, state_of

if TYPE_CHECKING:
    from ..orchestrator import AgentOrchestrator
    from ._common import CliState

app = typer.Typer(help="List the project's agents or workflows.", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON only on stdout.")]


def sync_orchestrator(state: CliState) -> AgentOrchestrator:
    """The 2.2 sync API on the configured project (it loads and validates the project)."""
    from ..orchestrator import AgentOrchestrator

    return AgentOrchestrator(
        state.config if state.config is not None else _default_config(),
        anthropic_api_key=state.api_key,
        simulate=True if state.simulate else None,
    )


def _default_config() -> str:
    from ..config import find_config

    return str(find_config())


def agent_rows(orch: AgentOrchestrator) -> list[dict[str, Any]]:
    """``list_agents()`` of the 2.2 API plus each agent's contract, description and model."""
    rows = []
    for entry in orch.list_agents():
        spec = orch.project.agent(entry["name"])
        rows.append(
            {
                **entry,
                "contract": spec.contract,
                "description": spec.description or "",
                "model": orch.project.model_for(entry["name"]),
            }
        )
    return rows


def project_agent_rows(state: CliState) -> list[dict[str, Any]]:
    """:func:`agent_rows` from the project alone: a read-only listing needs no orchestrator
    (importing it, the call pipeline and its stores would triple the command's start-up)."""
    from ..config import load_project

    project = load_project(state.config)
    rows = [
        {
            "name": name,
            "file": spec.file,
            "domains": list(spec.domains),
            "priority": spec.priority,
            "contract": spec.contract,
            "description": spec.description or "",
            "model": project.model_for(name),
        }
        for name, spec in project.settings.agents.items()
    ]
    return sorted(rows, key=lambda a: (a["priority"], a["name"]))


@app.command("agents")
def list_agents(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """The agents, by priority (1 = highest)."""
    rows = project_agent_rows(state_of(ctx))
    if json_out:
        emit_json(rows)
        return
    from rich.table import Table

    table = Table(title=f"{len(rows)} agents", title_justify="left")
    table.add_column("agent", style="bold", no_wrap=True)
    table.add_column("priority", justify="right")
    table.add_column("model", no_wrap=True)
    table.add_column("domains")
    table.add_column("description")
    for row in rows:
        table.add_row(
            row["name"],
            str(row["priority"]),
            row["model"],
            ", ".join(row["domains"]),
            row["description"],
        )
    out_console().print(table)


@app.command("workflows")
def list_workflows(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """The workflows and their agents, in order."""
    with sync_orchestrator(state_of(ctx)) as orch:
        workflows = orch.list_workflows()
    if json_out:
        emit_json(workflows)
        return
    from rich.table import Table

    table = Table(title=f"{len(workflows)} workflows", title_justify="left")
    table.add_column("workflow", style="bold", no_wrap=True)
    table.add_column("steps", justify="right")
    table.add_column("agents")
    for name, agents in workflows.items():
        table.add_row(name, str(len(agents)), " → ".join(agents))
    out_console().print(table)
