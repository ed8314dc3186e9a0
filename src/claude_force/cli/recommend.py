"""``claude-force recommend --task TEXT``: which agents fit a task, ranked by meaning (offline)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from ._common import emit_json, notice, out_console, state_of
from ._options import JsonOpt, TaskFileOpt

if TYPE_CHECKING:
    from ..recommend import AgentMatch, AgentRecommender


def recommend(
    ctx: typer.Context,
    task: Annotated[
        str | None, typer.Option("--task", "-t", help="The task to find agents for.")
    ] = None,
    task_file: TaskFileOpt = None,
    top_k: Annotated[
        int, typer.Option("--top-k", "-k", min=1, help="How many agents to show at most.")
    ] = 3,
    min_confidence: Annotated[
        float,
        typer.Option(
            "--min-confidence", min=0.0, max=1.0, help="Hide agents below this confidence."
        ),
    ] = 0.3,
    explain: Annotated[
        bool,
        typer.Option(
            "--explain", help="Show why: the best-matching part of each definition, the method."
        ),
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Recommend the project's agents for a task, best first. Nothing is sent to any model.

    Ranks by meaning with the offline embedding model of the 'semantic' extra; without it, by
    BM25 keyword overlap (said on stderr and in --json as "method").
    """
    from ..config import load_project
    from ..recommend import AgentRecommender
    from ._tasks import one_task

    text = one_task(task, task_file)
    state = state_of(ctx)
    project = load_project(state.config, check_files=False)
    rec = AgentRecommender.for_project(project)
    if rec.fallback_reason is not None and not json_out:
        notice(f"note: ranking by keywords (BM25): {rec.fallback_reason}")
    matches = rec.recommend(text, top_k=top_k, min_confidence=min_confidence)
    if json_out:
        emit_json(
            {
                "task": text,
                "method": rec.method,
                "fallback_reason": rec.fallback_reason,
                "min_confidence": min_confidence,
                "recommendations": [m.to_dict() for m in matches],
            }
        )
        return
    _print(matches, rec, explain, min_confidence)


def _print(
    matches: list[AgentMatch], rec: AgentRecommender, explain: bool, min_confidence: float
) -> None:
    from rich.table import Table

    console = out_console()
    if not matches:
        console.print(
            f"No agent reaches confidence {min_confidence:.2f} for this task "
            "(lower --min-confidence to see the closest ones)."
        )
        return
    table = Table(title=f"Recommended agents ({rec.method})", title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("agent", style="bold")
    table.add_column("confidence", justify="right")
    table.add_column("why")
    for m in matches:
        table.add_row(str(m.rank), m.agent_name, f"{m.confidence:.2f}", m.reasoning)
    console.print(table)
    if explain:
        for m in matches:
            console.print(f"{m.agent_name}:", style="bold")
            if m.evidence:
                console.print(f"  closest part of its definition: {m.evidence}", markup=False)
            console.print(
                f"  domains: {', '.join(m.domains) or '-'} · priority {m.priority}", markup=False
            )
        how = (
            "cosine similarity of all-MiniLM-L6-v2 embeddings (best view 70 %, next two 30 %)"
            if rec.method == "embeddings"
            else "BM25 over the agents' definitions (install the semantic extra for embeddings)"
        )
        console.print(f"method: {how}", style="dim", markup=False)
