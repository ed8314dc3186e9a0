"""Porter stems as the memory store's full-text index makes them, asked of SQLite itself and
remembered (pure but for an in-memory SQLite table; any thread).

The index (``porter unicode61 remove_diacritics 2``) matches stems: "tuning" finds "tunes". What
needs to know whether a word is in the index without asking it — the waiting sessions' check
(``pending.py``) and the index's term list (``sqlite_backend.SessionDB._doc_counts``) — asks
this module, which asks an FTS5 table in memory with the same tokenizer and its ``fts5vocab``
view, once per distinct word: not a hand-written stemmer, which would differ on some words.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Iterable

TOKENIZER = "porter unicode61 remove_diacritics 2"
_WORD = re.compile(r"[a-z0-9]+")  # unicode61's tokens of lower-cased ASCII text
STEMS_REMEMBERED = 50_000
"""Distinct words whose stems are kept (then the memo starts again: about 5 MB at most)."""


class Stems:
    """Porter stems of words as the store's tokenizer makes them (thread-safe, memoised)."""

    def __init__(self) -> None:
        self._known: dict[str, str] = {}
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    def of(self, words: Iterable[str]) -> set[str]:
        """The stems of ``words`` (lower-cased ASCII letters and digits)."""
        known = self._known
        stems: set[str] = set()
        unknown: list[str] = []
        for w in words:
            s = known.get(w)
            if s is not None:
                stems.add(s)
            elif w.isdigit():
                stems.add(w)  # (no suffix to strip)
            else:
                unknown.append(w)
        if unknown:
            stems.update(self._ask(unknown))
        return stems

    def of_term(self, term: str) -> set[str]:
        """The stems of a search term (one word as ``records.query_terms`` makes them, any
        script: a word ``unicode61`` splits further gives each part's)."""
        if term.isascii() and term.isalnum():
            return self.of((term,))
        return self._ask([term], remember=False)

    def _ask(self, words: list[str], *, remember: bool = True) -> set[str]:
        with self._lock:
            conn = self._conn
            if conn is None:
                conn = sqlite3.connect(":memory:", check_same_thread=False)
                conn.execute(f"CREATE VIRTUAL TABLE words USING fts5(w, tokenize='{TOKENIZER}')")
                conn.execute("CREATE VIRTUAL TABLE stems USING fts5vocab(words, instance)")
                self._conn = conn
            with conn:
                conn.executemany("INSERT INTO words(rowid, w) VALUES (?, ?)", enumerate(words))
                found: dict[int, list[str]] = {}
                for doc, term in conn.execute("SELECT doc, term FROM stems"):
                    found.setdefault(int(doc), []).append(str(term))
                conn.execute("DELETE FROM words")
            if not remember:
                return {t for terms in found.values() for t in terms}
            if len(self._known) + len(words) > STEMS_REMEMBERED:
                self._known = {}
            stems = set()
            for i, w in enumerate(words):
                s = found.get(i, [w])[0]  # (an ASCII word of letters and digits is one token)
                self._known[w] = s
                stems.add(s)
            return stems


STEMS = Stems()


def ascii_words(text: str) -> list[str] | None:
    """``text``'s words as the index splits them; ``None`` when it is not ASCII (not split
    here: ``unicode61`` folds and splits other scripts its own way)."""
    if not text.isascii():
        return None
    return _WORD.findall(text.lower())
