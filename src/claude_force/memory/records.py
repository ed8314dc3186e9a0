"""What memory stores and how it is asked: sessions, hits, queries, and the match plan (pure)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .._fields import fields_dict

MAX_QUERY_TERMS = 32
"""At most this many distinct terms of a task take part in a query (the first ones it uses)."""

MAX_TASK_CHARS = 8000
"""A stored task is cut to this many characters (workflow steps carry earlier outputs)."""

# Words too common to say anything about a task. Kept short: BM25 already gives frequent terms
# little weight; this list only spares the index from scoring every session for "the".
_STOPWORD_TEXT = """a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers him his how i if in into is it its itself just
    me more most my no nor not now of off on once only or other our ours out over own please
    same she should so some such than that the their theirs them then there these they this
    those through to too under until up very was we were what when where which while who whom
    why will with would you your yours"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())

_TOKEN = re.compile(r"[^\W_]+")  # letters and digits: what SQLite's unicode61 tokenizer keeps


def query_terms(text: str) -> tuple[str, ...]:
    """The distinct search terms of ``text``, sorted: lower-cased words, no stopwords.

    Sorting makes the tuple a normal form (the terms are OR-ed, so order does not matter) and
    so a good cache key: two texts with the same terms give the same query and the same result.
    """
    seen: dict[str, None] = {}
    for m in _TOKEN.finditer(text.lower()):
        word = m.group(0)
        if len(word) < 2 or word in STOPWORDS:
            continue
        seen.setdefault(word, None)
        if len(seen) >= MAX_QUERY_TERMS:
            break
    return tuple(sorted(seen))


def match_expression(terms: Sequence[str]) -> str:
    """An FTS5 query matching any of ``terms`` (each quoted, so no word is read as an operator)."""
    return " OR ".join(f'"{t}"' for t in terms)


COMMON_MIN_SESSIONS = 20
"""From this many sessions in an index on, a term found in at least half of them is not
searched on (see :func:`is_common`); a smaller memory is searched on every term."""


def is_common(doc_count: int, sessions: int) -> bool:
    """Whether a term matching ``doc_count`` of an index's ``sessions`` carries no evidence.

    FTS5's BM25 gives a term the idf ``ln((N - n + 0.5) / (n + 0.5))``, which is zero or less
    once ``n ≥ N/2``, and then clamps it to 1e-6: a session sharing only such words with a task
    scores about 1e-6 — relevance nil — and would be shown only because results are filled
    newest first. Such terms are dropped from the query. Below :data:`COMMON_MIN_SESSIONS` the
    rule is off (in a handful of sessions most words are "common", and the clamp would hide
    them all). ``doc_count`` may be a lower bound (a count stopped at :func:`count_cap`): a term
    is then called common only when the bound proves it.
    """
    return sessions >= COMMON_MIN_SESSIONS and 2 * doc_count >= sessions


def count_cap(sessions: int, budget: int) -> int:
    """How far each term's matching sessions need counting for :func:`plan_match`: one past the
    budget (a term over it is windowed or dropped, whatever its exact count), and no further
    than half the sessions once the common-term rule applies (enough to prove a term common)."""
    if sessions >= COMMON_MIN_SESSIONS:
        return min((sessions + 1) // 2, budget + 1)
    return budget + 1


@dataclass(frozen=True, slots=True)
class MatchPlan:
    """Which terms to match, and whether to rank only the newest ``budget`` matching sessions."""

    terms: tuple[str, ...]
    windowed: bool = False

    @property
    def empty(self) -> bool:
        return not self.terms


def plan_match(doc_counts: Sequence[tuple[str, int]], budget: int, sessions: int = 0) -> MatchPlan:
    """Bound the work of a query to about ``budget`` scored sessions (pure).

    ``doc_counts`` gives each term's number of matching sessions (exact, or a lower bound at
    :func:`count_cap`) in an index of ``sessions`` sessions. Terms that carry no BM25 evidence
    (:func:`is_common`) are dropped; when no other term is left the plan is empty (no context).
    The remaining terms are taken rarest first while their total stays within ``budget`` — the
    rare terms carry nearly all of BM25's weight, and the very common ones dominate its cost.
    The rarest term is always kept; when it alone matches more than ``budget`` sessions, only
    the newest ``budget`` of them are ranked. A small memory is therefore searched exactly; a
    large one, boundedly.
    """
    present = sorted(
        ((df, t) for t, df in doc_counts if df > 0 and not is_common(df, sessions)),
        key=lambda p: (p[0], p[1]),
    )
    if not present:
        return MatchPlan(())
    kept: list[str] = []
    total = 0
    for df, term in present:
        if kept and total + df > budget:
            break
        kept.append(term)
        total += df
    return MatchPlan(tuple(sorted(kept)), windowed=total > budget)


@dataclass(frozen=True, slots=True)
class Session:
    """One stored session: what memory keeps of an agent run (already redacted and bounded)."""

    id: str
    agent: str
    task: str
    summary: str
    success: bool
    model: str
    created_at: datetime
    input_tokens: int = 0
    output_tokens: int = 0
    execution_time_ms: float = 0.0
    workflow: str | None = None
    simulated: bool = False
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def nbytes(self) -> int:
        """Approximate bytes held by this record (text fields plus a fixed overhead)."""
        text = self.id + self.agent + self.task + self.summary + self.model + (self.workflow or "")
        # the metadata's repr is about as long as its JSON, and much cheaper to make
        return 200 + len(text.encode("utf-8")) + len(repr(self.metadata))

    def to_dict(self) -> dict[str, Any]:
        return fields_dict(
            self, created_at=self.created_at.isoformat(), metadata=dict(self.metadata)
        )


@dataclass(frozen=True, slots=True)
class Hit:
    """A session found by a query; ``score`` is its BM25 relevance (higher is better; 0 when
    the query had no searchable words and results are simply the most recent)."""

    session: Session
    score: float

    def nbytes(self) -> int:
        return 16 + self.session.nbytes()

    def to_dict(self) -> dict[str, Any]:
        return {"score": round(self.score, 6), **self.session.to_dict()}


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """A memory query: the text to match and the filters."""

    text: str
    agent: str | None = None
    success_only: bool = True
    max_age_days: float | None = None
    simulated: bool | None = None  # None: simulated and real sessions alike
    limit: int = 5
    informative_only: bool = False
    """Search only on the terms that carry BM25 evidence — not on those in at least half of the
    index's sessions (:func:`is_common`). Context lookups set it: a past session that shares
    only such words with a task is not shown. A search asked for by name (``memory search``,
    ``find_similar_sessions``) searches on every word."""
    _terms: tuple[str, ...] = field(default=(), init=False, repr=False, compare=False)
    """:attr:`terms`, worked out once (a lookup asks for them three times: the stop-word
    rule, the cache key, the search)."""

    def __post_init__(self) -> None:
        if self.limit < 1:
            raise ValueError(f"limit must be at least 1, got {self.limit}")
        if self.max_age_days is not None and self.max_age_days < 0:
            raise ValueError(f"max_age_days must not be negative, got {self.max_age_days}")
        object.__setattr__(self, "_terms", query_terms(self.text))  # (frozen)

    @property
    def terms(self) -> tuple[str, ...]:
        return self._terms

    def cache_key(self) -> tuple[object, ...]:
        """The normalised query and filters (the age filter is checked on each hit instead)."""
        return (
            self.agent,
            self.terms,
            self.success_only,
            self.simulated,
            self.limit,
            self.informative_only,
        )


@dataclass(frozen=True, slots=True)
class MemoryStats:
    """Counts of a memory store and its query cache."""

    location: str
    sessions: int
    successful: int
    agents: dict[str, int]
    oldest: datetime | None
    newest: datetime | None
    avg_execution_time_ms: float
    redactions: int
    retention_days: int
    query_cache: dict[str, Any]

    @property
    def success_rate(self) -> float:
        return self.successful / self.sessions if self.sessions else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "location": self.location,
            "sessions": self.sessions,
            "successful": self.successful,
            "success_rate": round(self.success_rate, 4),
            "agents": dict(self.agents),
            "oldest": self.oldest.isoformat() if self.oldest else None,
            "newest": self.newest.isoformat() if self.newest else None,
            "avg_execution_time_ms": round(self.avg_execution_time_ms, 3),
            "redactions": self.redactions,
            "retention_days": self.retention_days,
            "query_cache": dict(self.query_cache),
        }
