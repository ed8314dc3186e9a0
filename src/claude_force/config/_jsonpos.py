"""Find the line of a key path in JSON text, for error messages.

The standard ``json`` module reports positions only for syntax errors; to say *which line* holds
a value that failed validation we walk the text once more. ``raw_decode`` skips whole values, so
this stays small (hand-written because no well-kept library maps JSON paths to lines).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from json import decoder as _json_decoder

_decoder = json.JSONDecoder()
scanstring = _json_decoder.scanstring  # type: ignore[attr-defined]
_WS = " \t\r\n"


def _skip_ws(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in _WS:
        pos += 1
    return pos


def _find(text: str, pos: int, path: Sequence[str | int]) -> int | None:
    pos = _skip_ws(text, pos)
    if not path:
        return pos
    head, rest = path[0], path[1:]
    if pos >= len(text):
        return None
    if text[pos] == "{" and isinstance(head, str):
        pos = _skip_ws(text, pos + 1)
        while pos < len(text) and text[pos] != "}":
            key_start = pos
            key, pos = scanstring(text, pos + 1)
            pos = _skip_ws(text, pos)
            pos = _skip_ws(text, pos + 1)  # ':'
            if key == head:
                return key_start if not rest else _find(text, pos, rest)
            _, pos = _decoder.raw_decode(text, pos)
            pos = _skip_ws(text, pos)
            if pos < len(text) and text[pos] == ",":
                pos = _skip_ws(text, pos + 1)
        return None
    if text[pos] == "[" and isinstance(head, int):
        pos = _skip_ws(text, pos + 1)
        index = 0
        while pos < len(text) and text[pos] != "]":
            if index == head:
                return _find(text, pos, rest)
            _, pos = _decoder.raw_decode(text, pos)
            pos = _skip_ws(text, pos)
            if pos < len(text) and text[pos] == ",":
                pos = _skip_ws(text, pos + 1)
            index += 1
    return None


def line_of(text: str, path: Sequence[str | int]) -> int | None:
    """1-based line where ``path`` (keys and list indexes) starts in ``text``; None if absent."""
    try:
        pos = _find(text, 0, path)
    except (ValueError, IndexError):
        return None
    return None if pos is None else text.count("\n", 0, pos) + 1
