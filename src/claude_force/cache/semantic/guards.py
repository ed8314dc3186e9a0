"""The false-hit guard: facts two tasks must share before one's answer may serve the other (pure).

Sentence embeddings place "fix the bug in parser.py" next to "fix the bug in lexer.py", "sort
ascending" next to "sort descending", and a task next to its own negation: the words that change
the answer are few, and the vectors barely move. So a semantic hit needs, besides a similarity
above the calibrated threshold, that both tasks carry exactly the same:

* numbers (digits, and number words up to the millions: "ten" equals "10");
* identifiers and file names (``snake_case``, ``camelCase``, ``dotted.names``, ``paths/like/this``,
  ``file.ext``, words with digits such as ``v2`` or ``sha256``, ALL-CAPS words), quoted text,
  code spans and URLs;
* negation (whether the task says not/no/never/without/avoid/except…);
* named languages, platforms and tools (Python vs Go, PostgreSQL vs MySQL, French vs German…);
* the natural language the task is written in (an English task never answers a French one);
* opposite verbs and adjectives (add/remove, increase/decrease, before/after, …);

and that neither task is much longer than the other (extra requirements change the answer).
Each rule is written out here rather than learned, so a refusal names its reason. What a task
says is read by :mod:`.task_facts`; the word lists are in :mod:`.wordlists`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .task_facts import TaskFacts, facts, root
from .wordlists import OPPOSITES

MAX_LENGTH_RATIO = 1.8  # content words of the longer task over the shorter (calibrated, see docs)
MIN_LENGTH_SLACK = 3  # short tasks may differ by this many content words regardless of the ratio
SYNONYM_SIMILARITY = 0.55  # two unmatched words at least this similar count as the same word
# the swap rule applies to "templated" pairs: most specific words shared, one or two swapped
SWAP_MIN_SHARED = 0.5
SWAP_MAX_WORDS = 3
EXTRA_WORDS = 4  # this many specific words on one side only (and at most one on the other)


def _swapped(new: TaskFacts, cached: TaskFacts) -> bool:
    """Roles swapped: what one task wants, the other gives up, and the other way round ("A
    instead of B" / "B instead of A", or "replace A with B")."""
    if not (new.wanted or new.given_up) or not (cached.wanted or cached.given_up):
        return False
    return bool(new.wanted & cached.given_up) and bool(new.given_up & cached.wanted)


def unmatched(new: TaskFacts, cached: TaskFacts) -> tuple[list[str], list[str]]:
    """Specific words of each task that the other lacks (compared by their root)."""
    a = {root(w) for w in new.specific}
    b = {root(w) for w in cached.specific}
    return [w for w in new.specific if root(w) not in b], [
        w for w in cached.specific if root(w) not in a
    ]


def _opposite(words_a: frozenset[str], words_b: frozenset[str]) -> tuple[str, str] | None:
    a = frozenset(root(w) for w in words_a)  # roots: "changing" ~ "change", "kept" aside
    b = frozenset(root(w) for w in words_b)
    for x, y in OPPOSITES:
        sx, sy = root(x), root(y)
        if sx in a and sy in b and sx not in b and sy not in a:
            return x, y
        if sy in a and sx in b and sy not in b and sx not in a:
            return y, x
    return None


@dataclass(frozen=True, slots=True)
class Synonyms:
    """The last rule's question: may each word of one side stand for a word of the other?"""

    only_new: list[str]
    only_cached: list[str]

    @property
    def words(self) -> list[str]:
        return [*self.only_new, *self.only_cached]


def rules(new: TaskFacts, cached: TaskFacts) -> str | Synonyms | None:
    """The rules that need no embedding: a refusal, ``None`` when the pair passes, or the
    :class:`Synonyms` question left for the word vectors (the only rule that needs them)."""
    if new.numbers != cached.numbers:
        return "different numbers"
    if new.identifiers != cached.identifiers:
        return "different identifiers or file names"
    if new.negated != cached.negated:
        return "negation differs"
    if new.tech != cached.tech:
        return "different languages, platforms or tools"
    if new.periods != cached.periods:
        return "different periods (hourly, daily, weekly …)"
    if new.languages != cached.languages:
        return "different human languages named"
    if new.written_in and cached.written_in and new.written_in != cached.written_in:
        return "written in different languages"
    pair = _opposite(new.words, cached.words)
    if (
        pair is None and new.sequence and cached.sequence
    ):  # the leading verbs: "merge" / "partition"
        pair = _opposite(frozenset(new.sequence[:1]), frozenset(cached.sequence[:1]))
    if pair is not None:
        return f"opposite wording ({pair[0]} / {pair[1]})"
    short, long_ = sorted((new.length, cached.length))
    if long_ - short > MIN_LENGTH_SLACK and long_ > MAX_LENGTH_RATIO * max(short, 1):
        return "one task asks for much more than the other"
    if _swapped(new, cached):
        return "the same things in swapped roles"
    only_new, only_cached = unmatched(new, cached)
    shared = len({root(w) for w in new.specific} & {root(w) for w in cached.specific})
    few, many = sorted((len(only_new), len(only_cached)))
    if many >= EXTRA_WORDS and few <= 1:
        return "one task asks for more than the other"
    templated = shared >= SWAP_MIN_SHARED * (shared + max(len(only_new), len(only_cached)))
    if only_new and only_cached and templated and many <= SWAP_MAX_WORDS:
        return Synonyms(only_new, only_cached)
    return None


def words_needed(new: TaskFacts, cached: TaskFacts) -> list[str]:
    """The words whose vectors :func:`refusal` will ask for on this pair (often none), so that
    a caller can embed them all in one batch before running the guard."""
    question = rules(new, cached)
    return question.words if isinstance(question, Synonyms) else []


def refusal(
    new: TaskFacts,
    cached: TaskFacts,
    similarity: Callable[[list[str], list[str]], list[list[float]]] | None = None,
) -> str | None:
    """Why the cached task's answer must not serve the new task, or ``None`` when it may.

    ``similarity(words_a, words_b)`` — the embedding similarity of single words — lets a swapped
    word pass when it is a synonym ("flaws" / "vulnerabilities"); without it, any swapped
    specific word refuses. It is called only for the words :func:`words_needed` names.
    """
    question = rules(new, cached)
    if not isinstance(question, Synonyms):
        return question
    only_new, only_cached = question.only_new, question.only_cached
    left = list(only_cached)
    if similarity is not None:
        sims = similarity(only_new, only_cached)
        for i in range(len(only_new)):
            best = max(range(len(only_cached)), key=lambda j: sims[i][j])
            if sims[i][best] >= SYNONYM_SIMILARITY and only_cached[best] in left:
                left.remove(only_cached[best])
        rest_new = [w for i, w in enumerate(only_new) if max(sims[i]) < SYNONYM_SIMILARITY]
    else:
        rest_new = only_new
    if rest_new and left:
        return f"different subject ({' '.join(rest_new)} / {' '.join(left)})"
    return None


def check(
    new_task: str,
    cached_task: str,
    similarity: Callable[[list[str], list[str]], list[list[float]]] | None = None,
) -> str | None:
    return refusal(facts(new_task), facts(cached_task), similarity)


__all__ = [
    "Synonyms",
    "TaskFacts",
    "check",
    "facts",
    "refusal",
    "rules",
    "unmatched",
    "words_needed",
]
