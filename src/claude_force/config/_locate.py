"""Where ``claude.json`` is: the standard-library half of loading a project.

Apart from the loader (which imports pydantic) so that the read-only commands find the file, and
its validated-settings snapshot (:mod:`.snapshot`), without importing it.
"""

from __future__ import annotations

import os
from pathlib import Path

CONFIG_ENV = "CLAUDE_FORCE_CONFIG"


def find_config(start: Path | None = None) -> Path:
    """``$CLAUDE_FORCE_CONFIG``, else the nearest ``.claude/claude.json`` from ``start`` upward."""
    env = os.environ.get(CONFIG_ENV)
    if env:
        return Path(env)
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / ".claude" / "claude.json"
        if candidate.is_file():
            return candidate
    return here / ".claude" / "claude.json"


def config_file(config_path: str | os.PathLike[str] | None) -> Path:
    """The absolute path of ``claude.json`` for ``config_path`` (the file or its folder; ``None``:
    :func:`find_config`). Raises ``OSError``/``ValueError`` for a path that cannot be used."""
    path = Path(config_path) if config_path is not None else find_config()
    if path.is_dir():
        inner = path / "claude.json"
        path = inner if inner.exists() else path / ".claude" / "claude.json"
    return path.absolute()
