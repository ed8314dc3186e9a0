"""``claude-force analytics summary|agents|models|workflows|trends|export|rollup|prometheus``.

Every report reads the project's metrics store (raw rows and daily rollups alike). Opening the
store runs the automatic rollup when one is due (at most once per ``metrics.rollup_interval_hours``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

from . import _anomalies
from ._common import emit_json, notice, out_console, state_of, write_output_file
from ._options import (
    AgentOpt,
    JsonOpt,
    ModelFilterOpt,
    RealOnlyOpt,
    SinceOpt,
    UntilOpt,
    WorkflowFilterOpt,
)

if TYPE_CHECKING:
    from ..config.snapshot import MetricsView
    from ..metrics.analytics import Group, Stats, TrendPoint
    from ..metrics.backend import MetricsStore, Query
    from ..metrics.prompt_cache import PromptCacheSavings
    from ..metrics.reader import MetricsReader
    from ..metrics.settings import MetricsSettings
    from ._common import CliState

app = typer.Typer(
    help="Costs, tokens, latency and cache savings of past executions.", no_args_is_help=True
)


@contextlib.contextmanager
def open_metrics(state: CliState, *, auto_rollup: bool = True) -> Iterator[MetricsReader]:
    """The project's metrics (an empty in-memory store when nothing was recorded yet), for
    reading: a :class:`~claude_force.metrics.reader.MetricsReader`, not the tracker."""
    from ..config.snapshot import read
    from ..metrics.memory_backend import MemoryMetricsStore
    from ..metrics.reader import MetricsReader, store_for

    view = read(state.config)  # the settings snapshot (config/snapshot.py): no pydantic
    settings: MetricsSettings | MetricsView
    if view is not None and not view.clustered:
        settings, state_dir, cluster_url, catalog = (
            view.metrics,
            view.state_dir,
            None,
            view.catalog(),
        )
    else:
        from ..config import load_project

        project = load_project(state.config, check_files=False)
        settings, state_dir = project.settings.metrics, project.state_dir
        cluster_url = project.settings.cluster.database_url  # cluster mode: the shared store
        catalog = project.catalog
    db = Path(settings.path).expanduser()
    db = db if db.is_absolute() else state_dir / db
    if settings.backend == "memory":
        notice("metrics.backend is 'memory': nothing is kept between processes")
    if settings.backend == "sqlite" and cluster_url is None and not db.exists():
        store: MetricsStore = MemoryMetricsStore()
    else:
        store = store_for(settings, state_dir, database_url=cluster_url)
    reader = MetricsReader(store, settings=settings, catalog=catalog)
    try:
        if auto_rollup and settings.auto_rollup:
            reader.maybe_rollup()
        yield reader
    finally:
        reader.close()


def _query(
    since: str | None,
    until: str | None,
    agent: str | None = None,
    model: str | None = None,
    workflow: str | None = None,
    real_only: bool = False,
) -> Query:
    from ..metrics.analytics import make_query

    return make_query(
        since,
        until,
        agent=agent,
        model=model,
        workflow=workflow,
        simulated=False if real_only else None,
    )


def _usd(value: Any) -> str:
    v = float(value)
    if v == 0:
        return "$0"
    return f"${v:,.4f}" if v >= 0.01 else f"${v:.6f}"


def _ms(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value / 1000:.2f}s" if value >= 1000 else f"{value:.1f}ms"


def _period(query: Query) -> dict[str, str | None]:
    from ..metrics.record import from_us

    return {
        "since": from_us(query.since_us).isoformat() if query.since_us is not None else None,
        "until": from_us(query.until_us).isoformat() if query.until_us is not None else None,
    }


def print_summary(
    stats: Stats, title: str = "Analytics summary", prompt_cache: PromptCacheSavings | None = None
) -> None:
    """The summary as a two-column table on stdout."""
    from rich.table import Table

    table = Table(title=title, title_justify="left", show_header=False)
    table.add_column("figure", style="bold")
    table.add_column("value", justify="right")
    rows = [
        ("executions", f"{stats.executions:,}"),
        ("success rate", f"{stats.success_rate:.1%} ({stats.failures} failed)"),
        ("retries", f"{stats.retries:,}"),
        ("tokens", f"{stats.total_tokens:,}"),
        (
            "  in / out / cache write / read",
            f"{stats.input_tokens:,} / {stats.output_tokens:,} / "
            f"{stats.cache_write_tokens:,} / {stats.cache_read_tokens:,}",
        ),
        ("cost", _usd(stats.cost_usd)),
        ("cache hit rate", f"{stats.cache_hit_rate:.1%} ({stats.cache_hits:,} hits)"),
        ("saved by cache", _usd(stats.saved_usd)),
        *(
            [
                (
                    "  of which semantic",
                    f"{stats.semantic_hits:,} hits, {_usd(stats.semantic_saved_usd)} saved",
                )
            ]
            if stats.semantic_hits
            else []
        ),
        *(
            [
                (
                    "saved by prompt cache",
                    f"{_usd(prompt_cache.net_saved_usd)} ({prompt_cache.read_tokens:,} tokens read)",
                )
            ]
            if prompt_cache is not None
            else []
        ),
        (
            "latency p50 / p95 / p99",
            f"{_ms(stats.p50_ms)} / {_ms(stats.p95_ms)} / {_ms(stats.p99_ms)}",
        ),
    ]
    if stats.cost_unknown:
        rows.insert(6, ("cost unknown (unpriced model)", f"{stats.cost_unknown:,} attempts"))
    for name, value in rows:
        table.add_row(name, value)
    out_console().print(table)


def print_groups(groups: list[Group], label: str) -> None:
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"By {label}", title_justify="left")
    # on a narrow terminal a long name folds onto a second line; no figure is ever cut (with
    # every column no_wrap, rich cut the last one: "1.4…" for 1.45s in make demo's 80 columns)
    table.add_column(label, overflow="fold")
    for col in ("runs", "ok", "tokens", "cost", "hits", "p50", "p95"):
        table.add_column(col, justify="right", no_wrap=True)
    for g in groups:
        s = g.stats
        table.add_row(
            escape(g.name),  # names come from claude.json and the store: never markup
            f"{s.executions:,}",
            f"{s.success_rate:.0%}",
            f"{s.total_tokens:,}",
            _usd(s.cost_usd) + (" +?" if s.cost_unknown else ""),
            f"{s.cache_hits:,}",
            _ms(s.p50_ms),
            _ms(s.p95_ms),
        )
    out_console().print(table)


@app.command("summary")
def summary(
    ctx: typer.Context,
    since: SinceOpt = None,
    until: UntilOpt = None,
    agent: AgentOpt = None,
    model: ModelFilterOpt = None,
    workflow: WorkflowFilterOpt = None,
    real_only: RealOnlyOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Executions, success rate, tokens, cost, cache hit rate, savings and p50/p95/p99 latency.

    \b
    Examples:
      claude-force analytics summary --since 7d
      claude-force analytics summary --since today --real-only --json
    """
    q = _query(since, until, agent, model, workflow, real_only)
    ttl = _prompt_cache_ttl(state_of(ctx))
    with open_metrics(state_of(ctx)) as tracker:
        analytics = tracker.analytics()
        stats = analytics.summary(q)
        prompt = analytics.prompt_cache(tracker.catalog.prices, q, ttl)
        hourly = q.since_us is not None and (q.until_us or now_us()) - q.since_us <= 3 * DAY_US
        points = analytics.trends(q, "hour" if hourly else "day") if not json_out else []
    if json_out:
        emit_json({**_period(q), **stats.to_dict(), "prompt_cache": prompt.to_dict()})
        return
    print_summary(stats, prompt_cache=prompt)
    _print_sparklines(points, "hour" if hourly else "day")


def _prompt_cache_ttl(state: CliState) -> Literal["5m", "1h"]:
    """``models.prompt_cache_ttl``, from the settings snapshot when it matches."""
    from ..config.snapshot import read

    view = read(state.config)
    if view is not None:
        return view.prompt_cache_ttl
    from ..config import load_project

    return load_project(state.config, check_files=False).settings.models.prompt_cache_ttl


def _grouped(
    ctx: typer.Context, dimension: Literal["agent", "model", "workflow"], q: Query, json_out: bool
) -> None:
    with open_metrics(state_of(ctx)) as tracker:
        groups = tracker.analytics().by(dimension, q)
    if json_out:
        emit_json({**_period(q), "groups": [g.to_dict(dimension) for g in groups]})
        return
    print_groups(groups, dimension)


def _group_command(
    dimension: Literal["agent", "model", "workflow"], doc: str
) -> Callable[..., None]:
    """One ``analytics agents|models|workflows`` command: the same options, another dimension."""

    def command(
        ctx: typer.Context,
        since: SinceOpt = None,
        until: UntilOpt = None,
        real_only: RealOnlyOpt = False,
        json_out: JsonOpt = False,
    ) -> None:
        _grouped(ctx, dimension, _query(since, until, real_only=real_only), json_out)

    command.__doc__ = doc
    return command


agents = app.command("agents")(_group_command("agent", "Figures per agent, most expensive first."))
models = app.command("models")(_group_command("model", "Figures per model, most expensive first."))
workflows = app.command("workflows")(
    _group_command(
        "workflow", "Figures per workflow; executions outside any workflow are '(none)'."
    )
)


@app.command("trends")
def trends(
    ctx: typer.Context,
    interval: Annotated[
        str, typer.Option("--interval", help="hour or day (rolled-up days stay whole days).")
    ] = "day",
    since: SinceOpt = None,
    until: UntilOpt = None,
    agent: AgentOpt = None,
    model: ModelFilterOpt = None,
    workflow: WorkflowFilterOpt = None,
    real_only: RealOnlyOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Executions, cost, success rate and latency per hour or day, with sparklines.

    \b
    Examples:
      claude-force analytics trends --since 24h --interval hour
      claude-force analytics trends --since 30d --json
    """
    from ..errors import ConfigurationError

    if interval not in ("hour", "day"):
        raise ConfigurationError(
            f"unknown interval '{interval}'", key="--interval", hint="use hour or day"
        )
    q = _query(since, until, agent, model, workflow, real_only)
    with open_metrics(state_of(ctx)) as tracker:
        points = tracker.analytics().trends(q, "hour" if interval == "hour" else "day")
    if json_out:
        emit_json({**_period(q), "interval": interval, "points": [p.to_dict() for p in points]})
        return
    from rich.table import Table

    _print_sparklines(points, interval)
    table = Table(title=f"Trends per {interval}", title_justify="left")
    table.add_column("start (UTC)", no_wrap=True)
    for col in ("runs", "ok", "tokens", "cost", "hits", "p95"):
        table.add_column(col, justify="right", no_wrap=True)
    for p in points:
        s = p.stats
        start = p.start.strftime("%Y-%m-%d %H:%M" if p.resolution == "hour" else "%Y-%m-%d (day)")
        table.add_row(
            start,
            f"{s.executions:,}",
            f"{s.success_rate:.0%}",
            f"{s.total_tokens:,}",
            _usd(s.cost_usd),
            f"{s.cache_hits:,}",
            _ms(s.p95_ms),
        )
    out_console().print(table)


def now_us() -> int:
    import time

    return int(time.time() * 1_000_000)


DAY_US = 86_400_000_000


def _print_sparklines(points: list[TrendPoint], interval: str) -> None:
    """One line a figure: its sparkline over the period (one character a {interval}) and range."""
    if len(points) < 2:
        return
    from datetime import timedelta

    from rich.table import Table

    from ._spark import trend_lines

    step = timedelta(hours=1) if interval == "hour" else timedelta(days=1)
    first, last = points[0].start, points[-1].start
    fmt = "%Y-%m-%d %H:%M" if interval == "hour" else "%Y-%m-%d"
    grid = Table(
        title=f"Per {interval}, {first.strftime(fmt)} → {last.strftime(fmt)} (UTC)",
        title_justify="left",
        box=None,
        show_header=False,
        pad_edge=False,
    )
    grid.add_column("figure", style="bold", no_wrap=True)
    grid.add_column("sparkline", style="cyan", no_wrap=True, overflow="crop")
    grid.add_column("range", style="dim", no_wrap=True)
    for label, line, span in trend_lines(points, step):
        grid.add_row(label, line, span)
    out_console().print(grid)


@app.command("export")
def export(
    ctx: typer.Context,
    fmt: Annotated[str, typer.Option("--format", "-f", help="json or csv.")] = "json",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file instead of stdout.")
    ] = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    real_only: RealOnlyOpt = False,
    json_out: Annotated[bool, typer.Option("--json", help="Same as --format json.")] = False,
) -> None:
    """Raw executions and daily rollups (JSON: one document; CSV: one table with a 'kind' column)."""
    from ..errors import ConfigurationError

    fmt = "json" if json_out else fmt.lower()
    if fmt not in ("json", "csv"):
        raise ConfigurationError(f"unknown format '{fmt}'", key="--format", hint="use json or csv")
    q = _query(since, until, real_only=real_only)
    with open_metrics(state_of(ctx)) as tracker:
        text = tracker.analytics().export(q, "json" if fmt == "json" else "csv")
    if output is not None:
        write_output_file(output, text)
        return
    typer.echo(text.rstrip("\n"))


@app.command("rollup")
def rollup(
    ctx: typer.Context,
    until: Annotated[
        str | None,
        typer.Option(
            "--until",
            help="Roll up raw rows before this day (default: older than metrics.raw_retention_days).",
            show_default=False,
        ),
    ] = None,
    vacuum: Annotated[
        bool, typer.Option("--vacuum", help="Also rebuild the file compactly.")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Fold old raw rows into daily rows now, prune expired daily rows, reclaim space."""
    with open_metrics(state_of(ctx), auto_rollup=False) as tracker:
        if until is not None:
            cutoff = _query(None, until).until_us
            assert cutoff is not None
            report = tracker.store.rollup(cutoff)
        else:
            report = tracker.rollup()
        if vacuum:
            from ..metrics.sqlite_backend import SQLiteMetricsStore

            if isinstance(tracker.store, SQLiteMetricsStore):
                tracker.store.vacuum()
        stats = tracker.store.stats()
    data = {**report.to_dict(), "raw_rows_left": stats.raw_rows, "daily_rows": stats.daily_rows}
    data["bytes_after"] = stats.bytes
    if json_out:
        emit_json(data)
        return
    notice(
        f"rolled {report.raw_rows_rolled:,} raw rows (before {data['cutoff'][:10]}) into "
        f"{report.daily_rows_written:,} daily rows; {report.daily_rows_pruned:,} expired daily rows "
        f"pruned; {stats.raw_rows:,} raw and {stats.daily_rows:,} daily rows kept; "
        f"{report.bytes_before:,} → {stats.bytes:,} bytes"
    )


@app.command("prometheus")
def prometheus(
    ctx: typer.Context,
    since: SinceOpt = None,
    until: UntilOpt = None,
) -> None:
    """Print the Prometheus text exposition of the stored metrics."""
    from ..metrics.prometheus import store_exposition

    q = _query(since, until)
    with open_metrics(state_of(ctx)) as tracker:
        tracker.flush()
        text = store_exposition(tracker.store, q).decode()
    typer.echo(text.rstrip("\n"))


app.command("anomalies")(_anomalies.anomalies)
