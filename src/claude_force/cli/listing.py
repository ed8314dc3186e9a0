"""``claude-force list agents|workflows [--json]``."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import typer

from ._common import emit_json, out_console, state_of
from ._options import JsonOpt

if TYPE_CHECKING:
    from ..orchestrator import AgentOrchestrator
    from ._common import CliState

app = typer.Typer(help="List the project's agents or workflows.", no_args_is_help=True)


@contextlib.contextmanager
def sync_orchestrator(state: CliState) -> Iterator[AgentOrchestrator]:
    """The 2.2 sync API on the configured project (it loads and validates the project), closed
    after use. Not entered: entering loads the SDK client, which a read-only command never needs."""
    from ..orchestrator import AgentOrchestrator

    orch = AgentOrchestrator(
        state.config if state.config is not None else _default_config(),
        anthropic_api_key=state.api_key,
        simulate=True if state.simulate else None,
    )
    try:
        yield orch
    finally:
        orch.close()


def _default_config() -> str:
    from ..config import find_config

    return str(find_config())


def project_agent_rows(state: CliState) -> list[dict[str, Any]]:
    """The 2.2 ``list_agents()`` rows plus each agent's contract, description and model, from the
    project alone: a read-only listing needs no orchestrator (importing it, the call pipeline and
    its stores would triple the command's start-up)."""
    rows = _snapshot_agent_rows(state)
    if rows is not None:
        return rows
    from ..config import load_project

    # the files are stat-ed, not read: reading 40,000 files of a 20,000-agent project was half of
    # the command's time; their text is checked when an agent runs (and by `validate`)
    project = load_project(state.config, check_files="stat")
    per_agent = project.settings.models.agents
    models: dict[tuple[str | None, str | None], str] = {}  # most agents share a model
    rows = []
    for name, spec in project.settings.agents.items():
        choice = (spec.model, per_agent.get(name))
        model = models.get(choice)
        if model is None:
            model = models[choice] = project.model_for(name)
        rows.append(
            {
                "name": name,
                "file": spec.file,
                "domains": list(spec.domains),
                "priority": spec.priority,
                "contract": spec.contract,
                "description": spec.description or "",
                "model": model,
            }
        )
    return sorted(rows, key=lambda a: (a["priority"], a["name"]))


def _snapshot_agent_rows(state: CliState) -> list[dict[str, Any]] | None:
    """The same rows from the settings snapshot (config/snapshot.py): no pydantic. ``None`` when
    it does not match, was written by a load that did not check the agents' files, or a file
    changed since (the normal load then reports it)."""
    from ..config.snapshot import read

    view = read(state.config)
    if view is None or not view.files_checked or not view.agents_usable():
        return None
    rows = [
        {
            "name": a.name,
            "file": a.file,
            "domains": list(a.domains),
            "priority": a.priority,
            "contract": a.contract,
            "description": a.description or "",
            "model": a.model,
        }
        for a in view.agents
    ]
    return sorted(rows, key=lambda a: (a["priority"], a["name"]))


@app.command("agents")
def list_agents(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """The agents, by priority (1 = highest)."""
    rows = project_agent_rows(state_of(ctx))
    if json_out:
        emit_json(rows)
        return
    cells = [
        [
            row["name"],
            str(row["priority"]),
            row["model"],
            ", ".join(row["domains"]),
            row["description"],
        ]
        for row in rows
    ]
    print_table(
        f"{len(rows)} agents", ["agent", "priority", "model", "domains", "description"], cells
    )


@app.command("workflows")
def list_workflows(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """The workflows and their agents, in order."""
    with sync_orchestrator(state_of(ctx)) as orch:
        workflows = orch.list_workflows()
    if json_out:
        emit_json(workflows)
        return
    cells = [[name, str(len(agents)), " → ".join(agents)] for name, agents in workflows.items()]
    print_table(f"{len(workflows)} workflows", ["workflow", "steps", "agents"], cells)


RICH_TABLE_MAX_ROWS = 500
"""Above this many rows, a plain aligned table: rich measures and renders every cell (about a
millisecond a row), which would take most of a minute for 20,000 agents."""

_RIGHT = {"priority", "steps"}
_NO_WRAP = {"agent", "workflow", "model"}


def print_table(title: str, headers: list[str], rows: list[list[str]]) -> None:
    """A table of project data: the text is escaped (control characters, rich markup)."""
    from ..safe_text import safe_line

    rows = [[safe_line(c) for c in row] for row in rows]
    if len(rows) > RICH_TABLE_MAX_ROWS:
        _plain_table(title, headers, rows)
        return
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for i, header in enumerate(headers):
        table.add_column(
            header,
            style="bold" if i == 0 else None,
            no_wrap=header in _NO_WRAP,
            justify="right" if header in _RIGHT else "left",
        )
    for row in rows:
        table.add_row(*(escape(c) for c in row))
    out_console().print(table)


def _plain_table(title: str, headers: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    widths[-1] = len(headers[-1])  # the last column is not padded

    def line(cells: list[str]) -> str:
        parts = [
            c.rjust(w) if h in _RIGHT else c.ljust(w)
            for c, w, h in zip(cells, widths, headers, strict=True)
        ]
        return "  ".join(parts).rstrip()

    out = [title, line(headers), line(["-" * w for w in widths])]
    out += [line(r) for r in rows]
    sys.stdout.write("\n".join(out) + "\n")
    sys.stdout.flush()
