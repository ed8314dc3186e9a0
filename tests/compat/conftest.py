"""A claude-force 2.2 project folder, copied fresh for each test; the CWD is its root.

The tests in this folder are written the way claude-force 2.2 users wrote theirs (unittest
classes and pytest functions, ``mock.patch`` of the 2.2 hooks, ``argparse.Namespace`` CLI calls)
and must keep passing unchanged: they are the migration promise of docs/migration.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from compat._project22 import copy_project22


@pytest.fixture
def project22(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh 2.2 project; the CWD is its root (as 2.2 suites ran from the repository root)."""
    config = copy_project22(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CLAUDE_FORCE_LATENCY", "instant")
    yield config
