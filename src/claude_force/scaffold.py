"""Write the packaged sample project into a folder (``claude-force init``).

The sample project ships inside the package (``claude_force/sample_project/``) and is read through
:mod:`importlib.resources`, so it works from a wheel, a zip or an editable install alike.
"""

from __future__ import annotations

import os
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from .errors import ConfigurationError

SAMPLE_PACKAGE = "claude_force"
SAMPLE_FOLDER = "sample_project"


class ProjectExistsError(ConfigurationError):
    """``init`` would overwrite an existing project's ``claude.json``."""


def sample_files() -> dict[str, bytes]:
    """The sample project as ``{relative posix path: content}`` (claude.json, agents, contracts)."""
    root = resources.files(SAMPLE_PACKAGE).joinpath(SAMPLE_FOLDER)
    files: dict[str, bytes] = {}

    def walk(node: Traversable, prefix: str) -> None:
        for child in sorted(node.iterdir(), key=lambda c: c.name):
            if child.name.startswith((".", "__")):
                continue  # __pycache__, editor files
            rel = f"{prefix}{child.name}"
            if child.is_dir():
                walk(child, rel + "/")
            else:
                files[rel] = child.read_bytes()

    walk(root, "")
    return files


def init_project(dest: str | os.PathLike[str] = ".", force: bool = False) -> Path:
    """Copy the sample project into ``dest/.claude/``; return the path of its ``claude.json``.

    An existing ``.claude/claude.json`` is kept unless ``force`` is true; with ``force`` the sample
    files are overwritten and every other file in ``.claude/`` (state, your own agents) is left
    alone.
    """
    claude_dir = Path(dest).expanduser().absolute() / ".claude"
    config = claude_dir / "claude.json"
    if config.exists() and not force:
        raise ProjectExistsError(
            "a project already exists here; init will not overwrite it",
            file=config,
            hint="use --force to overwrite the sample files, or choose another folder",
        )
    if claude_dir.exists() and not claude_dir.is_dir():
        raise ConfigurationError(
            "exists and is not a folder",
            file=claude_dir,
            hint="remove or rename it, or choose another folder",
        )
    for rel, content in sample_files().items():
        target = claude_dir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    return config
