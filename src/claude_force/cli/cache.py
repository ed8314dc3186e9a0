"""``claude-force cache stats|list|inspect|prune|clear`` — look into and tidy the response cache.

They work on the project's configured backend (``cache.backend``) whether or not caching is
switched on, so a disabled cache can still be inspected and cleared.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from ._common import (  # the removal commands' confirmation
    CliState,
    confirm_removal,
    emit_json,
    notice,
    out_console,
    report_removed,
    state_of,
)
from ._options import AgentOpt, JsonOpt, YesOpt

if TYPE_CHECKING:
    from ..cache.store import ResponseStore
    from ..config.snapshot import SettingsView

T = TypeVar("T")

app = typer.Typer(help="Inspect and tidy the response cache.", no_args_is_help=True)


def with_store(
    state: CliState, fn: Callable[[ResponseStore], Awaitable[T]], *, read_only: bool = False
) -> T:
    """Open the project's response store, run ``fn`` on it, close it. ``read_only`` (stats,
    list, inspect): a damaged cache is reported and left where it is."""
    import asyncio

    from ..cache.layer import build_store
    from ..config import load_project

    project = load_project(state.config, check_files=False)
    store = build_store(project, read_only=read_only)

    async def go() -> T:
        try:
            return await fn(store)
        finally:
            await store.aclose()

    return asyncio.run(go())


def _fast_stats(state: CliState) -> tuple[dict[str, Any], SettingsView] | None:
    """``cache stats`` of the SQLite cache from the settings snapshot, read without the store
    (nor asyncio, nor pydantic); ``None`` when the snapshot does not match or the cache is not
    the plain SQLite one (another backend, a configured secret: the store path handles those)."""
    import os

    from ..config.snapshot import read

    view = read(state.config)
    if view is None or view.cache.backend != "sqlite" or view.cache.secret_set:
        return None
    from ..cache.secret import SECRET_ENV

    if os.environ.get(SECRET_ENV):
        return None  # checked by the store as it opens
    from ..cache.stats import sqlite_stats

    c = view.cache
    stats = sqlite_stats(view.state_dir, ttl_hours=c.ttl_hours, max_size_mb=c.max_size_mb)
    return stats.to_dict(), view


def _semantic_figures(state: CliState, view: SettingsView | None = None) -> dict[str, Any]:
    """``cache.semantic`` settings and how many task vectors are stored (read-only); ``view``:
    the SQLite cache's settings from the snapshot."""
    import importlib.util

    if view is not None:
        enabled, threshold = view.cache.semantic_enabled, view.cache.semantic_threshold
        backend, state_dir, redis_url = view.cache.backend, view.state_dir, None
    else:
        from ..config import load_project

        project = load_project(state.config, check_files=False)
        s = project.settings.cache
        enabled, threshold = s.semantic.enabled, s.semantic.threshold
        backend, state_dir, redis_url = s.backend, project.state_dir, s.redis_url
    figures: dict[str, Any] = {"enabled": enabled, "threshold": threshold}
    if importlib.util.find_spec("numpy") is None:  # the `semantic` extra is not installed
        figures["available"] = False
        return figures
    vector_file = state_dir / "semantic.db"
    if backend == "sqlite" and not vector_file.exists():
        figures["entries"] = 0  # never used: no need to load the semantic store (and numpy)
        return figures
    import asyncio

    from ..cache.semantic.store import SqliteVectorStore, VectorStore

    vectors: VectorStore | None = None
    if backend == "sqlite":
        vectors = SqliteVectorStore(vector_file)
    elif backend == "redis" and redis_url and enabled:
        from ..cache.semantic.store import RedisVectorStore

        vectors = RedisVectorStore(redis_url)
    if vectors is not None:

        async def count(v: VectorStore) -> int:
            try:
                return await v.count()
            finally:
                await v.aclose()

        figures["entries"] = asyncio.run(count(vectors))
    return figures


def _clear_semantic(state: CliState) -> None:
    import asyncio

    from ..config import load_project

    project = load_project(state.config, check_files=False)
    path = project.state_dir / "semantic.db"
    if project.settings.cache.backend == "sqlite" and path.exists():
        from ..cache.semantic.store import SqliteVectorStore  # numpy: it wrote the file

        store = SqliteVectorStore(path)

        async def go() -> None:
            try:
                await store.clear()
            finally:
                await store.aclose()

        asyncio.run(go())


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _until(seconds: float) -> str:
    if seconds >= 3600:
        return f"in {seconds / 3600:.1f} h"
    if seconds >= 60:
        return f"in {seconds / 60:.0f} min"
    return f"in {max(seconds, 0):.0f} s"


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n = n / 1024  # type: ignore[assignment]
    return str(n)


@app.command("stats")
def stats(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """Hits, misses, hit rate, evictions, expirations, integrity failures, size, and savings."""

    state = state_of(ctx)
    fast = _fast_stats(state)
    if fast is not None:
        data, view = fast
        data["semantic"].update(_semantic_figures(state, view))
    else:

        async def go(store: ResponseStore) -> dict[str, Any]:
            return (await store.stats()).to_dict()

        data = with_store(state, go, read_only=True)
        data["semantic"].update(_semantic_figures(state))
    if json_out:
        emit_json(data)
        return
    from rich.table import Table

    table = Table(title="Response cache", title_justify="left", show_header=False)
    table.add_column("figure", style="bold")
    table.add_column("value", justify="right")
    tokens = data["tokens_saved"]
    rows = [
        ("backend", f"{data['backend']} — {data['location']}"),
        ("entries", f"{data['entries']:,}"),
        ("size", f"{_size(data['bytes'])} of {data['max_size_mb']:g} MiB"),
        ("ttl", f"{data['ttl_hours']:g} h"),
        ("hits", f"{data['hits']:,}"),
        ("misses", f"{data['misses']:,}"),
        ("hit rate", f"{data['hit_rate'] * 100:.1f}%"),
        ("coalesced (single-flight)", f"{data['coalesced']:,}"),
        ("stores", f"{data['stores']:,}"),
        ("evictions", f"{data['evictions']:,}"),
        ("expirations", f"{data['expirations']:,}"),
        ("integrity failures", f"{data['integrity_failures']:,}"),
        ("tokens saved", f"{tokens['total']:,} ({tokens['input']:,} in, {tokens['output']:,} out)"),
        ("cost saved", f"${float(data['cost_saved_usd']):,.6f}"),
        ("time saved", f"{data['seconds_saved']:,.1f} s"),
    ]
    if data["uncosted_hits"]:
        rows.append(("hits without a price", f"{data['uncosted_hits']:,}"))
    sem = data["semantic"]
    if sem["enabled"] or sem["hits"] or sem["entries"]:
        shown = f"on, threshold {sem['threshold']:g}" if sem["enabled"] else "off"
        rows += [
            ("semantic cache", shown),
            ("semantic entries", f"{sem['entries']:,}"),
            ("semantic hits (of hits)", f"{sem['hits']:,}"),
            ("semantic cost saved", f"${float(sem['cost_saved_usd']):,.6f}"),
            ("semantic refusals (guard)", f"{sem['refusals']:,}"),
        ]
    for name, value in rows:
        table.add_row(name, value)
    out_console().print(table)


@app.command("list")
def list_entries(
    ctx: typer.Context,
    agent: AgentOpt = None,
    limit: Annotated[
        int | None, typer.Option("--limit", "-n", min=1, help="At most N entries.")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Entries, most recently used first."""

    async def go(store: ResponseStore) -> list[dict[str, Any]]:
        now = store.now()
        return [
            {
                "key": e.key,
                "agent": e.agent,
                "model": e.model,
                "namespace": e.namespace,
                "size": e.size,
                "hits": e.hits,
                "created_at": e.created_at,
                "last_used_at": e.last_used_at,
                "expires_at": e.expires_at,
                "expired": not store.policy.is_live(e.expires_at, now),
            }
            for e in await store.entries(agent=agent, limit=limit)
        ]

    rows = with_store(state_of(ctx), go, read_only=True)
    if json_out:
        emit_json(rows)
        return
    if not rows:
        notice("the cache is empty" if agent is None else f"no entries for agent '{agent}'")
        return
    from rich.markup import escape
    from rich.table import Table

    now = datetime.now(UTC).timestamp()
    table = Table(
        title=f"Cache entries ({len(rows)}), most recently used first", title_justify="left"
    )
    table.add_column("key", no_wrap=True)
    table.add_column("agent", no_wrap=True)
    table.add_column("model", no_wrap=True)
    table.add_column("kind")
    table.add_column("size", justify="right", no_wrap=True)
    table.add_column("hits", justify="right")
    table.add_column("expires", justify="right", no_wrap=True)
    for r in rows:
        table.add_row(
            r["key"][:12],
            escape(r["agent"] or "-"),
            escape(r["model"]),
            escape(r["namespace"]),
            _size(r["size"]),
            str(r["hits"]),
            "expired" if r["expired"] else _until(r["expires_at"] - now),
        )
    out_console().print(table)


@app.command("inspect")
def inspect(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help="The key, or a unique prefix (≥ 6 hex digits).")],
    json_out: JsonOpt = False,
) -> None:
    """One entry: its columns, whether its signature verifies, and the cached answer."""
    from ..cache.errors import CacheKeyError

    async def go(store: ResponseStore) -> dict[str, Any]:
        full = await store.resolve(key)
        found = await store.inspect(full)
        if found is None:
            raise CacheKeyError(f"no cache entry {full}", hint="see `claude-force cache list`")
        e, info = found.entry, found.info
        return {
            "key": info.key,
            "agent": info.agent,
            "model": info.model,
            "namespace": info.namespace,
            "size": info.size,
            "hits": info.hits,
            "created_at": info.created_at,
            "last_used_at": info.last_used_at,
            "expires_at": info.expires_at,
            "live": found.live,
            "valid": found.valid,
            "problem": found.problem,
            "entry": None
            if e is None
            else {
                "task_preview": e.preview,
                "response_model": e.response_model,
                "stop_reason": e.stop_reason,
                "provider": e.provider,
                "simulated": e.simulated,
                "request_id": e.request_id,
                "usage": e.usage.model_dump(),
                "duration_s": e.duration_s,
                "estimated_cost": e.estimated_cost,
                "memory_sessions": list(e.memory_sessions),
                "text": e.text,
            },
        }

    data = with_store(state_of(ctx), go, read_only=True)
    if json_out:
        emit_json(data)
        return
    from rich.markup import escape

    console = out_console()
    status = "valid" if data["valid"] else f"INVALID: {data['problem']}"
    console.print(f"[bold]key[/bold]        {data['key']}")
    console.print(
        f"[bold]agent[/bold]      {data['agent'] or '-'}   [bold]model[/bold] {data['model']}"
    )
    console.print(
        f"[bold]kind[/bold]       {data['namespace']}   [bold]size[/bold] {_size(data['size'])}"
    )
    console.print(f"[bold]created[/bold]    {_when(data['created_at'])} UTC   hits {data['hits']}")
    console.print(
        f"[bold]expires[/bold]    {_when(data['expires_at'])} UTC"
        + ("" if data["live"] else " (expired)")
    )
    console.print(f"[bold]signature[/bold]  {escape(status)}")
    entry = data["entry"]
    if entry is not None:
        u = entry["usage"]
        console.print(f"[bold]task[/bold]       {escape(entry['task_preview'])}")
        console.print(
            f"[bold]answer[/bold]     {escape(entry['response_model'])} · {entry['stop_reason']} · "
            f"{u['input_tokens']} in / {u['output_tokens']} out tokens"
            + (" · SIMULATED" if entry["simulated"] else "")
        )
        if entry["memory_sessions"]:
            sessions = ", ".join(entry["memory_sessions"])
            console.print(f"[bold]memory[/bold]     produced with past sessions {sessions}")
        console.print()
        console.print(entry["text"], markup=False, highlight=False)


@app.command("prune")
def prune(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """Remove expired entries."""

    async def go(store: ResponseStore) -> int:
        return await store.prune()

    removed = with_store(state_of(ctx), go)
    report_removed(removed, ("expired entry", "expired entries"), json_out)


@app.command("clear")
def clear(
    ctx: typer.Context,
    agent: AgentOpt = None,
    yes: YesOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Remove all entries (or one agent's). Statistics are kept."""
    what = "all cache entries" if agent is None else f"the cache entries of agent '{agent}'"
    confirm_removal(what, yes)

    async def go(store: ResponseStore) -> int:
        return await store.clear(agent)

    removed = with_store(state_of(ctx), go)
    if agent is None:  # the semantic cache's task vectors go with the entries
        _clear_semantic(state_of(ctx))
    report_removed(removed, ("entry", "entries"), json_out, agent=agent)
