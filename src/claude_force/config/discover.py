"""Find the project around the current folder: the one discovery function of the 2.2 faces.

``ResponseCache``, ``PerformanceTracker`` and ``AgentMemory`` were constructed without a project
in 2.2; they locate it themselves (for relative paths, the state folder, prices and the cache
secret). They all ask :func:`nearby_project`, so they agree on which project that is:
``$CLAUDE_FORCE_CONFIG``, else the nearest ``.claude/claude.json`` from the folder upward.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .loader import find_config
from .project import Project, load_project


@dataclass(frozen=True, slots=True)
class NearbyProject:
    """What :func:`nearby_project` found."""

    config_path: Path
    """The ``claude.json`` found (or where it would be: it may not exist)."""
    root: Path | None
    """The project root (the folder holding ``.claude/``); ``None`` without a project."""
    project: Project | None = None
    """The loaded project (files not checked); ``None`` when absent, broken or not loaded."""
    error: Exception | None = None
    """Why a ``claude.json`` that exists could not be loaded."""


def nearby_project(start: Path | None = None, *, load: bool = True) -> NearbyProject:
    """The project around ``start`` (default: the current folder); ``load=False`` only locates it.

    Never raises for a broken ``claude.json``: the faces that ask keep working without the
    project's settings, and the error is returned for them to report.
    """
    config = find_config(start)
    if not config.is_file():
        return NearbyProject(config, None)
    claude_dir = config.parent
    root = claude_dir.parent if claude_dir.name == ".claude" else claude_dir
    if not load:
        return NearbyProject(config, root)
    try:
        project = load_project(config, check_files=False)
    except Exception as exc:  # a broken project must not stop a 2.2 face; the caller reports it
        return NearbyProject(config, root, None, exc)
    return NearbyProject(config, root, project)
