"""Drive the engine for the CLI: run items with a progress board, time the whole run.

Kept apart from the typer commands so that ``execute`` and ``run agent`` share one path to the
engine (and so benchmarks can call it). Workflows run through ``cli/workflow.py``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ._progress import TaskBoard, current_row
from ._tasks import TaskItem

if TYPE_CHECKING:
    from ..engine import AgentEngine
    from ..runner import Execution, RunOptions


def check_inputs(items: Sequence[TaskItem]) -> None:
    """The 2.2 input checks (agent name, task size), before the project is even read: exit 2."""
    from ..inputs import check_run

    for item in items:
        check_run(item.agent, item.task)


def preflight(core: AgentEngine, items: Sequence[TaskItem], model: str | None) -> None:
    """Fail fast (exit 2) on an unknown agent or a retired/unknown model, before anything runs."""
    for agent in dict.fromkeys(item.agent for item in items):
        core.project.agent(agent)
        core.project.model_for(agent, model)


def run_options(
    model: str | None,
    max_tokens: int,
    temperature: float | None,
    *,
    no_cache: bool,
    refresh: bool,
) -> RunOptions:
    """The :class:`RunOptions` of the run flags (``--model``, ``--max-tokens``,
    ``--temperature``, ``--no-cache``, ``--refresh``)."""
    from ..runner import RunOptions

    return RunOptions(
        model=model,
        max_tokens=max_tokens,
        temperature=temperature,
        use_cache=not no_cache,
        refresh=refresh,
    )


def label(item: TaskItem, width: int = 48) -> str:
    first = item.task.strip().splitlines()[0] if item.task.strip() else ""
    if len(first) > width:
        first = first[: width - 1] + "…"
    return f"{item.agent}: {first}"


async def run_items(
    core: AgentEngine,
    items: Sequence[TaskItem],
    options: RunOptions,
    *,
    concurrent: bool,
    board: TaskBoard | None = None,
) -> tuple[list[Execution], float]:
    """Run the items (concurrently within the core's bound, or one by one); return results + wall s.

    A failed item is a result with ``success=False``; it never stops the others.
    """
    unsubscribe = core.bus.subscribe(board.on_event) if board is not None else None

    async def one(index: int, item: TaskItem) -> Execution:
        token = current_row.set(index)
        try:
            ex = await core.execute(item.agent, item.task, options)
        finally:
            current_row.reset(token)
        if board is not None:
            board.finish(index, ex)
        return ex

    await core.prepare()  # the SDK and its client load before the run's clock starts
    t0 = time.perf_counter()
    try:
        if concurrent:
            results = list(await asyncio.gather(*(one(i, it) for i, it in enumerate(items))))
        else:
            results = [await one(i, it) for i, it in enumerate(items)]
    finally:
        if unsubscribe is not None:
            unsubscribe()
    return results, time.perf_counter() - t0
