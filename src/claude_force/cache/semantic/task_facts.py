"""What a task says that sentence embeddings barely see: the facts the guard compares (pure).

:func:`facts` reads numbers (digits, number words, magnitudes, units), identifiers and file names,
quoted text, code spans and URLs, negation, named technologies and human languages, periods, the
natural language the task is written in, and its content words (stemmed, in order, and split
around a relation word such as "instead of"). The word lists are in :mod:`.wordlists`; the rules
that compare two tasks' facts are in :mod:`.guards`.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from dataclasses import dataclass

from .wordlists import (
    AMBIGUOUS_TECH,
    GENERIC,
    HUMAN_LANGUAGES,
    LANG_WORDS,
    MAGNITUDES,
    NEGATIONS,
    NUMBER_WORDS,
    PERIODS,
    RELATIONS,
    SINGLE_LETTER_LANGS,
    STOP,
    SYNONYMS,
    TECH,
    TECH_ALIASES,
    UNITS,
)

_MAGNITUDE = re.compile(
    r"(?<![\w.])(\d+(?:\.\d+)?)\s*-?\s*(thousand|million|billion|k|m|b)(?![a-z])", re.I
)
_NUMBER = re.compile(r"(?<![\w.])[-+]?\d[\d,_]*(?:\.\d+)*(?:[eE][-+]?\d+)?%?")
_UNIT = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)([a-zA-Z]{1,3})\b")
_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://\S+", re.I)
_QUOTED = re.compile(r"`([^`]+)`|\"([^\"]+)\"|“([^”]+)”|'([^'\s][^']*[^'\s])'(?!\w)")
_PATH = re.compile(r"(?:[\w.-]+/)+[\w.-]+|[\w-]+\.[A-Za-z][\w]{0,9}\b")
_SNAKE = re.compile(r"\b\w+_\w+\b")
_CAMEL = re.compile(r"\b[a-z]+[A-Z]\w*\b|\b[A-Z][a-z]+[A-Z]\w*\b")
_ALNUM = re.compile(r"\b(?=\w*[a-zA-Z])(?=\w*\d)\w+\b")
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?", re.UNICODE)


def stem(word: str) -> str:
    w = word.lower()
    for suffix in ("ing", "ed", "es", "s"):
        if len(w) > len(suffix) + 3 and w.endswith(suffix):
            return w[: -len(suffix)]
    return w


@dataclass(frozen=True, slots=True)
class TaskFacts:
    """What a task says that an embedding may not see (the guard compares these)."""

    numbers: frozenset[str]
    identifiers: frozenset[str]
    negated: bool
    tech: frozenset[str]
    languages: frozenset[str]
    written_in: str  # "en", "fr", … or a script name ("cjk", "cyrillic", …), "" when unknown
    words: frozenset[str]  # stemmed content words (for the opposites rule)
    length: int  # content words
    periods: frozenset[str] = frozenset()  # hourly / daily / weekly … (a schedule or a grouping)
    sequence: tuple[str, ...] = ()  # stemmed content words in order
    wanted: frozenset[str] = frozenset()  # around a relation word: roots of what the task wants
    given_up: frozenset[str] = frozenset()  # … and of what it gives up ("A instead of B": A, B)
    specific: tuple[str, ...] = ()  # content words that are not GENERIC, as written (lower case)


_UNIT_TOKENS = re.compile(r"\d+(?:\.\d+)?|%|[^\W\d_]+")


def _units(text: str, used: set[str] | None = None) -> set[str]:
    """Numbers with their unit ("5 percent" = "5%", "ten minutes" = "10 min"): the unit counts.

    The unit words found are added to ``used`` (they are compared here, not as words)."""
    out: set[str] = set()
    tokens = _UNIT_TOKENS.findall(text.lower())
    for value, unit in itertools.pairwise(tokens):
        if unit not in UNITS:
            continue
        if value in NUMBER_WORDS:
            value = NUMBER_WORDS[value]
        elif not value[0].isdigit():
            continue
        out.add(f"{_norm_number(value)}{UNITS[unit]}")
        if used is not None:
            used.add(unit)
    return out


def _norm_number(text: str) -> str:
    t = text.replace(",", "").replace("_", "").rstrip("%")
    try:
        value = float(t)
    except ValueError:
        return text
    return repr(int(value)) if value.is_integer() and "e" not in t.lower() else repr(value)


def _script(text: str) -> str:
    counts: dict[str, int] = {}
    for ch in text:
        if not ch.isalpha():
            continue
        name = unicodedata.name(ch, "")
        for script in ("CJK", "HIRAGANA", "KATAKANA", "HANGUL", "CYRILLIC", "ARABIC", "HEBREW",
                       "GREEK", "DEVANAGARI", "THAI"):  # fmt: skip
            if name.startswith(script):
                counts[script.lower()] = counts.get(script.lower(), 0) + 1
                break
        else:
            counts["latin"] = counts.get("latin", 0) + 1
    if not counts:
        return ""
    return max(counts.items(), key=lambda kv: kv[1])[0]


def _written_in(words: list[str], script: str) -> str:
    if script and script != "latin":
        return script
    scores = {lang: sum(w in vocab for w in words) for lang, vocab in LANG_WORDS.items()}
    best = max(scores.items(), key=lambda kv: kv[1])
    if best[1] == 0:
        return ""
    tied = [lang for lang, s in scores.items() if s == best[1]]
    return best[0] if len(tied) == 1 else ""


def facts(task: str) -> TaskFacts:
    text = unicodedata.normalize("NFKC", task)
    identifiers: set[str] = set()
    numbers: set[str] = set()
    for m in _MAGNITUDE.finditer(text):  # "200 million", "200M", "5k": one number
        numbers.add(_norm_number(repr(float(m.group(1)) * MAGNITUDES[m.group(2).lower()])))
    text = _MAGNITUDE.sub(" ", text)
    for m in _UNIT.finditer(text):  # "200ms", "10x", "3NF": a number (and a word), not a name
        numbers.add(_norm_number(m.group(1)))
    text = _UNIT.sub(lambda m: f" {m.group(1)} {m.group(2)} ", text)
    for m in _URL.finditer(text):
        identifiers.add(m.group(0).rstrip(".,;:)").lower())
    rest = _URL.sub(" ", text)
    for m in _QUOTED.finditer(rest):
        quoted = next(g for g in m.groups() if g is not None)
        identifiers.add(" ".join(quoted.split()).lower())
    for pattern in (_PATH, _SNAKE, _CAMEL, _ALNUM):
        for m in pattern.finditer(rest):
            token = m.group(0).strip(".")
            if pattern is _PATH and token.replace(".", "").isdigit():
                continue  # a decimal number, counted below
            if (
                pattern is _PATH
                and "/" not in token
                and token.split(".")[-1].lower()
                in {
                    "e",
                    "g",
                    "i",
                }
            ):
                continue  # e.g. / i.e.
            identifiers.add(token.lower())
    numbers |= {_norm_number(m.group(0)) for m in _NUMBER.finditer(rest)}
    raw_words = [w.lower() for w in _WORD.findall(rest)]
    if any(w in ("thousand", "million", "billion") for w in raw_words):
        numbers |= {
            repr(int(MAGNITUDES[w])) for w in raw_words if w in ("thousand", "million", "billion")
        }
    numbers |= {NUMBER_WORDS[w] for w in raw_words if w in NUMBER_WORDS}
    unit_words: set[str] = set()
    numbers |= _units(text, unit_words)
    tech: set[str] = set()
    for m in re.finditer(r"[\w+#']+", rest):
        t, low = m.group(0), m.group(0).lower()
        if low not in TECH:
            continue
        if low in AMBIGUOUS_TECH:
            before = rest[: m.start()].rstrip()
            if t != AMBIGUOUS_TECH[low] or not before or before[-1] in ".!?;:":
                continue  # "go through", "React now", or the first word of a sentence
        tech.add(TECH_ALIASES.get(low, low))
    tech |= {
        v for k, v in SINGLE_LETTER_LANGS.items() if re.search(rf"(?<![\w']){k}(?![\w+#'])", rest)
    }
    languages = {w for w in raw_words if w in HUMAN_LANGUAGES}
    negated = any(w in NEGATIONS or w.endswith("n't") for w in raw_words)
    canon = " ".join(SYNONYMS.get(w, w) for w in raw_words).split()
    wanted, given_up = _roles(canon)
    content = [w for w in canon if w not in STOP and w not in NEGATIONS]
    return TaskFacts(
        numbers=frozenset(numbers),
        identifiers=frozenset(identifiers),
        negated=negated,
        tech=frozenset(tech),
        languages=frozenset(languages),
        written_in=_written_in(raw_words, _script(rest)),
        words=frozenset(stem(w) for w in content),
        length=len(content),
        periods=frozenset(PERIODS[w] for w in raw_words if w in PERIODS),
        sequence=tuple(stem(w) for w in content),
        wanted=wanted,
        given_up=given_up,
        specific=tuple(
            dict.fromkeys(
                w
                for w in content
                if w not in GENERIC
                and stem(w) not in GENERIC_STEMS
                and w not in NUMBER_WORDS
                and w not in MAGNITUDES
                and w not in unit_words
                and w not in RELATIONS  # compared by their roles (_roles), not as words
            )
        ),
    )


GENERIC_STEMS = frozenset(stem(w) for w in GENERIC)


def _roots(words: list[str]) -> frozenset[str]:
    return frozenset(
        root(w) for w in words if w not in STOP and w not in NEGATIONS and w not in RELATIONS
    )


def root(word: str) -> str:
    """A crude morphological root: the first 5 letters of the stem ("normalise" ~ "normalize",
    "month" ~ "monthly", "deploy" ~ "deployment")."""
    return stem(word.split("'")[0])[:5]


def _between(canon: list[str], start: int, ends: tuple[str, ...]) -> int | None:
    return next((k for k in range(start + 1, len(canon)) if canon[k] in ends), None)


def _roles(canon: list[str]) -> tuple[frozenset[str], frozenset[str]]:
    """What the task wants and what it gives up, read around its first relation word.

    The side that is wanted depends on the construction, not on the word order: "A instead of
    B", "A rather than B", "A over B" want the left side; "replace B with A", "from B to A",
    "turn B into A", "drop B in favour of A" want the right side. Reading every construction to the same two roles is
    what lets "replace B with A" match "A instead of B" and refuse "B instead of A".
    """
    for i, w in enumerate(canon):
        if w not in RELATIONS:
            continue
        if w == "replace":  # "replace B with A" (no "with": no roles)
            j = _between(canon, i, ("with", "by"))
            return (_roots(canon[j + 1 :]), _roots(canon[i + 1 : j])) if j else _NO_ROLES
        if w == "from":  # "move X from B to A"; "from" alone: left and right, as written
            j = _between(canon, i, ("to", "into"))
            if j is not None:
                return _roots(canon[j + 1 :]), _roots(canon[i + 1 : j])
        if w in ("into", "favour", "favor"):  # "turn B into A", "B in favour of A"
            return _roots(canon[i + 1 :]), _roots(canon[:i])
        return _roots(canon[:i]), _roots(canon[i + 1 :])
    return _NO_ROLES


_NO_ROLES: tuple[frozenset[str], frozenset[str]] = (frozenset(), frozenset())
