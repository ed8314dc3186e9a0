"""``claude-force analytics anomalies``: replay the stored executions through the anomaly
detector and list what it raised (registered on the ``analytics`` group).

Imports only typer (and the shared option aliases) at module level; the detector and the store load inside the command.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from ._common import emit_json, out_console, state_of
from ._options import AgentOpt, JsonOpt, ModelFilterOpt, RealOnlyOpt, UntilOpt

if TYPE_CHECKING:
    from ..monitoring.anomaly import Anomaly


def anomalies(
    ctx: typer.Context,
    since: Annotated[
        str,
        typer.Option("--since", help="Start: 7d, 24h, today, 2026-11-01 or an ISO time (UTC)."),
    ] = "7d",
    until: UntilOpt = None,
    agent: AgentOpt = None,
    model: ModelFilterOpt = None,
    real_only: RealOnlyOpt = False,
    active_only: Annotated[
        bool, typer.Option("--active", help="Only anomalies still open at the end.")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Latency, error-rate, cost and cache-hit-rate anomalies in the stored executions.

    The executions of the period (raw rows: within metrics.raw_retention_days) are replayed in
    order through the detector configured in the 'anomalies' section of claude.json.
    """
    from ..config import load_project
    from ..metrics.analytics import make_query
    from ..metrics.record import from_us
    from ..monitoring.anomaly import Sample, detect
    from .analytics import open_metrics

    state = state_of(ctx)
    q = make_query(since, until, agent=agent, model=model, simulated=False if real_only else None)
    settings = load_project(state.config, check_files=False).settings.anomalies
    with open_metrics(state) as tracker:
        found = (Sample.from_record(r) for r in tracker.store.records(q))
        samples = sorted((s for s in found if s is not None), key=lambda s: s.at)
    detector = detect(samples, settings)
    listed = detector.active() if active_only else detector.history()[::-1]
    if json_out:
        emit_json(
            {
                "since": None if q.since_us is None else from_us(q.since_us).isoformat(),
                "until": None if q.until_us is None else from_us(q.until_us).isoformat(),
                "executions": len(samples),
                "active": len(detector.active()),
                "anomalies": [a.to_dict() for a in listed],
            }
        )
        return
    _print(listed, len(samples))


def _print(listed: list[Anomaly], executions: int) -> None:
    from rich.markup import escape
    from rich.table import Table

    console = out_console()
    if not listed:
        console.print(f"no anomalies in {executions:,} executions")
        return
    table = Table(title=f"Anomalies in {executions:,} executions", title_justify="left")
    for col in ("since (UTC)", "kind", "scope", "status", "recent", "expected", "score"):
        table.add_column(col, overflow="fold", justify="right" if col == "score" else "left")
    for a in listed:
        status = "open" if a.active else f"{a.resolution} {a.resolved_at:%H:%M}"
        severity = "[red]" if a.severity == "critical" else "[yellow]"
        table.add_row(
            f"{a.since:%Y-%m-%d %H:%M}",
            f"{severity}{a.kind.replace('_', ' ')}[/]",
            escape(a.scope) + (" (sim)" if a.simulated else ""),
            status,
            a.observed_text(),
            a.expected_text(),
            f"{a.score:.3g}",
        )
    console.print(table)
