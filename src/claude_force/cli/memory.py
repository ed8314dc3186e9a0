"""``claude-force memory search|stats|prune|clear`` — look into and tidy agent memory.

They work on the project's memory file (``memory.path`` in the state directory) whether or not
memory is switched on, so a disabled memory can still be inspected and cleared. A memory that
was never written is reported as empty and no file is created.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
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
    from ..config.snapshot import MemoryView
    from ..memory.backend import SessionBackend
    from ..memory.settings import MemorySettings
    from ..memory.store import MemoryStore

T = TypeVar("T")

app = typer.Typer(
    help="Search and tidy agent memory (past sessions used as context).", no_args_is_help=True
)


SESSIONS = ("session", "sessions")


def with_store(state: CliState, fn: Callable[[MemoryStore], T], empty: T) -> T:
    """Open the project's memory, run ``fn`` on it, close it; ``empty`` when there is none yet."""
    from ..memory.store import MemoryStore

    path, settings, db = _memory_of(state)
    if db is None and not path.exists():
        return empty
    store = MemoryStore(path, settings, db=db)
    try:
        return fn(store)
    finally:
        store.close()


def _memory_of(state: CliState) -> tuple[Path, MemorySettings | MemoryView, SessionBackend | None]:
    """The memory file, the ``memory`` settings and, in cluster mode, the shared tables: from the
    settings snapshot when it matches (config/snapshot.py: no pydantic), else the project."""
    from ..config.snapshot import read
    from ..memory.location import memory_file

    view = read(state.config)
    if view is not None and not view.clustered:
        return memory_file(view.memory.path, view.state_dir), view.memory, None
    from ..config import load_project
    from ..memory.location import cluster_memory_db, memory_path

    project = load_project(state.config, check_files=False)
    # cluster mode: the shared PostgreSQL tables
    return memory_path(project), project.settings.memory, cluster_memory_db(project)


def _when(iso: str | None) -> str:
    if not iso:
        return "-"
    return datetime.fromisoformat(iso).astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def _clip(text: str, n: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


@app.command("search")
def search(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(help="Words to look for in past tasks.")],
    agent: AgentOpt = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=1000, help="At most N.")] = 10,
    days: Annotated[
        float | None,
        typer.Option("--days", min=0, help="Only sessions of the last N days.", show_default=False),
    ] = None,
    failures: Annotated[
        bool, typer.Option("--failures", help="Include failed sessions too.")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Past sessions most relevant to QUERY (BM25 over the task text, newest first among ties)."""
    from ..memory.records import SearchQuery

    q = SearchQuery(query, agent=agent, success_only=not failures, max_age_days=days, limit=limit)
    rows: list[dict[str, Any]] = with_store(
        state_of(ctx), lambda store: [h.to_dict() for h in store.search(q)], []
    )
    if json_out:
        emit_json(rows)
        return
    if not rows:
        notice("no matching sessions" + ("" if agent is None else f" for agent '{agent}'"))
        return
    console = out_console()
    best = max(r["score"] for r in rows) or 1.0
    console.print(f"{len(rows)} session(s) for {query!r}, most relevant first", markup=False)
    for i, r in enumerate(rows, 1):
        flags = ("ok" if r["success"] else "FAILED") + (" · simulated" if r["simulated"] else "")
        console.print(
            f"\n{i}. {_when(r['created_at'])} UTC · {r['agent']} · {r['model']} · {flags}"
            f" · relevance {r['score'] / best:.2f}",
            markup=False,
        )
        console.print(f"   Task: {_clip(r['task'], 300)}", markup=False)
        console.print(f"   Outcome: {_clip(r['summary'], 300)}", markup=False)


@app.command("stats")
def stats(ctx: typer.Context, agent: AgentOpt = None, json_out: JsonOpt = False) -> None:
    """Sessions stored (per agent), success rate, age range, redactions, retention."""
    data: dict[str, Any] = with_store(state_of(ctx), lambda store: store.stats(agent).to_dict(), {})
    if not data:
        path, settings, _ = _memory_of(state_of(ctx))
        data = {
            "location": str(path),
            "sessions": 0,
            "successful": 0,
            "success_rate": 0.0,
            "agents": {},
            "oldest": None,
            "newest": None,
            "avg_execution_time_ms": 0.0,
            "redactions": 0,
            "retention_days": settings.retention_days,
            "query_cache": {},
        }
    if json_out:
        emit_json(data)
        return
    from rich.table import Table

    table = Table(title="Agent memory", title_justify="left", show_header=False)
    table.add_column("figure", style="bold")
    table.add_column("value")
    retention = data["retention_days"]
    rows = [
        ("location", data["location"]),
        ("sessions", f"{data['sessions']:,}"),
        ("success rate", f"{data['success_rate'] * 100:.1f}%"),
        ("oldest", _when(data["oldest"])),
        ("newest", _when(data["newest"])),
        ("avg execution time", f"{data['avg_execution_time_ms']:,.0f} ms"),
        ("secrets redacted", f"{data['redactions']:,}"),
        ("retention", f"{retention} days" if retention else "kept forever"),
    ]
    rows += [(f"  {name}", f"{n:,} sessions") for name, n in data["agents"].items()]
    for name, value in rows:
        table.add_row(name, value)
    out_console().print(table)


@app.command("prune")
def prune(
    ctx: typer.Context,
    days: Annotated[
        float | None,
        typer.Option(
            "--days",
            min=0,
            help="Remove sessions older than N days (default: memory.retention_days).",
            show_default=False,
        ),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Remove old sessions."""
    removed = with_store(state_of(ctx), lambda store: store.prune(days), 0)
    report_removed(removed, SESSIONS, json_out, days=days)


@app.command("clear")
def clear(
    ctx: typer.Context,
    agent: AgentOpt = None,
    yes: YesOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Remove every session (or one agent's)."""
    what = "all of agent memory" if agent is None else f"the memory of agent '{agent}'"
    confirm_removal(what, yes)
    removed = with_store(state_of(ctx), lambda store: store.clear(agent), 0)
    report_removed(removed, SESSIONS, json_out, agent=agent)
