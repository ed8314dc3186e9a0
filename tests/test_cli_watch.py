"""A CLI people like to watch: the progress bar with counts, elapsed and ETA that keeps running
rows visible, sparklines in analytics, examples and plain value names in --help, completion."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner

from _core_helpers import minimal_project
from claude_force.cli._progress import ProgressView
from claude_force.cli._spark import BLOCKS, continuous, sparkline, trend_lines
from claude_force.cli.app import app
from claude_force.metrics.analytics import Stats, TrendPoint
from claude_force.metrics.record import Cell, ExecutionRecord, to_us
from claude_force.metrics.sqlite_backend import SQLiteMetricsStore

runner = CliRunner()


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_header_counts_elapsed_and_eta() -> None:
    clock = Clock()
    view = ProgressView(Console(file=io.StringIO()), [f"t{i}" for i in range(10)], clock=clock)
    for i in range(4):
        view.board.mark(i, "done")
    view.board.mark(4, "failed", "boom")
    view.board.mark(5, "running")
    clock.t += 10  # 5 finished in 10 s: 5 left, ETA 10 s
    assert view.header() == (
        "5/10 finished · 1 failed · 1 running · 4 waiting · 0:10 elapsed · ETA 0:10"
    )


def test_running_rows_stay_visible_and_finished_rows_scroll_away() -> None:
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, width=100, height=12)
    labels = [f"agent: task {i}" for i in range(100)]
    with ProgressView(console, labels) as view:
        for i in range(30):
            view.board.mark(i, "running")
        for i in range(20):
            view.board.mark(i, "done", "0.10 s")
        rendered = Console(file=io.StringIO(), width=100, height=12)
        with rendered.capture() as cap:
            rendered.print(view)
        live = cap.get()
    assert "20/100 finished" in live and "10 running" in live and "70 waiting" in live
    assert "agent: task 20" in live  # the first running row
    assert "agent: task 5 " not in live  # a finished one is not in the live area
    assert "more running" in live  # 10 running rows do not fit in 12 lines: the rest counted
    assert len(live.splitlines()) <= 12
    printed = buf.getvalue()
    assert "✓" in printed and "agent: task 19" in printed  # finished rows printed above


def test_sparkline() -> None:
    assert sparkline([0, 1, 2, 3, 4, 5, 6, 7]) == BLOCKS
    assert sparkline([None, 5, None]) == f" {BLOCKS[-1]} "
    assert sparkline([3, 3]) == BLOCKS[-1] * 2 and sparkline([0, 0]) == BLOCKS[0] * 2
    assert sparkline([]) == ""


def _point(day: int, executions: int) -> TrendPoint:
    cell = Cell(executions=executions, attempts=executions, successes=executions)
    start = datetime(2026, 11, day, tzinfo=UTC)
    return TrendPoint(start, "day", Stats.of(cell))


def test_trend_lines_fill_gaps() -> None:
    points = [_point(1, 4), _point(4, 8)]
    grid = continuous(points, timedelta(days=1))
    assert [p is not None for p in grid] == [True, False, False, True]
    lines = dict((label, line) for label, line, _ in trend_lines(points, timedelta(days=1)))
    assert len(lines["executions"]) == 4 and lines["executions"][1] == BLOCKS[0]


def test_analytics_shows_sparklines(tmp_path: Path) -> None:
    config = minimal_project(tmp_path, memory={"enabled": False})
    store = SQLiteMetricsStore(config.parent / "state" / "metrics.db")
    now = datetime.now(UTC)
    store.upsert(
        [
            ExecutionRecord(
                f"e{i}", "alpha", "m", "anthropic", to_us(now - timedelta(hours=i)), 1000, True
            )
            for i in range(30)
        ]
    )
    store.close()
    base = ["--config", str(config), "analytics"]
    trends = runner.invoke(app, [*base, "trends", "--since", "2d", "--interval", "hour"])
    assert trends.exit_code == 0, trends.stderr
    assert "executions" in trends.stdout and any(b in trends.stdout for b in BLOCKS)
    summary = runner.invoke(app, [*base, "summary", "--since", "2d"])
    assert summary.exit_code == 0 and "Per hour" in summary.stdout


def _helps() -> dict[str, str]:
    """Every command's --help text (built from the command tree: no process per command)."""
    from claude_force.cli.app import _plain_help, _root_command

    root = _root_command()
    _plain_help(root)
    out: dict[str, str] = {}

    def walk(cmd: Any, path: list[str], parent: Any) -> None:
        ctx = cmd.context_class(cmd, info_name=path[-1] if path else "claude-force", parent=parent)
        out[" ".join(path)] = cmd.get_help(ctx)
        for name in sorted(getattr(cmd, "commands", {})):
            walk(cmd.commands[name], [*path, name], ctx)

    walk(root, [], None)
    return out


def test_help_names_values_not_types_and_shows_examples() -> None:
    helps = _helps()
    for path, text in helps.items():
        for leak in ("<str>", "<int range>", "<float range>", "list[str]", "<int>", "<path>"):
            assert leak not in text, f"'claude-force {path} --help' shows {leak}"
    for path in ("execute", "run-workflow", "serve", "analytics summary", "analytics trends"):
        assert "Examples:" in helps[path], path
    assert "--max-tokens N" in helps["execute"] and "[TASK]..." in helps["execute"]


def test_shell_completion_is_on(monkeypatch: pytest.MonkeyPatch) -> None:
    import typer.completion

    # typer detects the shell from the process tree (shellingham): under `make` from `sh` that is
    # "sh", which has no completion script; the test is about claude-force's switch, not that
    monkeypatch.setattr(typer.completion, "_get_shell_name", lambda: "bash")
    text = runner.invoke(app, ["--help"]).stdout
    assert "--install-completion" in text and "--show-completion" in text
    shown = runner.invoke(app, ["--show-completion", "bash"])
    assert shown.exit_code == 0 and "claude" in shown.stdout.lower()
