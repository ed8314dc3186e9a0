"""Judge a task's complexity (``simple`` | ``normal`` | ``critical``) with explainable heuristics.

Pure: task text and agent metadata in, a :class:`Classification` out. Every signal that moved
the score is kept as a :class:`Signal` with its points, so a decision can always be explained
(``claude-force route`` prints them). The signals:

* length of the task (long tasks score up, very short ones down);
* keywords: *critical* ones (security, architecture, production, migration …) score up,
  *simple* ones (typo, rename, format, summarize …) score down;
* fenced code blocks (reviewing or writing a lot of code scores up);
* the agent's ``priority`` (1 scores up, 3 or more scores down) and its ``domains`` (a critical
  domain such as security or architecture scores up).

``score ≥ critical_at`` → critical; ``score ≤ simple_at`` → simple; otherwise normal.
Hand-written rather than a learned model: it must be explainable, deterministic, offline and
configurable from ``claude.json``, and its inputs are a few words of text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from .._fields import fields_dict
from .settings import ClassifierSettings

Complexity = Literal["simple", "normal", "critical"]
COMPLEXITIES: tuple[Complexity, ...] = ("simple", "normal", "critical")

CRITICAL_KEYWORDS: tuple[str, ...] = (
    "security",
    "secure",
    "vulnerab",
    "exploit",
    "cve",
    "authenticat",
    "authoriz",
    "encrypt",
    "credential",
    "secret",
    "architect",
    "production",
    "deploy to prod",
    "migrat",
    "schema change",
    "payment",
    "billing",
    "compliance",
    "gdpr",
    "pci",
    "hipaa",
    "incident",
    "outage",
    "data loss",
    "race condition",
    "deadlock",
    "concurren",
    "distributed",
    "disaster recovery",
)
SIMPLE_KEYWORDS: tuple[str, ...] = (
    "typo",
    "spelling",
    "rename",
    "reformat",
    "format",
    "lint",
    "summar",
    "list",
    "docstring",
    "comment",
    "changelog",
    "readme",
    "translate",
    "bump",
    "hello",
)
CRITICAL_DOMAINS: tuple[str, ...] = (
    "security",
    "architecture",
    "authentication",
    "secrets",
    "migrations",
    "database",
    "reliability",
    "compliance",
)

KEYWORD_CAP_UP = 4  # critical keywords add at most this much
KEYWORD_CAP_DOWN = 2  # simple keywords take away at most this much
_FENCE = re.compile(r"^\s*(```|~~~)", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class AgentProfile:
    """What the classifier knows about an agent (from ``claude.json``)."""

    name: str
    domains: tuple[str, ...] = ()
    priority: int = 2


@dataclass(frozen=True, slots=True)
class Signal:
    """One reason the score moved: ``points`` (signed) and a human sentence."""

    points: int
    reason: str

    def __str__(self) -> str:
        return f"{self.reason} ({self.points:+d})"


@dataclass(frozen=True, slots=True)
class Classification:
    complexity: Complexity
    score: int
    signals: tuple[Signal, ...] = ()
    forced: bool = False  # the caller named the complexity; no heuristics ran

    @property
    def reasons(self) -> list[str]:
        return [str(s) for s in self.signals]

    def to_dict(self) -> dict[str, object]:
        return fields_dict(self, omit=("signals",), reasons=self.reasons)


def _pattern(words: Iterable[str]) -> re.Pattern[str] | None:
    """One regex matching any keyword at a word start (a keyword is a prefix of the word)."""
    parts = sorted({w.strip().lower() for w in words if w.strip()}, key=len, reverse=True)
    if not parts:
        return None
    alternatives = "|".join(re.escape(p).replace(r"\ ", r"\s+") for p in parts)
    return re.compile(rf"\b(?:{alternatives})\w*", re.IGNORECASE)


@dataclass(frozen=True)
class ComplexityClassifier:
    """Task + agent → complexity, with the reasons. Build it from settings with :meth:`from_settings`."""

    critical_keywords: tuple[str, ...] = CRITICAL_KEYWORDS
    simple_keywords: tuple[str, ...] = SIMPLE_KEYWORDS
    critical_domains: tuple[str, ...] = CRITICAL_DOMAINS
    long_task_chars: int = 2000
    medium_task_chars: int = 600
    short_task_chars: int = 160
    critical_at: int = 3
    simple_at: int = -2
    _critical: re.Pattern[str] | None = field(init=False, repr=False, compare=False)
    _simple: re.Pattern[str] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.simple_at >= self.critical_at:
            raise ValueError(
                f"simple_at ({self.simple_at}) must be below critical_at ({self.critical_at})"
            )
        object.__setattr__(self, "_critical", _pattern(self.critical_keywords))
        object.__setattr__(self, "_simple", _pattern(self.simple_keywords))

    @classmethod
    def from_settings(cls, s: ClassifierSettings) -> ComplexityClassifier:
        critical = CRITICAL_KEYWORDS if s.critical_keywords is None else tuple(s.critical_keywords)
        simple = SIMPLE_KEYWORDS if s.simple_keywords is None else tuple(s.simple_keywords)
        domains = CRITICAL_DOMAINS if s.critical_domains is None else tuple(s.critical_domains)
        return cls(
            critical_keywords=critical + tuple(s.extra_critical_keywords),
            simple_keywords=simple + tuple(s.extra_simple_keywords),
            critical_domains=tuple(d.lower() for d in domains),
            long_task_chars=s.long_task_chars,
            medium_task_chars=s.medium_task_chars,
            short_task_chars=s.short_task_chars,
            critical_at=s.critical_at,
            simple_at=s.simple_at,
        )

    def classify(self, task: str, agent: AgentProfile | None = None) -> Classification:
        signals = [
            *self._length(task),
            *self._keywords(task),
            *self._code(task),
            *self._agent(agent),
        ]
        score = sum(s.points for s in signals)
        if score >= self.critical_at:
            complexity: Complexity = "critical"
        elif score <= self.simple_at:
            complexity = "simple"
        else:
            complexity = "normal"
        return Classification(complexity, score, tuple(signals))

    # --- signals ---------------------------------------------------------------------------------

    def _length(self, task: str) -> list[Signal]:
        n = len(task.strip())
        if n >= self.long_task_chars:
            return [Signal(2, f"long task ({n:,} characters ≥ {self.long_task_chars:,})")]
        if n >= self.medium_task_chars:
            return [
                Signal(1, f"medium-length task ({n:,} characters ≥ {self.medium_task_chars:,})")
            ]
        if n <= self.short_task_chars:
            return [Signal(-1, f"short task ({n:,} characters ≤ {self.short_task_chars:,})")]
        return []

    def _keywords(self, task: str) -> list[Signal]:
        out: list[Signal] = []
        prose = _FENCED.sub(" ", task)  # keywords inside code blocks are code, not intent
        found = _matches(self._critical, prose)
        if found:
            points = min(KEYWORD_CAP_UP, 1 + len(found))
            out.append(Signal(points, "critical keywords: " + ", ".join(found)))
        found = _matches(self._simple, prose)
        if found:
            points = -min(KEYWORD_CAP_DOWN, len(found))
            out.append(Signal(points, "simple keywords: " + ", ".join(found)))
        return out

    def _code(self, task: str) -> list[Signal]:
        blocks = len(_FENCE.findall(task)) // 2
        if not blocks:
            return []
        lines = sum(m.group(0).count("\n") for m in _FENCED.finditer(task))
        if blocks >= 3 or lines >= 60:
            return [Signal(2, f"{blocks} code block(s), {lines} lines of code")]
        return [Signal(1, f"{blocks} code block(s), {lines} lines of code")]

    def _agent(self, agent: AgentProfile | None) -> list[Signal]:
        if agent is None:
            return []
        out: list[Signal] = []
        if agent.priority <= 1:
            out.append(Signal(1, f"agent '{agent.name}' has priority {agent.priority} (high)"))
        elif agent.priority >= 3:
            out.append(Signal(-1, f"agent '{agent.name}' has priority {agent.priority} (low)"))
        critical = sorted({d for d in agent.domains if d.lower() in self.critical_domains})
        if critical:
            out.append(Signal(1, "agent domains: " + ", ".join(critical)))
        return out


_FENCED = re.compile(r"^\s*(```|~~~)[^\n]*\n.*?^\s*\1", re.MULTILINE | re.DOTALL)


def _matches(pattern: re.Pattern[str] | None, text: str) -> list[str]:
    """The distinct words found, in order of first appearance (normalised to lower case)."""
    if pattern is None:
        return []
    seen: dict[str, None] = {}
    for m in pattern.finditer(text):
        seen.setdefault(" ".join(m.group(0).lower().split()), None)
    return list(seen)


def parse_complexity(value: str) -> Complexity | None:
    """``auto`` → None; ``simple|normal|critical`` as is; ``complex`` (the 2.2 name) → normal."""
    v = value.strip().lower()
    if v == "auto":
        return None
    if v == "complex":
        return "normal"
    if v in COMPLEXITIES:
        return v  # type: ignore[return-value]
    raise ValueError(f"unknown complexity '{value}': use auto, simple, normal or critical")


def forced(complexity: Complexity) -> Classification:
    """The classification when the caller named the complexity."""
    return Classification(
        complexity, 0, (Signal(0, f"complexity '{complexity}' given by the caller"),), forced=True
    )


def profile(name: str, domains: Sequence[str] = (), priority: int = 2) -> AgentProfile:
    return AgentProfile(name, tuple(domains), priority)
