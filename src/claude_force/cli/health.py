"""``claude-force health [--json]``: provider reachability, breaker states, rate-limit headroom."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from ._common import emit_json, open_core, out_console, state_of
from ._options import JsonOpt

if TYPE_CHECKING:
    from ..resilience.health import HealthReport

app = typer.Typer(help="Check the provider and the resilience layers (exit 1 unless healthy).")


@app.callback(invoke_without_command=True)
def health(
    ctx: typer.Context,
    as_json: JsonOpt = False,
    model: Annotated[
        str | None,
        typer.Option("--model", "-m", help="Model to probe (default: the project's default)."),
    ] = None,
    timeout: Annotated[
        float, typer.Option("--timeout", min=0.1, max=600, help="Seconds to wait for the probe.")
    ] = 10.0,
    messages: Annotated[
        bool,
        typer.Option(
            "--messages",
            help="Also send the smallest generation request (POST /v1/messages, max_tokens 1: "
            "about 9 tokens) to prove that generation works, not only count_tokens.",
        ),
    ] = False,
) -> None:
    """Probe the provider with a free count_tokens request; report breakers and headroom.

    count_tokens answering does not prove that generation works: --messages also sends a
    minimal messages request. The report says what was checked and what was not.
    Exit codes: 0 healthy, 1 degraded or unreachable, 2 configuration error.
    """
    import asyncio

    from ..resilience.health import check_health

    core = open_core(state_of(ctx))
    catalog = core.project.catalog
    chosen = catalog.resolve(model, where="--model") if model else catalog.default

    async def run() -> HealthReport:
        try:
            return await check_health(
                core.pipeline, chosen, hub=core.hub, timeout_s=timeout, messages=messages
            )
        finally:
            await core.close()

    report = asyncio.run(run())
    if as_json:
        emit_json(report.to_dict())
    else:
        _print(report)
    raise typer.Exit(report.exit_code)


def _print(report: HealthReport) -> None:
    from rich.markup import escape
    from rich.table import Table

    console = out_console()
    colour = {"healthy": "green", "degraded": "yellow", "unreachable": "red"}[report.status]
    p = report.probe
    console.print(f"[bold {colour}]{report.status}[/]  ({report.checked_at})")
    where = f"{p.provider}{' (SIMULATED)' if p.simulated else ''}, model {p.model}"
    if p.reachable is None:
        console.print(f"provider: {where}: not probed ({p.error})")
    elif p.ok:
        console.print(f"provider: {where}: reachable in {p.latency_ms:g} ms")
    else:
        console.print(f"provider: {where}: [red]{escape(p.error or '')}[/]")
    for endpoint in p.checked:
        console.print(f"checked: {endpoint}", markup=False)
    for what in p.not_checked:
        console.print(f"not checked: {what}", markup=False)
    if report.breakers:
        table = Table("provider", "model", "breaker", "failure rate", "calls", "probe in")
        for b in report.breakers:
            retry = "" if b["retry_in_s"] is None else f"{b['retry_in_s']:g}s"
            table.add_row(
                escape(b["provider"]),
                escape(b["model"]),
                b["state"],
                f"{b['failure_rate']:.0%}",
                str(b["calls_in_window"]),
                retry,
            )
        console.print(table)
    else:
        console.print("breakers: none used yet (all closed)")
    if report.rate_limits:
        table = Table("model", "limit", "per minute", "available", "headroom", "source")
        for m, kinds in report.rate_limits.items():
            for kind, v in kinds.items():
                headroom = "" if v["headroom"] is None else f"{v['headroom']:.0%}"
                table.add_row(
                    escape(m),
                    kind.replace("_", " "),
                    f"{v['per_minute']:,.0f}",
                    f"{v['available']:,.0f}",
                    headroom,
                    v["source"],
                )
        console.print(table)
    else:
        console.print("rate limits: none configured or reported")
