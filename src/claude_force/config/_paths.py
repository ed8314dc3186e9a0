"""Paths of ``claude.json`` resolved inside ``.claude/`` (standard library only).

Apart from :mod:`.project` (which imports the pydantic schema) so that a read-only command on a
matching settings snapshot (:mod:`.snapshot`) checks the agents' files the same way without it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from .._bounded import FileProblem


class Resolver:
    """Resolves paths of claude.json inside ``.claude/`` (links included) and refuses those that
    escape it. The folders' real paths are kept: ``Path.resolve`` of every file would stat each
    component of each path, the bulk of loading a project of 20,000 agents."""

    def __init__(self, config: Path) -> None:
        self.config = config
        self.base = base = config.parent
        self._base = str(base)
        self._real_base = str(base.resolve())
        self._dirs: dict[str, str] = {}

    def _real(self, joined: str) -> str:
        parent, leaf = os.path.split(joined)
        if leaf in ("", ".", "..") or ".." in joined.split(os.sep):
            return os.path.realpath(joined)
        real_parent = self._dirs.get(parent)
        if real_parent is None:
            real_parent = self._dirs[parent] = os.path.realpath(parent)
        try:
            if stat.S_ISLNK(os.lstat(joined).st_mode):
                return os.path.realpath(joined)
        except FileNotFoundError:
            pass
        return os.path.join(real_parent, leaf)

    def inside(self, rel: str) -> str:
        """``base / rel`` with its links resolved; :class:`FileProblem` unless it stays inside."""
        try:
            real = self._real(os.path.join(self._base, rel))
        except (OSError, ValueError) as exc:
            raise FileProblem(
                f"path '{short(rel)}' cannot be used ({reason(exc)})", "fix the path"
            ) from None
        if not (real == self._real_base or real.startswith(self._real_base + os.sep)):
            raise FileProblem(
                f"path '{short(rel)}' escapes the project folder {self.base}",
                "keep agent and contract files inside .claude/ and use a relative path",
            )
        return real


def reason(exc: BaseException) -> str:
    if isinstance(exc, ValueError):
        return "the path contains a NUL byte" if "null" in str(exc) else str(exc)
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return type(exc).__name__


def short(text: str, limit: int = 200) -> str:
    """A path from claude.json as shown in a message: a 5,000-character one is cut."""
    return text if len(text) <= limit else text[:limit] + f"… ({len(text):,} characters)"
