"""The progress display of ``execute`` and ``run workflow``: each task waiting/running/done/failed.

:class:`TaskBoard` is the pure state. :class:`ProgressView` shows it on stderr: a live rich table
on a terminal, one line per change otherwise (CI logs, pipes). Rows learn that their task started
from the runner's :class:`~claude_force.events.ExecutionStarted` event, so "running" means the
task got past the concurrency bound, not merely that it was submitted.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Literal

from .._closing import Closing
from ._report import facts

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.live import Live

    from ..events import Event
    from ..runner import Execution

Status = Literal["waiting", "running", "done", "failed", "skipped"]

current_row: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "claude_force_cli_row", default=None
)
"""The board row of the task running in this asyncio task (set by the CLI's driver)."""

_STYLE: dict[Status, str] = {
    "waiting": "dim",
    "running": "yellow",
    "done": "green",
    "failed": "red",
    "skipped": "dim",
}
_ICON: dict[Status, str] = {
    "waiting": "·",
    "running": "…",
    "done": "✓",
    "failed": "✗",
    "skipped": "-",
}


def finished_detail(
    *,
    success: bool,
    error: str | None,
    duration_ms: float,
    total_tokens: int,
    cost_usd: Decimal | None,
    cached: bool,
    simulated: bool,
) -> str:
    """The text next to a finished row (the same for an event and for an Execution)."""
    if not success:
        reason = error or "failed"
        return reason if len(reason) <= 80 else reason[:79] + "…"
    bits = facts(
        success=True,
        duration_ms=duration_ms,
        total_tokens=total_tokens,
        cost_usd=cost_usd,
        cached=cached,
        simulated=simulated,
    )
    return " · ".join(bits[1:])


@dataclass
class Row:
    label: str
    status: Status = "waiting"
    detail: str = ""


class TaskBoard:
    """The status of each task; ``on_change`` is told about every transition."""

    def __init__(
        self, labels: list[str], on_change: Callable[[int, Row], None] | None = None
    ) -> None:
        self.rows = [Row(label) for label in labels]
        self.on_change = on_change

    def mark(self, index: int, status: Status, detail: str = "") -> None:
        row = self.rows[index]
        if row.status == status and row.detail == detail:
            return
        row.status = status
        row.detail = detail
        if self.on_change is not None:
            self.on_change(index, row)

    def counts(self) -> dict[Status, int]:
        out: dict[Status, int] = {s: 0 for s in _ICON}
        for row in self.rows:
            out[row.status] += 1
        return out

    def finish(self, index: int, ex: Execution) -> None:
        self.mark(
            index,
            "done" if ex.success else "failed",
            finished_detail(
                success=ex.success,
                error=ex.errors[0] if ex.errors else ex.error_type,
                duration_ms=ex.duration_ms,
                total_tokens=ex.usage.total_tokens,
                cost_usd=ex.cost_usd,
                cached=ex.cached,
                simulated=ex.simulated,
            ),
        )

    def on_event(self, event: Event) -> None:
        """EventBus subscriber: the emitting task's row becomes running, then done or failed.

        The row is the one the driver set in :data:`current_row` for this asyncio task, else the
        event's workflow position.
        """
        from ..events import ExecutionFinished, ExecutionStarted, RateLimitWait, RetryScheduled

        index = current_row.get()
        if index is None and isinstance(event, ExecutionStarted | ExecutionFinished):
            index = event.workflow_position
        if index is None or not 0 <= index < len(self.rows):
            return
        if isinstance(event, ExecutionStarted):
            self.mark(index, "running")
        elif isinstance(event, ExecutionFinished):
            self.mark(
                index,
                "done" if event.success else "failed",
                finished_detail(
                    success=event.success,
                    error=event.error or event.error_type,
                    duration_ms=event.duration_ms,
                    total_tokens=event.usage.total_tokens,
                    cost_usd=event.cost_usd,
                    cached=event.cached,
                    simulated=event.simulated,
                ),
            )
        elif isinstance(event, RetryScheduled):
            cause = str(event.status) if event.status is not None else event.error_type
            self.mark(
                index,
                "running",
                f"attempt {event.attempt} failed ({cause}); retry in {event.delay_s:.1f} s",
            )
        elif isinstance(event, RateLimitWait):
            self.mark(
                index, "running", f"waiting {event.wait_s:.1f} s for the {event.limit} rate limit"
            )


class ProgressView(Closing):
    """Shows a :class:`TaskBoard` on ``console`` (stderr) while the ``with`` block runs.

    On a terminal: a live area with a progress bar (counts, elapsed, ETA) and the rows still
    running — as many as fit, for any number of tasks — while each finished row is printed
    above it once and scrolls away. Elsewhere (CI logs, pipes): one line per change.
    """

    def __init__(
        self,
        console: Console,
        labels: list[str],
        *,
        enabled: bool = True,
        clock: Callable[[], float] | None = None,
    ) -> None:
        import time

        self.console = console
        self.enabled = enabled
        self.live_mode = enabled and console.is_terminal
        self.board = TaskBoard(labels, on_change=self._changed)
        self._live: Live | None = None
        self._clock = clock or time.monotonic
        self._started = self._clock()

    # --- rendering --------------------------------------------------------------------------------

    def header(self) -> str:
        """``42/100 done · 3 failed · 8 running · 0:12 elapsed · ETA 0:17``."""
        c = self.board.counts()
        total = len(self.board.rows)
        finished = c["done"] + c["failed"] + c["skipped"]
        elapsed = max(0.0, self._clock() - self._started)
        parts = [f"{finished}/{total} finished"]
        if c["failed"]:
            parts.append(f"{c['failed']} failed")
        parts.append(f"{c['running']} running")
        if c["waiting"]:
            parts.append(f"{c['waiting']} waiting")
        parts.append(f"{_clock_text(elapsed)} elapsed")
        if 0 < finished < total:
            parts.append(f"ETA {_clock_text(elapsed / finished * (total - finished))}")
        return " · ".join(parts)

    def __rich__(self) -> RenderableType:
        from rich.console import Group
        from rich.progress_bar import ProgressBar
        from rich.spinner import Spinner
        from rich.table import Table
        from rich.text import Text

        c = self.board.counts()
        total = len(self.board.rows)
        finished = c["done"] + c["failed"] + c["skipped"]
        bar = Table.grid(padding=(0, 1))
        bar.add_row(
            ProgressBar(total=max(total, 1), completed=finished, width=30),
            Text(self.header(), style="bold"),
        )
        running = [r for r in self.board.rows if r.status == "running"]
        room = max(1, self.console.size.height - 4)
        table = Table(box=None, pad_edge=False, show_header=False)
        table.add_column("", width=2)
        table.add_column("task", overflow="ellipsis", no_wrap=True)
        table.add_column("", overflow="ellipsis", no_wrap=True)
        for row in running[:room]:
            table.add_row(Spinner("dots", style="yellow"), row.label, Text(row.detail))
        parts: list[RenderableType] = [bar, table]
        if len(running) > room:
            parts.append(Text(f"  … and {len(running) - room} more running", style="dim"))
        return Group(*parts)

    def _changed(self, index: int, row: Row) -> None:
        if not self.enabled:
            return
        if self.live_mode:
            if row.status in ("done", "failed", "skipped") and self._live is not None:
                from rich.text import Text

                line = Text(f"{_ICON[row.status]} ", style=_STYLE[row.status])
                line.append(row.label)
                if row.detail:
                    line.append(f"  {row.detail}", style="dim" if row.status != "failed" else "")
                self._live.console.print(line, soft_wrap=True)  # above the live area
            return
        total = len(self.board.rows)
        detail = f"  {row.detail}" if row.detail else ""
        self.console.print(
            f"[{index + 1}/{total}] {row.label}  {row.status}{detail}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )

    # --- lifecycle --------------------------------------------------------------------------------

    def __enter__(self) -> ProgressView:
        if self.live_mode:
            from rich.live import Live

            self._started = self._clock()
            live = Live(self, console=self.console, refresh_per_second=8, transient=False)
            live.start()
            self._live = live
        return self

    def close(self) -> None:
        """Stop the live display (the rows stay on screen); safe to call more than once."""
        if self._live is not None:
            self._live.stop()
            self._live = None


def _clock_text(seconds: float) -> str:
    """``0:07``, ``12:30``, ``1:02:03``."""
    s = int(seconds)
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"
