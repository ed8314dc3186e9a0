"""Bounded reads: size caps, regular files only, JSON depth, BOM; each case exit 2 naming the
file and the limit (issue 16, points 5 and 6)."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest
from _sec_helpers import AGENT, cli, error_line, hostile_project

from claude_force._bounded import (
    MAX_AGENT_FILE_BYTES,
    MAX_CONFIG_BYTES,
    MAX_JSON_DEPTH,
    FileProblem,
    json_depth_exceeds,
    read_limited,
    read_stream_limited,
)
from claude_force.config import load_project
from claude_force.errors import ConfigurationError


def test_fifo_config_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "claude.json"
    os.mkfifo(fifo)
    result = cli("--config", str(fifo), "list", "agents")
    assert result.exit_code == 2
    line = error_line(result)
    assert str(fifo) in line and "FIFO" in line and "not a regular file" in line


def test_fifo_agent_file_does_not_block_list_agents(tmp_path: Path) -> None:
    config = hostile_project(tmp_path, {"a": {"file": "agents/pipe.md"}}, write_files=False)
    os.mkfifo(config.parent / "agents" / "pipe.md")
    done: list[int] = []
    thread = threading.Thread(
        target=lambda: done.append(cli("--config", str(config), "info", "a").exit_code),
        daemon=True,
    )
    thread.start()
    thread.join(30)
    assert done == [2]  # answered (not blocked on the FIFO) with a configuration error
    # (tolerant loading: `list agents` works and warns; using the agent is the error)


def test_fifo_agent_file_error_names_the_key_and_line(tmp_path: Path) -> None:
    config = hostile_project(tmp_path, {"a": {"file": "agents/pipe.md"}}, write_files=False)
    os.mkfifo(config.parent / "agents" / "pipe.md")
    with pytest.raises(ConfigurationError, match="FIFO") as info:
        load_project(config, strict=True)
    assert info.value.key == "agents.a.file" and info.value.line == 4
    assert info.value.exit_code == 2


@pytest.mark.parametrize("option", ["--config", "--task-file"])
def test_dev_zero_is_refused(sample_config: Path, option: str) -> None:
    if option == "--config":
        result = cli("--config", "/dev/zero", "list", "agents")
    else:
        args = ("--config", str(sample_config), "execute", "python-expert")
        result = cli(*args, "--task-file", "/dev/zero")
    assert result.exit_code == 2
    line = error_line(result)
    assert "/dev/zero" in line and "device" in line


def test_config_over_the_size_cap(tmp_path: Path) -> None:
    big = tmp_path / "claude.json"
    with big.open("wb") as fh:
        fh.truncate(MAX_CONFIG_BYTES + 1)  # sparse: no disk used
    result = cli("--config", str(big), "list", "agents")
    assert result.exit_code == 2
    line = error_line(result)
    assert str(big) in line and "over the limit of 32 MiB" in line


def test_agent_file_over_the_size_cap(tmp_path: Path) -> None:
    config = hostile_project(tmp_path, {"a": {"file": "agents/big.md"}})
    with (config.parent / "agents" / "big.md").open("wb") as fh:
        fh.truncate(MAX_AGENT_FILE_BYTES + 1)
    with pytest.raises(ConfigurationError, match="over the limit of 4 MiB") as info:
        load_project(config, strict=True)
    assert info.value.key == "agents.a.file"


def test_read_limited_stops_at_the_limit_when_a_file_grows(tmp_path: Path) -> None:
    path = tmp_path / "f.txt"
    path.write_text("x" * 100)
    assert read_limited(path, 100) == "x" * 100
    with pytest.raises(FileProblem, match="over the limit"):
        read_limited(path, 99)


def test_standard_input_is_bounded() -> None:
    import io

    assert read_stream_limited(io.StringIO("\ufeffabc"), 3) == "abc"
    with pytest.raises(FileProblem, match="standard input is over the limit"):
        read_stream_limited(io.StringIO("abcd"), 3)


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 100_000])
def test_deeply_nested_config(tmp_path: Path, depth: int) -> None:
    path = tmp_path / "claude.json"
    path.write_text('{"agents": {}, "rules": ' + "[" * depth + "]" * depth + "}")
    result = cli("--config", str(path), "list", "agents")
    assert result.exit_code == 2
    line = error_line(result)
    assert str(path) in line and f"nested deeper than {MAX_JSON_DEPTH} levels" in line


def test_nesting_at_the_limit_is_accepted() -> None:
    value: object = 1
    for _ in range(MAX_JSON_DEPTH):
        value = [value]
    assert not json_depth_exceeds(value, MAX_JSON_DEPTH)
    assert json_depth_exceeds([value], MAX_JSON_DEPTH)


def test_deeply_nested_tasks_file(sample_config: Path, tmp_path: Path) -> None:
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text('{"task": ' + "[" * 50_000 + "]" * 50_000 + "}\n")
    args = ("--config", str(sample_config), "execute", "python-expert", "--tasks-file")
    result = cli(*args, str(tasks))
    assert result.exit_code == 2
    line = error_line(result)
    assert f"{tasks}:1" in line and "nested deeper" in line


def test_nul_byte_in_an_agent_path(tmp_path: Path) -> None:
    config = hostile_project(tmp_path, {"a": {"file": "agents/a\u0000.md"}})
    result = cli("--config", str(config), "info", "a")
    assert result.exit_code == 2
    line = error_line(result)
    assert "agents.a.file" in line and "NUL" in line and "\x00" not in line


def test_five_thousand_character_path(tmp_path: Path) -> None:
    long = "agents/" + "x" * 5000 + ".md"
    config = hostile_project(tmp_path, {"a": {"file": long}})
    result = cli("--config", str(config), "info", "a")
    assert result.exit_code == 2
    line = error_line(result)
    assert "agents.a.file" in line and "File name too long" in line
    assert len(line) < 1500  # the path is cut in the message


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    config = hostile_project(tmp_path, {"a": {}})
    config.write_bytes(b"\xef\xbb\xbf" + config.read_bytes())
    (config.parent / "agents" / "0.md").write_bytes(b"\xef\xbb\xbf" + AGENT.encode())
    project = load_project(config)
    assert project.agent_names == ["a"]
    assert project.read_agent("a").definition == AGENT
    result = cli("--config", str(config), "list", "agents", "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)[0]["name"] == "a"


def test_task_file_with_bom(sample_config: Path, tmp_path: Path) -> None:
    task = tmp_path / "task.md"
    task.write_bytes(b"\xef\xbb\xbfReview this")
    args = ("--config", str(sample_config), "--simulate", "execute", "python-expert")
    result = cli(*args, "--task-file", str(task), "--json")
    assert result.exit_code == 0, result.output


def test_a_config_path_too_long_exits_2(tmp_path: Path) -> None:
    result = cli("--config", str(tmp_path / ("x" * 5000)), "list", "agents")
    assert result.exit_code == 2
    line = error_line(result)
    assert "configuration path cannot be used (File name too long)" in line and len(line) < 600
