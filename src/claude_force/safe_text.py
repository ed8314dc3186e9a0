"""Text from project files and model outputs made safe for a terminal.

An agent named ``evil\\x1b]0;PWNED\\x07`` or a description holding ``\\x1b[2J`` would set the
terminal's title or clear the screen if printed as is; an OSC 8 sequence plants a link. Every
human-readable output passes such text through :func:`safe` (or :func:`safe_line` for one-line
places): C0 and C1 control characters, DEL and the Unicode bidirectional overrides are shown as
visible escapes (``\\x1b``, ``\\u202e``). Newlines and tabs survive :func:`safe`. JSON output is
not touched: it is exact, and ``json.dumps`` escapes controls itself.

Hand-written (a translate table) because no well-kept library does just this; rich strips only a
few control codes and keeps ESC.
"""

from __future__ import annotations

import re

_BIDI = [0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f" + "".join(chr(c) for c in _BIDI) + "]")
_UNSAFE_LINE = re.compile("[\x00-\x1f\x7f-\x9f" + "".join(chr(c) for c in _BIDI) + "]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def safe(text: str) -> str:
    """``text`` with control characters escaped; newlines and tabs kept (``\\r\\n`` → ``\\n``)."""
    if text.isprintable():
        return text
    return _UNSAFE.sub(_escape, text.replace("\r\n", "\n"))


def safe_line(text: str) -> str:
    """``text`` for one line: newlines and tabs escaped as well."""
    if text.isprintable():
        return text
    return _UNSAFE_LINE.sub(_escape, text)
