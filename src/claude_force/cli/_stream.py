"""``execute`` with the answer shown as it is written (one task, no ``--json``).

The default: stream when stdout is a terminal; ``--stream`` forces it (e.g. piped into another
program that shows text as it comes), ``--no-stream`` prints the whole answer at the end. The text
goes to stdout as raw text (on a terminal with control characters made visible, as for every
answer); markdown is not rendered while streaming, since it can only be rendered whole.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING

from ..errors import InvalidInputError

if TYPE_CHECKING:
    from ..engine import AgentEngine
    from ..runner import Execution, RunOptions
    from ._tasks import TaskItem


def wants_stream(flag: bool | None, *, tasks: int, json_out: bool, cluster: bool) -> bool:
    """Whether to stream: ``flag`` (``--stream`` / ``--no-stream``) or, unset, whether stdout is
    a terminal. Only a single task, outside ``--json`` and cluster mode, streams; asking for it
    elsewhere is a usage error (exit 2)."""
    if flag is False:
        return False
    possible = tasks == 1 and not json_out and not cluster
    if flag is None:
        return possible and sys.stdout.isatty()
    if not possible:
        why = (
            "--json prints one JSON document"
            if json_out
            else "cluster mode runs it on a worker"
            if cluster
            else f"there are {tasks} tasks (batch runs print whole answers)"
        )
        raise InvalidInputError(
            f"--stream needs a single task printed as text, but {why}",
            hint="leave out --stream",
        )
    return True


async def stream_one(
    core: AgentEngine, item: TaskItem, options: RunOptions, *, quiet: bool
) -> tuple[Execution, float]:
    """Run ``item``, writing its answer to stdout as it comes; return it and the wall seconds."""
    from rich.rule import Rule
    from rich.text import Text

    from ..safe_text import safe
    from ..streaming import StreamEnd, TextDelta
    from ._common import out_console

    out = sys.stdout
    raw = not out.isatty()  # piped: the exact text; on a terminal: controls made visible
    console = out_console()
    await core.prepare()  # the SDK and its client load before the clock starts
    header = not quiet  # a rule with the agent's name, printed just before the first text
    t0 = time.perf_counter()
    ex: Execution | None = None
    last = "\n"
    async for event in core.stream(item.agent, item.task, options):
        if isinstance(event, TextDelta):
            if header:  # after any notice the run printed (e.g. the simulated model's)
                console.print(Rule(Text(f"{item.agent} · streaming"), align="left"))
                header = False
            out.write(event.text if raw else safe(event.text))
            out.flush()
            last = event.text[-1:] or last
        elif isinstance(event, StreamEnd):
            ex = event.execution
    assert ex is not None  # the stream always ends with its execution
    wall = time.perf_counter() - t0
    if last != "\n":
        out.write("\n")
    out.flush()
    if not quiet:
        from ._report import describe

        if not ex.success:
            console.print(Text("FAILED: " + "; ".join(ex.errors), style="red"))
        console.print(Rule(Text(f"{ex.agent} · {describe(ex)}"), align="left"))
    return ex, wall
