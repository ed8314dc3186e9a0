"""Pure pieces of the CLI: the task board, the progress view, the summary, the scaffold."""

from __future__ import annotations

import io
import json
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import typer
from rich.console import Console
from typer.testing import CliRunner

from claude_force.cli import _progress
from claude_force.cli._common import to_json
from claude_force.cli._progress import ProgressView, TaskBoard, current_row
from claude_force.cli._report import RunSummary, result_dict
from claude_force.cli.app import app
from claude_force.errors import ConfigurationError
from claude_force.events import (
    ExecutionFinished,
    ExecutionStarted,
    RateLimitWait,
    RetryScheduled,
)
from claude_force.messages import Usage
from claude_force.runner import Execution
from claude_force.scaffold import ProjectExistsError, init_project, sample_files

NOW = datetime(2026, 11, 1, tzinfo=UTC)


def execution(
    *,
    success: bool = True,
    ms: float = 1000.0,
    cost: Decimal | None = Decimal("0.01"),
    simulated: bool = True,
    cached: bool = False,
    position: int | None = None,
) -> Execution:
    return Execution(
        execution_id="e",
        agent="python-expert",
        task="t",
        model="claude-sonnet-5-5",
        provider="simulated",
        success=success,
        output="out" if success else "",
        started_at=NOW,
        duration_ms=ms,
        usage=Usage(100, 20) if success else Usage(),
        cost_usd=cost if success else None,
        cached=cached,
        simulated=simulated,
        errors=() if success else ("boom",),
        error_type=None if success else "ServerError",
        workflow_position=position,
    )


# --- summary --------------------------------------------------------------------------------------


def test_summary_speedup_is_sum_of_durations_over_wall_time() -> None:
    runs = [execution(ms=1000), execution(ms=1000), execution(ms=1000)]
    s = RunSummary.of(runs, wall_s=1.0, mode="async", max_concurrent=10)
    assert s.speedup == pytest.approx(3.0)
    assert s.total_tokens == 360 and s.cost_usd == Decimal("0.03")
    assert s.ok
    line = s.line()
    assert line.startswith("SIMULATED — 3 tasks · 3 ok · 0 failed")
    assert "3.00× speedup" in line and "simulated cost $0.0300" in line
    d = s.to_dict()
    assert d["speedup"] == 3.0 and d["cost_usd"] == pytest.approx(0.03)
    assert json.loads(to_json(d)) == d


def test_summary_of_one_unpriced_real_task() -> None:
    s = RunSummary.of([execution(cost=None, simulated=False)], wall_s=0.5, mode="sequential")
    assert s.speedup is None
    line = s.line()
    assert not line.startswith("SIMULATED")
    assert "1 task ·" in line and "cost n/a" in line
    assert s.to_dict()["cost_usd"] is None


def test_summary_counts_failures_and_cache_hits() -> None:
    s = RunSummary.of(
        [execution(success=False), execution(cached=True, cost=Decimal(0))],
        wall_s=0.0,
        mode="async",
    )
    assert (s.succeeded, s.failed, s.cached) == (1, 1, 1)
    assert not s.ok and s.speedup is None
    assert "1 from cache" in s.line()


def test_result_dict_keeps_the_agent_result_fields() -> None:
    d = result_dict(execution())
    assert set(d) == {"success", "output", "errors", "metadata", "agent_name", "task"}
    assert d["metadata"]["tokens_used"] == 120


def test_to_json_handles_decimals_and_paths() -> None:
    assert json.loads(to_json({"c": Decimal("1.5"), "p": Path("/x"), "o": object}))["c"] == 1.5


# --- the task board ------------------------------------------------------------------------------------


def _started(position: int | None = None) -> ExecutionStarted:
    return ExecutionStarted("e", "a", "m", NOW, workflow_position=position)


def _finished(success: bool, position: int | None = None) -> ExecutionFinished:
    return ExecutionFinished(
        execution_id="e",
        agent="a",
        task="t",
        model="m",
        provider="simulated",
        success=success,
        started_at=NOW,
        duration_ms=1500,
        queue_wait_ms=0,
        usage=Usage(10, 5),
        cost_usd=Decimal("0.002"),
        cached=False,
        simulated=True,
        error=None if success else "x" * 200,
        workflow_position=position,
    )


def test_board_follows_the_events_of_the_current_row() -> None:
    changes: list[tuple[int, str, str]] = []
    board = TaskBoard(["a", "b"], on_change=lambda i, r: changes.append((i, r.status, r.detail)))
    token = current_row.set(1)
    try:
        board.on_event(_started())
        board.on_event(_started())  # no change, no notification
        board.on_event(
            RetryScheduled("anthropic", "m", 1, 2.0, "retry_after", "RateLimitError", 429)
        )
        board.on_event(RateLimitWait("m", "requests", 0.5, 0))
        board.on_event(_finished(True))
    finally:
        current_row.reset(token)
    assert [c[:2] for c in changes] == [
        (1, "running"),
        (1, "running"),
        (1, "running"),
        (1, "done"),
    ]
    assert "retry in 2.0 s" in changes[1][2] and "429" in changes[1][2]
    assert "rate limit" in changes[2][2]
    assert changes[3][2] == "1.50 s · 15 tokens · $0.0020 · SIMULATED"
    assert board.counts()["waiting"] == 1 and board.counts()["done"] == 1


def test_board_uses_the_workflow_position_and_ignores_strangers() -> None:
    board = TaskBoard(["s1", "s2"])
    board.on_event(_started(position=0))
    board.on_event(_finished(False, position=0))
    board.on_event(_started(position=7))  # out of range: ignored
    board.on_event(RetryScheduled("p", "m", 1, 1.0, "backoff", "E"))  # no row known: ignored
    assert board.rows[0].status == "failed"
    assert board.rows[0].detail.endswith("…") and len(board.rows[0].detail) == 80
    assert board.rows[1].status == "waiting"


def test_board_finish_matches_the_event_detail() -> None:
    a, b = TaskBoard(["x"]), TaskBoard(["x"])
    a.finish(0, execution(ms=1500))
    token = current_row.set(0)
    try:
        b.on_event(
            ExecutionFinished(
                "e",
                "python-expert",
                "t",
                "m",
                "simulated",
                True,
                NOW,
                1500,
                0,
                Usage(100, 20),
                Decimal("0.01"),
                False,
                True,
            )
        )
    finally:
        current_row.reset(token)
    assert a.rows[0].detail == b.rows[0].detail


# --- the progress view ------------------------------------------------------------------------------


def test_progress_view_prints_lines_when_not_a_terminal() -> None:
    buf = io.StringIO()
    with ProgressView(Console(file=buf, width=200), ["a: one", "b: two"]) as view:
        view.board.mark(1, "running")
        view.board.mark(1, "done", "1.00 s")
    assert buf.getvalue().splitlines() == ["[2/2] b: two  running", "[2/2] b: two  done  1.00 s"]


def test_progress_view_disabled_prints_nothing() -> None:
    buf = io.StringIO()
    with ProgressView(Console(file=buf), ["a"], enabled=False) as view:
        view.board.mark(0, "running")
    assert buf.getvalue() == ""


def test_progress_view_live_on_a_terminal() -> None:
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, width=120, color_system=None)
    with ProgressView(console, ["python-expert: a", "code-reviewer: b", "x: c"]) as view:
        assert view.live_mode
        view.board.mark(0, "running")
        view.board.mark(1, "done", "0.10 s")
        view.board.mark(2, "skipped", "not run")
    text = buf.getvalue()
    assert "2/3 finished · 1 running" in text
    assert "✓ code-reviewer: b" in text and "x: c  not run" in text


def test_status_styles_cover_every_status() -> None:
    assert set(_progress._STYLE) == set(_progress._ICON)


# --- scaffold ------------------------------------------------------------------------------------------


def test_sample_files_are_the_packaged_project() -> None:
    files = sample_files()
    config = json.loads(files["claude.json"])
    for name, spec in config["agents"].items():
        assert spec["file"] in files, name
        assert spec["contract"] in files, name
    assert not any(p.startswith(("__", ".")) or "/__" in p for p in files)


def test_init_project_refuses_and_reports(tmp_path: Path) -> None:
    config = init_project(tmp_path)
    assert config == tmp_path.absolute() / ".claude" / "claude.json"
    with pytest.raises(ProjectExistsError) as err:
        init_project(tmp_path)
    assert err.value.exit_code == 2 and err.value.file == config
    assert init_project(tmp_path, force=True) == config


def test_init_project_where_claude_is_a_file(tmp_path: Path) -> None:
    (tmp_path / ".claude").write_text("not a folder")
    with pytest.raises(ConfigurationError, match="not a folder"):
        init_project(tmp_path)


# --- root-level paths ------------------------------------------------------------------------------------


def test_abort_is_one_line_exit_1(monkeypatch: pytest.MonkeyPatch) -> None:
    def aborting(*_: object, **__: object) -> None:
        raise typer.Abort()

    monkeypatch.setattr("claude_force.scaffold.init_project", aborting)
    result = CliRunner().invoke(app, ["init"])
    assert result.exit_code == 1
    assert result.stderr == "error: aborted\n"


def test_console_script_entry_point(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from claude_force.cli import main

    monkeypatch.setattr(sys, "argv", ["claude-force", "--version"])
    with pytest.raises(SystemExit) as done:
        main()
    assert done.value.code == 0
    assert capsys.readouterr().out.startswith("claude-force ")


@pytest.mark.parametrize("preset", [None, "logfire"])
def test_the_cli_skips_pydantic_plugin_discovery_unless_told_otherwise(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], preset: str | None
) -> None:
    """Plugin discovery reads every installed distribution's metadata: the CLI turns it off for
    its own process, but an explicit PYDANTIC_DISABLE_PLUGINS is kept."""
    import os
    import sys

    from claude_force import cli

    if preset is None:
        monkeypatch.delenv("PYDANTIC_DISABLE_PLUGINS", raising=False)
    else:
        monkeypatch.setenv("PYDANTIC_DISABLE_PLUGINS", preset)
    monkeypatch.setattr(sys, "argv", ["claude-force", "--version"])
    with pytest.raises(SystemExit) as done:
        cli.main()
    assert done.value.code in (0, None)
    assert os.environ["PYDANTIC_DISABLE_PLUGINS"] == (preset or "__all__")
    capsys.readouterr()


@pytest.mark.parametrize(
    ("argv", "name"),
    [
        (["list", "agents"], "list"),
        (["--config", "x/claude.json", "--debug", "cache", "stats"], "cache"),
        (["-c", "list", "execute", "a", "t"], "execute"),  # "list" is --config's value
        (["--log-format=json", "--simulate", "run-workflow", "w"], "run-workflow"),
        (["--help"], None),
        (["--version"], None),
        (["--unknown", "list"], None),
        ([], None),
    ],
)
def test_the_command_named_on_the_line(argv: list[str], name: str | None) -> None:
    from claude_force.cli.app import _invoked_name

    assert _invoked_name(argv) == name


def test_only_the_command_that_runs_is_built() -> None:
    """typer inspects every command it builds: a run builds the one it needs; help, completion
    and a misspelt command get every command."""
    from claude_force.cli.app import _command_tree

    partial = _command_tree("cache")
    assert list(partial.commands) == ["cache"]
    assert set(_command_tree("execute").commands) == {"execute"}
    everything = _command_tree(None)
    assert {"list", "execute", "cache", "serve", "run-workflow"} <= set(everything.commands)
    assert _command_tree("lst") is everything or set(_command_tree("lst").commands) == set(
        everything.commands
    )


def test_every_json_flag_is_the_shared_option() -> None:
    """`--json` is declared once (cli/_options.py), so its help reads the same everywhere."""
    import typing

    from claude_force.cli import _options

    shared = typing.get_args(_options.JsonOpt)[1]

    def walk(command: typing.Any, path: str) -> typing.Iterator[tuple[str, typing.Any]]:
        for param in command.params:
            yield path, param
        for name, sub in getattr(command, "commands", {}).items():  # a group (typer's own click)
            yield from walk(sub, f"{path} {name}")

    flags = [(path, p) for path, p in walk(typer.main.get_command(app), "") if "--json" in p.opts]
    assert len(flags) >= 20
    for path, param in flags:
        if path == " analytics export":  # there --json is the short form of --format json
            continue
        assert param.help == shared.help, path


def test_the_shared_options_import_only_typer() -> None:
    import subprocess

    code = (
        "import sys; import claude_force.cli._options; "
        "print(sorted(m for m in ('rich', 'pydantic', 'asyncio', 'claude_force.config') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
