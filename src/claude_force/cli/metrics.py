"""``claude-force metrics summary|agents|costs|export`` — the claude-force 2.2 spellings.

They read the same store as ``claude-force analytics`` (see there for more options).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._common import emit_json, out_console, state_of, write_output_file
from ._options import JsonOpt
from .analytics import open_metrics, print_groups, print_summary

app = typer.Typer(
    help="Performance metrics (2.2 spellings; see 'analytics' for more).", no_args_is_help=True
)


@app.command("summary")
def summary(
    ctx: typer.Context,
    hours: Annotated[
        float | None, typer.Option("--hours", help="Only the last N hours.", show_default=False)
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Totals: executions, success rate, tokens, cost, latency."""
    from ..metrics.analytics import make_query

    q = make_query(f"{hours}h" if hours else None, None)
    with open_metrics(state_of(ctx)) as tracker:
        stats = tracker.analytics().summary(q)
    if json_out:
        emit_json(stats.to_dict())
        return
    title = f"Performance summary (last {hours:g} hours)" if hours else "Performance summary"
    print_summary(stats, title)


@app.command("agents")
def agents(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """Figures per agent."""
    with open_metrics(state_of(ctx)) as tracker:
        groups = tracker.analytics().by_agent()
    if json_out:
        emit_json({g.name: g.stats.to_dict() for g in groups})
        return
    print_groups(groups, "agent")


@app.command("costs")
def costs(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """Cost by agent and by model."""
    with open_metrics(state_of(ctx)) as tracker:
        a = tracker.analytics()
        by_agent, by_model, total = a.by_agent(), a.by_model(), a.summary()
    data = {
        "by_agent": {g.name: float(g.stats.cost_usd) for g in by_agent},
        "by_model": {g.name: float(g.stats.cost_usd) for g in by_model},
        "total": float(total.cost_usd),
        "total_exact": format(total.cost_usd.normalize(), "f"),
        "unknown_cost_attempts": total.cost_unknown,
        "saved_by_cache": float(total.saved_usd),
    }
    if json_out:
        emit_json(data)
        return
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"Costs (total ${data['total']:,.6f})", title_justify="left")
    table.add_column("by", style="bold")
    table.add_column("name")
    table.add_column("cost", justify="right")
    for kind in ("agent", "model"):
        for name, value in data[f"by_{kind}"].items():  # type: ignore[attr-defined]
            table.add_row(kind, escape(name), f"${value:,.6f}")
    out_console().print(table)


@app.command("export")
def export(
    ctx: typer.Context,
    output: Annotated[Path, typer.Argument(help="File to write.")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="json or csv.")] = "json",
) -> None:
    """Write raw executions and daily rollups to OUTPUT."""
    from ..errors import ConfigurationError

    fmt = fmt.lower()
    if fmt not in ("json", "csv"):
        raise ConfigurationError(f"unknown format '{fmt}'", key="--format", hint="use json or csv")
    with open_metrics(state_of(ctx)) as tracker:
        text = tracker.analytics().export(None, "json" if fmt == "json" else "csv")
    write_output_file(output, text)
