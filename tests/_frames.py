"""What a waiting task holds: the coroutines of its await chain and their names (shared by the
tests that check which frames a call in flight keeps)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any


def awaited(coro: Any) -> Iterator[Any]:
    """Each coroutine of ``coro``'s await chain, outermost first (``coro`` included)."""
    while coro is not None and hasattr(coro, "cr_code"):
        yield coro
        coro = coro.cr_await


def qualnames(coro: Any) -> list[str]:
    """The qualified name of each coroutine of the chain, outermost first."""
    return [c.cr_code.co_qualname for c in awaited(coro)]


def located(coro: Any, *, package: str = "claude_force/") -> str:
    """``path:qualname`` of one coroutine: its file's path after ``package`` (the file's name
    when ``package`` is empty or not in the path)."""
    code = coro.cr_code
    path = Path(code.co_filename).as_posix()
    where = path.split(package)[-1] if package and package in path else Path(path).name
    return f"{where}:{code.co_qualname}"
