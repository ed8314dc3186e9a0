"""The claude-force 2.2 project folder of the compat suite (``project22/``), copied for a test."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

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
