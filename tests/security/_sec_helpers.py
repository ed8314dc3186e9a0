"""Helpers of the hardening suite (issue 16): hostile projects, files and inputs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner, Result

from claude_force.cli.app import app

runner = CliRunner()

AGENT = "# Agent\n\nYou answer.\n"


def cli(*args: str, input: str | None = None) -> Result:
    """The CLI in-process, with the simulated model's latency set to instant. (No conftest.py
    in this folder: it would shadow the ``conftest`` module other tests import from.)"""
    return runner.invoke(app, list(args), input=input, env={"CLAUDE_FORCE_LATENCY": "instant"})


def hostile_project(
    root: Path, agents: dict[str, dict[str, Any]], *, write_files: bool = True, **extra: Any
) -> Path:
    """A project whose agents' files exist (``agents/<i>.md``) unless ``write_files`` is false;
    returns claude.json. ``extra``: more sections of claude.json."""
    claude = root / ".claude"
    (claude / "agents").mkdir(parents=True, exist_ok=True)
    for i, spec in enumerate(agents.values()):
        spec.setdefault("file", f"agents/{i}.md")
        target = claude / spec["file"]
        usable = "\0" not in spec["file"] and len(spec["file"]) < 200
        if write_files and usable and not target.exists():
            target.write_text(AGENT, encoding="utf-8")
    path = claude / "claude.json"
    path.write_text(json.dumps({"agents": agents, **extra}, indent=2), encoding="utf-8")
    return path


def error_line(result: Result) -> str:
    lines = [ln for ln in result.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, result.stderr
    return lines[0]
