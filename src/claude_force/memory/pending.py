"""Sessions handed to memory and not written yet: could a search find one of them? (used on the
event loop by :class:`~.service.MemoryService`).

A context lookup may be answered on the event loop while finished runs' sessions wait for their
write job (see ``MemoryService.remember_soon``), but only when none of those sessions could be
among its results: when none holds a word the search matches on. "Holds" is what the store's
full-text index says, and it matches Porter stems (:data:`~.sqlite_backend.TOKENIZER`): a
waiting "tunes" matches a search for "tuning". The stems come from SQLite's own tokenizer, not a
hand-written stemmer (one that erred would show a stale context): each distinct word is stemmed
once, by an FTS5 table in memory, and remembered (:class:`Stems`) — asking SQLite per check
instead cost ≈ 0.1 ms a run (an insert and a query), as much as the hop it saves. Words are split
as ``unicode61`` splits ASCII text (runs of letters and digits); a task or term with other
characters is not split here: it may match anything, and the lookup goes to the worker.
Redaction happens at the write and only replaces words, by marks whose words every waiting task
is taken to hold.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Iterable, Sequence

from .redact import KINDS
from .sqlite_backend import TOKENIZER

_WORD = re.compile(r"[a-z0-9]+")  # unicode61's tokens of lower-cased ASCII text
_MARKS = "redacted " + " ".join(KINDS)  # the words of "[REDACTED:<kind>]" marks
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

    def _ask(self, words: list[str]) -> set[str]:
        with self._lock:
            conn = self._conn
            if conn is None:
                conn = sqlite3.connect(":memory:", check_same_thread=False)
                conn.execute(f"CREATE VIRTUAL TABLE words USING fts5(w, tokenize='{TOKENIZER}')")
                conn.execute("CREATE VIRTUAL TABLE stems USING fts5vocab(words, instance)")
                self._conn = conn
            with conn:
                conn.executemany("INSERT INTO words(rowid, w) VALUES (?, ?)", enumerate(words))
                found = dict(conn.execute("SELECT doc, term FROM stems"))
                conn.execute("DELETE FROM words")
            if len(self._known) + len(words) > STEMS_REMEMBERED:
                self._known = {}
            stems = set()
            for i, w in enumerate(words):
                s = found.get(i, w)
                self._known[w] = s
                stems.add(s)
            return stems


STEMS = Stems()
_MARK_STEMS: frozenset[str] | None = None


def _words(text: str) -> list[str] | None:
    """``text``'s words as the index splits them; ``None`` when it is not ASCII."""
    if not text.isascii():
        return None
    return _WORD.findall(text.lower())


class PendingSessions:
    """The tasks of the sessions waiting for their write, by agent."""

    def __init__(self) -> None:
        self._tasks: list[tuple[str, str]] = []
        self._stems: dict[str, frozenset[str] | None] = {}  # by agent; None: may match anything

    def __bool__(self) -> bool:
        return bool(self._tasks)

    def add(self, agent: str, task: str) -> None:
        self._tasks.append((agent, task))
        held = self._stems.get(agent)
        if held is not None:  # known already: add this task's (else worked out when asked)
            words = _words(task)
            self._stems[agent] = None if words is None else held | STEMS.of(words)

    def clear(self) -> None:
        """Their write job is queued: from now on the worker's lookups see them in order."""
        self._tasks.clear()
        self._stems.clear()

    def may_match(self, agent: str | None, terms: Sequence[str]) -> bool:
        """Whether a waiting session of ``agent`` (``None``: any) may hold any of ``terms``."""
        if not self._tasks or not terms:
            return False
        query: list[str] = []
        for t in terms:
            words = _words(t)
            if words is None:
                return True
            query.extend(words)
        agents = {a for a, _ in self._tasks} if agent is None else (agent,)
        wanted = STEMS.of(query)
        for a in agents:
            held = self._held(a)
            if held is None or not held.isdisjoint(wanted):
                return True
        return False

    def _held(self, agent: str) -> frozenset[str] | None:
        if agent in self._stems:
            return self._stems[agent]
        global _MARK_STEMS
        if _MARK_STEMS is None:
            _MARK_STEMS = frozenset(STEMS.of(_WORD.findall(_MARKS)))
        words: set[str] = set()
        held: frozenset[str] | None = None
        for a, task in self._tasks:
            if a != agent:
                continue
            found = _words(task)
            if found is None:
                break  # not split here: it may match anything
            words.update(found)
        else:
            held = frozenset(STEMS.of(words) | _MARK_STEMS) if words else _MARK_STEMS
        self._stems[agent] = held
        return held
