"""A claude-force 2.2 project folder, copied fresh for each test; the CWD is its root.

The tests in this folder are written the way claude-force 2.2 users wrote theirs (unittest
classes and pytest functions, ``mock.patch`` of the 2.2 hooks, ``argparse.Namespace`` CLI calls)
and must keep passing unchanged: they are the migration promise of docs/migration.md.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

PROJECT22 = Path(__file__).parent / "project22"


def copy_project22(dest: Path, *, stale: bool = False) -> Path:
    """Copy the 2.2 project to ``dest/.claude``; ``stale`` adds the broken workflows a 2.2
    project accumulates (one naming a removed agent, one with a cycle). Returns claude.json."""
    shutil.copytree(PROJECT22 / ".claude", dest / ".claude")
    config = dest / ".claude" / "claude.json"
    if stale:
        data = json.loads(config.read_text())
        data["workflows"]["stale"] = ["python-expert", "removed-agent"]
        data["workflows"]["loop"] = {
            "steps": [
                {"id": "a", "agent": "python-expert", "depends_on": ["b"]},
                {"id": "b", "agent": "code-reviewer", "depends_on": ["a"]},
            ]
        }
        config.write_text(json.dumps(data, indent=2) + "\n")
    return config


@pytest.fixture
def project22(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh 2.2 project; the CWD is its root (as 2.2 suites ran from the repository root)."""
    config = copy_project22(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CLAUDE_FORCE_LATENCY", "instant")
    yield config
