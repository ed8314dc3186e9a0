"""Sessions handed to memory and not written yet: could a search find one of them? (used by
:class:`~.service.MemoryService`, on the event loop and on memory's worker thread).

A context lookup is answered while finished runs' sessions wait for their write job (see
``MemoryService.remember_soon``) only when none of those sessions could be among its results:
when none holds a word the search matches on. On the event loop it is then not answered there;
on memory's worker the lookup writes the waiting sessions first (:class:`WaitingSessions`). "Holds" is what the store's
full-text index says, and it matches Porter stems (:data:`~.stems.TOKENIZER`): a
waiting "tunes" matches a search for "tuning". The stems come from SQLite's own tokenizer, not a
hand-written stemmer (one that erred would show a stale context): each distinct word is stemmed
once, by an FTS5 table in memory, and remembered (:mod:`.stems`) — asking SQLite per check
instead cost ≈ 0.1 ms a run (an insert and a query), as much as the hop it saves. Words are split
as ``unicode61`` splits ASCII text (runs of letters and digits); a task or term with other
characters is not split here: it may match anything, and the lookup goes to the worker.
Redaction happens at the write and only replaces words, by marks whose words every waiting task
is taken to hold.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Generic, TypeVar

from .redact import KINDS
from .stems import STEMS, ascii_words

_MARKS = "redacted " + " ".join(KINDS)  # the words of "[REDACTED:<kind>]" marks


_MARK_STEMS: frozenset[str] | None = None

T = TypeVar("T")


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
            words = ascii_words(task)
            self._stems[agent] = None if words is None else held | STEMS.of(words)

    def clear(self) -> None:
        """Their write job is queued: from now on the worker's lookups see them in order."""
        self._tasks.clear()
        self._stems.clear()

    def may_match(self, agent: str | None, terms: Sequence[str]) -> bool:
        """Whether a waiting session of ``agent`` (``None``: any) may hold any of ``terms``."""
        if not self._tasks or not terms:
            return False
        wanted = _stems_of(terms)
        if wanted is None:
            return True
        agents = {a for a, _ in self._tasks} if agent is None else (agent,)
        for a in agents:
            held = self._held(a)
            if held is None or not held.isdisjoint(wanted):
                return True
        return False

    def matching(self, agent: str | None, terms: Sequence[str]) -> list[int]:
        """The positions of the waiting sessions of ``agent`` (``None``: any) that may hold any
        of ``terms``, in the order they came (the same test as :meth:`may_match`, by session)."""
        wanted = _stems_of(terms)
        mine = [i for i, (a, _) in enumerate(self._tasks) if agent is None or a == agent]
        if wanted is None or not wanted.isdisjoint(_mark_stems()):
            return mine
        found: list[int] = []
        for i in mine:
            words = ascii_words(self._tasks[i][1])
            if words is None or not STEMS.of(words).isdisjoint(wanted):
                found.append(i)
        return found

    def remove(self, positions: Sequence[int]) -> None:
        """Forget the waiting sessions at ``positions`` (their write is someone else's now)."""
        gone = set(positions)
        self._tasks = [t for i, t in enumerate(self._tasks) if i not in gone]
        self._stems.clear()  # (worked out again when asked)

    def _held(self, agent: str) -> frozenset[str] | None:
        if agent in self._stems:
            return self._stems[agent]
        words: set[str] = set()
        held: frozenset[str] | None = None
        for a, task in self._tasks:
            if a != agent:
                continue
            found = ascii_words(task)
            if found is None:
                break  # not split here: it may match anything
            words.update(found)
        else:
            held = frozenset(STEMS.of(words) | _mark_stems()) if words else _mark_stems()
        self._stems[agent] = held
        return held


def _stems_of(terms: Sequence[str]) -> set[str] | None:
    """The Porter stems of the words of ``terms`` (``None``: one is not split here)."""
    query: list[str] = []
    for t in terms:
        words = ascii_words(t)
        if words is None:
            return None
        query.extend(words)
    return STEMS.of(query)


def _mark_stems() -> frozenset[str]:
    global _MARK_STEMS
    if _MARK_STEMS is None:
        _MARK_STEMS = frozenset(STEMS.of(ascii_words(_MARKS) or ()))
    return _MARK_STEMS


class WaitingSessions(Generic[T]):
    """The sessions waiting for their write job (what the store is handed: ``T``), shared by the
    event loop, which queues their write job after a delay, and memory's worker thread, whose
    context lookup writes them itself first when one of them may match its search (whichever
    :meth:`take` s them first writes them). A lookup that none of them can match does not wait
    for their write (issue #10: with more sessions than a lookup on the event loop answers,
    every run's lookup went to the worker, and the write queued before it, ≈ 0.6 ms, was on
    every run's path). Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[T] = []
        self._tasks = PendingSessions()

    def __len__(self) -> int:
        return len(self._items)

    def add(self, agent: str, task: str, item: T) -> int:
        """Hold ``item`` (the session of ``agent`` on ``task``); returns how many wait now."""
        with self._lock:
            self._items.append(item)
            self._tasks.add(agent, task)
            return len(self._items)

    def take(self) -> list[T]:
        """Every session waiting, for the caller to write (none are held after)."""
        with self._lock:
            items, self._items = self._items, []
            self._tasks.clear()
            return items

    def may_match(self, agent: str | None, terms: Sequence[str]) -> bool:
        """Whether a waiting session of ``agent`` (``None``: any) may hold any of ``terms``."""
        with self._lock:
            return self._tasks.may_match(agent, terms)

    def take_matching(
        self, agent: str | None, terms: Sequence[str], at_most: int | None = None
    ) -> list[T] | None:
        """The waiting sessions of ``agent`` (``None``: any) that may hold any of ``terms``, for
        the caller to write (the others go on waiting, in order); ``None``, and none taken, when
        more than ``at_most`` may."""
        with self._lock:
            found = self._tasks.matching(agent, terms)
            if at_most is not None and len(found) > at_most:
                return None
            items = [self._items[i] for i in found]
            gone = set(found)
            self._items = [item for i, item in enumerate(self._items) if i not in gone]
            self._tasks.remove(found)
            return items
