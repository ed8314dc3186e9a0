"""Redact credentials from text before a session is stored.

Hand-written rather than a library: the scanners that exist (detect-secrets, trufflehog) find
secrets line by line in files to report them, with entropy heuristics and plugin machinery we
do not need; here a session's text is rewritten in memory with a short, reviewable list of
patterns for the credential formats that end up in prompts and answers. Over-redacting a value
that merely looks like a secret is the accepted trade-off.

Each match becomes ``[REDACTED:<kind>]``. For ``key: value`` forms (a bearer header, a password
assignment, a URL's password) the name stays and only the value is replaced, so the stored text
still reads sensibly.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# (kind, pattern, group to replace — 0 for the whole match). Order matters: specific formats
# first, so a GitHub token in ``token=ghp_…`` is reported as github-token, not as an assignment.
_PATTERNS: tuple[tuple[str, re.Pattern[str], int], ...] = (
    (
        "private-key",
        re.compile(
            r"-----BEGIN ((?:[A-Z0-9]+ )*)PRIVATE KEY(?: BLOCK)?-----"
            r"(?:.*?-----END \1PRIVATE KEY(?: BLOCK)?-----|.*\Z)",
            re.DOTALL,
        ),
        0,
    ),
    ("anthropic-key", re.compile(r"\bsk-ant-[A-Za-z0-9_\-]{16,}"), 0),
    ("openai-key", re.compile(r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}"), 0),
    ("stripe-key", re.compile(r"\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}"), 0),
    ("aws-access-key", re.compile(r"\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b"), 0),
    (
        "aws-secret-key",
        re.compile(
            r"(?i)\baws_?secret_?(?:access_?)?key\b[\"']?\s*[:=]\s*[\"']?([A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])"
        ),
        1,
    ),
    (
        "github-token",
        re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})"),
        0,
    ),
    ("gitlab-token", re.compile(r"\bglpat-[A-Za-z0-9_\-]{20,}"), 0),
    ("slack-token", re.compile(r"\bxox[abposr]-[A-Za-z0-9\-]{10,}"), 0),
    (
        "slack-webhook",
        re.compile(r"https://hooks\.slack\.com/services/[A-Za-z0-9_/]+"),
        0,
    ),
    ("google-api-key", re.compile(r"\bAIza[0-9A-Za-z_\-]{35}"), 0),
    (
        "jwt",
        re.compile(r"\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"),
        0,
    ),
    (
        "bearer-token",
        re.compile(r"(?i)\bbearer\s+([A-Za-z0-9\-._~+/]{12,}=*)"),
        1,
    ),
    (
        "authorization",
        re.compile(
            r"(?i)\bauthorization\s*[:=]\s*(?:basic|token|digest)\s+([A-Za-z0-9\-._~+/]{8,}=*)"
        ),
        1,
    ),
    (
        "url-password",
        re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s/:@]+:([^\s/@]+)@"),
        1,
    ),
    (
        "secret-assignment",
        re.compile(
            r"(?i)\b(?:api[_\-]?key|apikey|secret(?:[_\-]?key)?|client[_\-]?secret|password|passwd"
            r"|pwd|access[_\-]?token|auth[_\-]?token|refresh[_\-]?token|private[_\-]?key)\b"
            r"[\"']?\s*[:=]\s*[\"']?([^\s\"',;]{8,})"
        ),
        1,
    ),
)

KINDS: tuple[str, ...] = tuple(kind for kind, _, _ in _PATTERNS)

# A pattern runs only when one of its lower-case trigger strings occurs in the text: most text
# holds no secret, and a substring test is far cheaper than a regex scan (a 10× faster store).
_TRIGGERS: dict[str, tuple[str, ...]] = {
    "private-key": ("private key",),
    "anthropic-key": ("sk-ant-",),
    "openai-key": ("sk-",),
    "stripe-key": ("k_live_", "k_test_"),
    "aws-access-key": ("akia", "asia", "abia", "acca"),
    "aws-secret-key": ("aws",),
    "github-token": ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
    "gitlab-token": ("glpat-",),
    "slack-token": ("xox",),
    "slack-webhook": ("hooks.slack.com",),
    "google-api-key": ("aiza",),
    "jwt": ("eyj",),
    "bearer-token": ("bearer",),
    "authorization": ("authorization",),
    "url-password": ("://",),
    "secret-assignment": ("key", "secret", "passw", "pwd", "token"),
}
assert set(_TRIGGERS) == set(KINDS)
# A second pre-check for the assignment pattern, whose triggers are everyday words ("secret",
# "key", "token": "Secrets could reach logs…" triggers it): the name of a secret, then at most a
# quote and spaces, then ``:`` or ``=``. Searched in the lower-cased text (~4 µs for a
# 700-character answer; the pattern ~24 µs). It never skips a match: every name the pattern
# accepts, lower-cased, is one of these words followed by letters, ``_`` or ``-``; and what the
# patterns before it put in the text ("[REDACTED:…]") cannot end such a name or precede ``:``.
_ASSIGNMENT_GATE = re.compile(r"(?:key|secret|passw|pwd|token)[a-z_\-]*[\"']?\s*[:=]")
# The four characters that a case-insensitive pattern matches as an ASCII letter although
# ``str.lower`` does not make them that letter (``re`` folds them, see ``re._casefix``): without
# this, "paſſword=…" would be matched by its pattern but never reach it.
_FOLD = str.maketrans({"\u0130": "i", "\u0131": "i", "\u017f": "s", "\u212a": "k"})
_FOLDED = ("\u0130", "\u0131", "\u017f", "\u212a")
# (trigger, kind), flat: one pass of substring tests finds every kind to run (no generator per
# kind: on a short text that set-up cost more than the tests themselves)
_PAIRS: tuple[tuple[str, str], ...] = tuple((t, kind) for kind in KINDS for t in _TRIGGERS[kind])


def marker(kind: str) -> str:
    return f"[REDACTED:{kind}]"


@dataclass(frozen=True, slots=True)
class Redacted:
    """Redacted text and how many secrets of each kind were removed."""

    text: str
    counts: Mapping[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def _folds(text: str) -> bool:
    """Whether ``text`` holds one of the four characters ``_FOLD`` changes. Tested first: most
    non-ASCII text (an em dash, a quote mark) holds none, and four substring tests are ~50×
    cheaper than ``str.translate`` with a mapping (a Python-level lookup per character: ~40 µs
    for a 700-character answer, more than the rest of the redaction)."""
    return any(c in text for c in _FOLDED)


def redact(text: str) -> Redacted:
    """``text`` with every credential pattern replaced by ``[REDACTED:<kind>]``."""
    lower = text.lower() if text.isascii() or not _folds(text) else text.translate(_FOLD).lower()
    triggered = {kind for t, kind in _PAIRS if t in lower}
    if "secret-assignment" in triggered and _ASSIGNMENT_GATE.search(lower) is None:
        triggered.discard("secret-assignment")
    if not triggered:
        return Redacted(text, {})  # no pattern can match: none of their triggers occurs
    counts: Counter[str] = Counter()
    for kind, pattern, group in _PATTERNS:
        if kind not in triggered:
            continue

        def sub(m: re.Match[str], kind: str = kind, group: int = group) -> str:
            value = m.group(group)
            if value.startswith("[REDACTED:"):
                return m.group(0)  # already replaced by a more specific pattern
            counts[kind] += 1
            if group == 0:
                return marker(kind)
            start, end = m.span(group)
            base = m.start()
            whole = m.group(0)
            return whole[: start - base] + marker(kind) + whole[end - base :]

        text = pattern.sub(sub, text)
    return Redacted(text, dict(counts))


def redact_value(value: Any, counts: Counter[str]) -> Any:
    """Redact every string inside a JSON-like value (dicts, lists, strings), adding to ``counts``."""
    if isinstance(value, str):
        r = redact(value)
        if r.counts:
            counts.update(r.counts)
        return r.text
    if isinstance(value, dict | Mapping):  # a dict first: the ABC check is the slow one
        return {str(k): redact_value(v, counts) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(v, counts) for v in value]
    return value
