"""Find the line of a key path in JSON text, for error messages and warnings.

The standard ``json`` module reports positions only for syntax errors; to say *which line* holds
a value that failed validation we walk the text once more. Hand-written because no well-kept
library maps JSON paths to lines.

A project with 20,000 agents asks for tens of thousands of lines of the same file, so the work
is done once per file: :class:`JsonLines` scans each object or array the first time a path goes
through it and keeps the offsets of all its members; a line number is then a binary search in the
offsets of the newlines. ``line_of(text, path)`` keeps the index of the last few texts it saw, so
every caller shares it without passing it around.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Sequence
from functools import lru_cache
from json import decoder as _json_decoder

_decoder = json.JSONDecoder()
scanstring = _json_decoder.scanstring  # type: ignore[attr-defined]
_WS = " \t\r\n"

Key = str | int


def _skip_ws(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in _WS:
        pos += 1
    return pos


class JsonLines:
    """Line numbers of key paths in one JSON text; each container is scanned at most once."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._members: dict[int, dict[Key, tuple[int, int]]] = {}
        self._newlines: list[int] | None = None

    def _scan(self, pos: int) -> dict[Key, tuple[int, int]]:
        """Members of the object or array starting at ``pos``: key → (key offset, value offset)."""
        text = self.text
        found: dict[Key, tuple[int, int]] = {}
        if text[pos] == "{":
            pos = _skip_ws(text, pos + 1)
            while pos < len(text) and text[pos] == '"':
                key_start = pos
                key, pos = scanstring(text, pos + 1)
                pos = _skip_ws(text, pos)
                pos = _skip_ws(text, pos + 1)  # ':'
                found.setdefault(key, (key_start, pos))  # JSON keeps the last; errors the first
                _, pos = _decoder.raw_decode(text, pos)
                pos = _skip_ws(text, pos)
                if pos < len(text) and text[pos] == ",":
                    pos = _skip_ws(text, pos + 1)
        elif text[pos] == "[":
            pos = _skip_ws(text, pos + 1)
            index = 0
            while pos < len(text) and text[pos] != "]":
                found[index] = (pos, pos)
                _, pos = _decoder.raw_decode(text, pos)
                pos = _skip_ws(text, pos)
                if pos < len(text) and text[pos] == ",":
                    pos = _skip_ws(text, pos + 1)
                index += 1
        return found

    def offset(self, path: Sequence[Key]) -> int | None:
        """Offset where ``path`` starts (the key of an object member), or None if absent."""
        text = self.text
        pos = _skip_ws(text, 0)
        where = pos
        for head in path:
            if pos >= len(text) or text[pos] not in "{[":
                return None
            if (text[pos] == "{") != isinstance(head, str):
                return None
            members = self._members.get(pos)
            if members is None:
                members = self._members[pos] = self._scan(pos)
            hit = members.get(head)
            if hit is None:
                return None
            where, pos = hit
        return where

    def line(self, pos: int) -> int:
        if self._newlines is None:
            text, found, at = self.text, [], self.text.find("\n")
            while at >= 0:
                found.append(at)
                at = text.find("\n", at + 1)
            self._newlines = found
        return bisect.bisect_left(self._newlines, pos) + 1

    def line_of(self, path: Sequence[Key]) -> int | None:
        try:
            pos = self.offset(path)
        except (ValueError, IndexError, RecursionError):
            return None
        return None if pos is None else self.line(pos)


@lru_cache(maxsize=4)
def index_of(text: str) -> JsonLines:
    """The shared index of ``text`` (the same string object is found by identity first)."""
    return JsonLines(text)


def line_of(text: str, path: Sequence[Key]) -> int | None:
    """1-based line where ``path`` (keys and list indexes) starts in ``text``; None if absent."""
    if not text:
        return None
    return index_of(text).line_of(path)
