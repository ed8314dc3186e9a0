"""Read the files a project names without trusting them: size caps, regular files only, UTF-8
(a byte-order mark is accepted), JSON nested no deeper than a bound.

A cloned repository decides what ``claude.json`` and its agent files are: a FIFO would block a
plain ``read_text`` forever, ``/dev/zero`` would fill the memory, ``[[[[…`` ten thousand deep
raises ``RecursionError``. Each case here is a :class:`FileProblem` with a message and a fix;
the callers turn it into their own error (exit code 2) naming the file, the key and the limit.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path
from typing import Any, TextIO

MIB = 1024 * 1024
MAX_CONFIG_BYTES = 32 * MIB
"""``claude.json`` (20,000 agents with descriptions take about 5 MB)."""
MAX_AGENT_FILE_BYTES = 4 * MIB
"""An agent definition or contract (sent to the model with every call)."""
MAX_TASK_FILE_BYTES = 16 * MIB
"""``--task-file`` / ``--tasks-file`` (and standard input for ``-``)."""
MAX_JSON_DEPTH = 64
"""Nesting of objects and arrays in ``claude.json`` and in each JSON Lines task."""


class FileProblem(Exception):
    """A file that cannot be used; ``missing`` when it does not exist."""

    def __init__(self, message: str, hint: str, *, missing: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.missing = missing


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _limit_text(limit: int) -> str:
    return f"{limit // MIB} MiB" if limit % MIB == 0 else f"{limit:,} bytes"


def read_limited(path: Path | str, limit: int) -> str:
    """The UTF-8 text of the regular file ``path``, at most ``limit`` bytes; else :class:`FileProblem`.

    Opened non-blocking (a FIFO does not wait for a writer), checked with ``fstat`` on the open
    descriptor (no race with a swapped path), read to ``limit + 1`` bytes at most.
    """
    return read_limited_stat(path, limit)[0]


def file_stat_problem(st: os.stat_result, limit: int) -> FileProblem | None:
    """Why a file with this ``stat`` cannot be read as text: not a regular file, or over ``limit``."""
    if not stat.S_ISREG(st.st_mode):
        return FileProblem(
            f"is {_kind(st.st_mode)}, not a regular file", "name a regular text file"
        )
    if st.st_size > limit:
        return FileProblem(
            f"is {st.st_size:,} bytes, over the limit of {_limit_text(limit)}",
            "make the file smaller (or split it)",
        )
    return None


def read_limited_stat(path: Path | str, limit: int) -> tuple[str, os.stat_result]:
    """:func:`read_limited`, and the ``fstat`` of what was read (its mtime and size)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise FileProblem("does not exist", "create it or fix the path", missing=True) from None
    except ValueError:  # an embedded NUL byte
        raise FileProblem(
            "the path contains a NUL byte", "fix the path (no control characters)"
        ) from None
    except OSError as exc:  # name too long, permission, a loop of links, not a directory …
        reason = exc.strerror or type(exc).__name__
        raise FileProblem(
            f"cannot be opened ({reason})", "fix the path or its permissions"
        ) from None
    try:
        st = os.fstat(fd)
        problem = file_stat_problem(st, limit)
        if problem is not None:
            raise problem
        chunks: list[bytes] = []
        size = 0
        want = st.st_size + 1  # one read of a file whose size we know (a short read is its end)
        while size <= limit:
            chunk = os.read(fd, min(limit + 1 - size, want))
            chunks.append(chunk)
            size += len(chunk)
            if len(chunk) < want:
                break
            want = MIB
    except OSError as exc:
        raise FileProblem(f"cannot be read ({exc.strerror})", "check the file") from None
    finally:
        os.close(fd)
    if size > limit:  # it grew while we read
        raise FileProblem(
            f"is over the limit of {_limit_text(limit)}", "make the file smaller (or split it)"
        )
    return decode(b"".join(chunks)), st


def read_stream_limited(stream: TextIO, limit: int) -> str:
    """Standard input (``-``), at most ``limit`` characters."""
    text = stream.read(limit + 1)
    if text.startswith("\ufeff"):
        text = text[1:] + stream.read(1)
    if len(text) > limit:
        raise FileProblem(
            f"standard input is over the limit of {limit:,} characters",
            "pass a smaller input, or split it",
        )
    return text


def decode(data: bytes) -> str:
    """UTF-8, with or without a byte-order mark."""
    if data.startswith(b"\xef\xbb\xbf"):  # not the "utf-8-sig" codec: it is pure Python, slow
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FileProblem(
            f"is not UTF-8 text ({exc.reason} at byte {exc.start})", "save the file as UTF-8"
        ) from None


def json_depth_exceeds(data: Any, limit: int) -> bool:
    """Whether objects/arrays in ``data`` nest deeper than ``limit`` (iterative: no recursion).

    Walked a level at a time, keeping only the containers: three times faster than a stack of
    (value, depth) pairs on a project of 20,000 agents."""
    level: list[Any] = [data] if isinstance(data, (dict, list)) else []
    depth = 1
    while level:
        if depth > limit:
            return True
        below: list[Any] = []
        for value in level:
            children = value.values() if isinstance(value, dict) else value
            below += [c for c in children if isinstance(c, (dict, list))]
        level = below
        depth += 1
    return False


def loads_limited(text: str, depth: int = MAX_JSON_DEPTH) -> Any:
    """``json.loads`` whose nesting is bounded; :class:`FileProblem` when deeper than ``depth``.

    ``json.JSONDecodeError`` passes through (callers report its line and column).
    """
    too_deep = FileProblem(f"JSON is nested deeper than {depth} levels", "flatten the structure")
    try:
        data = json.loads(text)
    except RecursionError:
        raise too_deep from None
    if json_depth_exceeds(data, depth):
        raise too_deep
    return data


def stdin_text(limit: int) -> str:
    return read_stream_limited(sys.stdin, limit)
