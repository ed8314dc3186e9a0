"""Turn relevant past sessions into the context block injected before a task (pure).

The block is deterministic — absolute UTC dates, no "3 days ago" — so the same sessions give the
same text, the same request, and the response cache can answer it. Its size is held within a
token budget, estimated at four characters per token (the tokenizer of Claude models is not
available offline; the estimate errs on the generous side for English and code).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from .records import Hit, Session

HEADER = (
    "# Relevant past sessions\n\n"
    "Earlier runs of this agent on similar tasks, most relevant first. Use them as background "
    "only; answer the task that follows."
)
TASK_CHARS = 400
"""A past task is shown up to this many characters."""
MIN_SUMMARY_CHARS = 120
"""A session is left out rather than shown with less than this much of its outcome."""
ELLIPSIS = " […]"


def approx_tokens(text: str) -> int:
    """Estimated tokens of ``text``: about four characters each, at least one for any text."""
    return (len(text) + 3) // 4


def task_digest(task: str) -> str:
    """A key for "the same task": whitespace and case do not count."""
    return hashlib.sha256(" ".join(task.lower().split()).encode("utf-8")).hexdigest()


def select(hits: Iterable[Hit], task: str, max_sessions: int) -> list[Session]:
    """The sessions to show: best first, without the very task being run (the response cache
    answers a repeated request; showing it would change the request on every repeat) and
    without repeats of one task (only its best-ranked run)."""
    current = task_digest(task)
    seen = {current}
    chosen: list[Session] = []
    for hit in hits:
        digest = task_digest(hit.session.task)
        if digest in seen:
            continue
        seen.add(digest)
        chosen.append(hit.session)
        if len(chosen) >= max_sessions:
            break
    return chosen


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split()) if "\n" not in text else text.strip()
    if len(text) <= limit:
        return text
    cut = text[: max(0, limit - len(ELLIPSIS))]
    space = cut.rfind(" ")
    if space > len(cut) * 0.6:
        cut = cut[:space]
    return cut.rstrip() + ELLIPSIS


def _entry(n: int, s: Session, summary: str) -> str:
    when = s.created_at.strftime("%Y-%m-%d")
    head = f"## {n}. {when} · {s.model}" + (f" · workflow {s.workflow}" if s.workflow else "")
    return f"{head}\n\nTask: {_clip(s.task, TASK_CHARS)}\n\nOutcome: {summary}"


def build_context(sessions: Sequence[Session], token_budget: int) -> str:
    """The context block for ``sessions`` within ``token_budget`` tokens; ``""`` when nothing
    fits (then no context is injected at all)."""
    return build_context_with_ids(sessions, token_budget)[0]


def build_context_with_ids(
    sessions: Sequence[Session], token_budget: int
) -> tuple[str, tuple[str, ...]]:
    """:func:`build_context` and the ids of the sessions the block shows (the response cache
    records them with an answer produced with this context)."""
    if not sessions or token_budget <= 0:
        return "", ()
    parts = [HEADER]
    used = approx_tokens(HEADER)
    for n, s in enumerate(sessions, 1):
        remaining_chars = (token_budget - used) * 4 - 2  # the blank line joining the parts
        full = _entry(n, s, s.summary.strip())
        if len(full) <= remaining_chars:
            parts.append(full)
            used = approx_tokens("\n\n".join(parts))
            continue
        frame = len(_entry(n, s, ""))
        room = remaining_chars - frame
        if room >= MIN_SUMMARY_CHARS:
            parts.append(_entry(n, s, _clip(s.summary, room)))
        break
    if len(parts) == 1:
        return "", ()
    text = "\n\n".join(parts)
    assert approx_tokens(text) <= token_budget
    return text, tuple(s.id for s in sessions[: len(parts) - 1])
