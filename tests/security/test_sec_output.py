"""Safe output: control characters from project files and model outputs never reach the terminal
raw; JSON output stays exact (issue 16, point 4)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _sec_helpers import cli, error_line, hostile_project

from claude_force.cli._common import out_console
from claude_force.safe_text import safe, safe_line

EVIL_NAME = "evil\x1b]0;PWNED\x07"
CLEAR = "clears \x1b[2J the screen"
LINK = "\x1b]8;;https://evil.example/\x1b\\click\x1b]8;;\x1b\\"
MARKUP_LINK = "[link=https://evil.example/]click[/link]"


@pytest.fixture
def evil_project(tmp_path: Path) -> Path:
    agents = {
        EVIL_NAME: {"description": CLEAR, "domains": [LINK]},
        "plain": {"description": MARKUP_LINK},
    }
    return hostile_project(tmp_path, agents, workflows={"w\x1b[31m": [EVIL_NAME, "plain"]})


def test_safe_escapes_controls_and_keeps_newlines() -> None:
    assert safe(EVIL_NAME) == "evil\\x1b]0;PWNED\\x07"
    assert safe("a\r\nb\tc\u202ed\x9b") == "a\nb\tc\\u202ed\\x9b"
    assert safe_line("a\nb") == "a\\x0ab"
    assert safe("plain text, ünïcode ✓") == "plain text, ünïcode ✓"


@pytest.mark.parametrize("args", [("list", "agents"), ("list", "workflows"), ("info", EVIL_NAME)])
def test_human_output_has_no_raw_escape(evil_project: Path, args: tuple[str, ...]) -> None:
    result = cli("--config", str(evil_project), *args)
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "\\x1b" in result.stdout  # shown, visibly escaped


def test_rich_markup_in_project_data_is_shown_not_interpreted(evil_project: Path) -> None:
    result = cli("--config", str(evil_project), "info", "plain")
    assert "[link=https://evil.example/]" in result.stdout


def test_json_output_stays_exact(evil_project: Path) -> None:
    result = cli("--config", str(evil_project), "list", "agents", "--json")
    rows = {r["name"]: r for r in json.loads(result.stdout)}
    assert rows[EVIL_NAME]["description"] == CLEAR
    assert rows[EVIL_NAME]["domains"] == [LINK]
    workflows = json.loads(cli("--config", str(evil_project), "list", "workflows", "--json").stdout)
    assert workflows["w\x1b[31m"] == [EVIL_NAME, "plain"]


def test_error_lines_are_escaped_and_short(evil_project: Path) -> None:
    result = cli("--config", str(evil_project), "info", "nobody\x1b[2J" + "x" * 10_000)
    assert result.exit_code == 2
    line = error_line(result)
    assert "\x1b" not in result.stderr and "\\x1b" in line
    assert len(line) < 2200 and "more characters" in line


def test_a_table_of_many_rows_is_plain_and_escaped(tmp_path: Path) -> None:
    agents = {f"a{i:04d}": {"description": f"row {i}"} for i in range(600)}
    agents["a0000"]["description"] = CLEAR
    config = hostile_project(tmp_path, agents)
    result = cli("--config", str(config), "list", "agents")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "600 agents" and lines[1].split() == [
        "agent",
        "priority",
        "model",
        "domains",
        "description",
    ]
    assert len(lines) == 603 and "\x1b" not in result.stdout


def test_model_output_is_escaped_on_a_terminal_and_exact_when_piped(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from claude_force.cli._common import echo_output

    echo_output("out\x1b[2J")
    assert capsys.readouterr().out == "out\x1b[2J\n"  # piped: exact
    monkeypatch.setattr("sys.stdout.isatty", lambda: True)
    echo_output("out\x1b[2J")
    assert capsys.readouterr().out == "out\\x1b[2J\n"


def test_console_escapes_text_objects(capsys: pytest.CaptureFixture[str]) -> None:
    from rich.text import Text

    out_console().print(Text("model said \x1b[2J"))
    assert capsys.readouterr().out == "model said \\x1b[2J\n"
