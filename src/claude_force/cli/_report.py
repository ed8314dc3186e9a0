"""Turn executions into the CLI's reports: a pure summary, JSON objects and rich text."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from ..speedup import speedup_of

if TYPE_CHECKING:
    from rich.console import Console

    from ..runner import Execution

Mode = Literal["async", "sequential", "workflow", "cluster", "streamed"]


@dataclass(frozen=True, slots=True)
class RunSummary:
    """Totals of one CLI run. ``busy_s`` is the sum of the tasks' service times (a task's time
    waiting for a concurrency slot is not part of it: see ``Execution.queue_wait_ms``)."""

    tasks: int
    succeeded: int
    failed: int
    wall_s: float
    busy_s: float
    input_tokens: int
    output_tokens: int
    total_tokens: int
    cost_usd: Decimal | None
    simulated: bool
    cached: int
    mode: Mode
    max_concurrent: int | None = None
    queue_wait_s: float = 0.0
    semantic: int = 0  # of ``cached``: answered from a paraphrase's entry (semantic cache)

    @classmethod
    def of(
        cls,
        executions: Sequence[Execution],
        wall_s: float,
        mode: Mode,
        max_concurrent: int | None = None,
    ) -> RunSummary:
        # A failed call is not billed: it counts as 0, so all-failed runs show $0, not "n/a".
        costs: list[Decimal] = []
        for ex in executions:
            if not ex.success:
                costs.append(Decimal(0))
            elif ex.cost_usd is not None:
                costs.append(ex.cost_usd)
        return cls(
            tasks=len(executions),
            succeeded=sum(ex.success for ex in executions),
            failed=sum(not ex.success for ex in executions),
            wall_s=wall_s,
            busy_s=sum(ex.duration_ms for ex in executions) / 1000,
            queue_wait_s=sum(ex.queue_wait_ms for ex in executions) / 1000,
            input_tokens=sum(ex.usage.input_tokens for ex in executions),
            output_tokens=sum(ex.usage.output_tokens for ex in executions),
            total_tokens=sum(ex.usage.total_tokens for ex in executions),
            cost_usd=sum(costs, Decimal(0)) if costs else None,
            simulated=any(ex.simulated for ex in executions),
            cached=sum(ex.cached for ex in executions),
            semantic=sum(ex.semantic_similarity is not None for ex in executions),
            mode=mode,
            max_concurrent=max_concurrent,
        )

    @property
    def speedup(self) -> float | None:
        """Sum of service times over wall time (≈ how many tasks were served at once).

        Only for a run that succeeded: a run with a failed task reports none (its failures
        could have ended early or late, and "faster" means nothing for work not done)."""
        return speedup_of(self.busy_s, self.wall_s, ok=self.ok and self.tasks >= 2)

    @property
    def ok(self) -> bool:
        return self.failed == 0

    def to_dict(self) -> dict[str, Any]:
        speedup = self.speedup
        return {
            "tasks": self.tasks,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "mode": self.mode,
            "max_concurrent": self.max_concurrent,
            "wall_time_s": round(self.wall_s, 4),
            "sum_of_durations_s": round(self.busy_s, 4),
            "sum_of_queue_wait_s": round(self.queue_wait_s, 4),
            "speedup": round(speedup, 3) if speedup is not None else None,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "total_tokens": self.total_tokens,
            "cost_usd": float(self.cost_usd) if self.cost_usd is not None else None,
            "cached": self.cached,
            "semantic_hits": self.semantic,
            "simulated": self.simulated,
        }

    def line(self) -> str:
        """One human line: tasks, ok/failed, wall time, tokens, cost; simulated runs say so."""
        parts = [
            f"{self.tasks} task{'s' if self.tasks != 1 else ''}",
            f"{self.succeeded} ok",
            f"{self.failed} failed",
            f"{self.wall_s:.2f} s wall ({self.mode})",
        ]
        speedup = self.speedup
        if speedup is not None:
            parts.append(f"{self.busy_s:.2f} s of agent time, {speedup:.2f}× speedup")
        parts.append(
            f"{self.total_tokens:,} tokens ({self.input_tokens:,} in / {self.output_tokens:,} out)"
        )
        if self.cost_usd is None:
            parts.append("cost n/a (unpriced model)")
        else:
            label = "simulated cost" if self.simulated else "cost"
            parts.append(f"{label} ${self.cost_usd:.4f}")
        if self.cached:
            semantic = f" ({self.semantic} semantic)" if self.semantic else ""
            parts.append(f"{self.cached} from cache{semantic}")
        text = " · ".join(parts)
        return f"SIMULATED — {text}" if self.simulated else text


def result_dict(ex: Execution) -> dict[str, Any]:
    """One task's result in ``--json`` output: the 2.2 ``AgentResult`` fields plus ``task``."""
    data = ex.to_agent_result().to_dict()
    data["task"] = ex.task
    return data


def facts(
    *,
    success: bool,
    duration_ms: float,
    total_tokens: int,
    cost_usd: Decimal | None,
    cached: bool,
    simulated: bool,
) -> list[str]:
    """Short facts about one execution: status, time, tokens, cost, flags."""
    bits = ["ok" if success else "FAILED", f"{duration_ms / 1000:.2f} s"]
    if success:
        bits.append(f"{total_tokens:,} tokens")
        if cost_usd is not None:
            bits.append(f"${cost_usd:.4f}")
    if cached:
        bits.append("cached")
    if simulated:
        bits.append("SIMULATED")
    return bits


def describe(ex: Execution) -> str:
    return " · ".join(
        facts(
            success=ex.success,
            duration_ms=ex.duration_ms,
            total_tokens=ex.usage.total_tokens,
            cost_usd=ex.cost_usd,
            cached=ex.cached,
            simulated=ex.simulated,
        )
    )


def print_result(console: Console, ex: Execution, title: str, *, markdown: bool) -> None:
    """A heading rule, then the output (rendered as markdown on a terminal, raw otherwise)."""
    from rich.markdown import Markdown
    from rich.rule import Rule
    from rich.text import Text

    console.print(Rule(Text(f"{title} · {ex.agent} · {describe(ex)}"), align="left"))
    if not ex.success:
        console.print(Text("FAILED: " + "; ".join(ex.errors), style="red"))
    elif markdown:
        console.print(Markdown(ex.output))
    else:
        console.print(Text(ex.output), soft_wrap=True)
    console.print()


def print_outputs_only(executions: Sequence[Execution]) -> None:
    """``--quiet``: the outputs of successful tasks, separated by a blank line, nothing else."""
    import sys

    from ..safe_text import safe

    raw = not sys.stdout.isatty()  # piped: the exact output; on a terminal: controls escaped
    first = True
    for ex in executions:
        if not ex.success:
            continue
        if not first:
            sys.stdout.write("\n")
        text = ex.output if raw else safe(ex.output)
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        first = False
    sys.stdout.flush()


def report_failures(executions: Sequence[Execution], labels: Sequence[str]) -> None:
    """One ``error:`` line on stderr per failed task."""
    import sys

    from ..safe_text import safe_line

    for ex, label in zip(executions, labels, strict=True):
        if not ex.success:
            reason = "; ".join(ex.errors) or ex.error_type or "failed"
            sys.stderr.write(safe_line(f"error: {label} ({ex.agent}) failed: {reason}") + "\n")
    sys.stderr.flush()


def markdown_report(executions: list[Execution]) -> str:
    parts = []
    for ex in executions:
        parts.append(f"## {ex.agent}\n\n_{describe(ex)}_\n\n{ex.output or '; '.join(ex.errors)}\n")
    return "\n".join(parts)
