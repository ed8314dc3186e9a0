"""How dependencies' outputs are put to a dependent step: labelled, within a size budget.

The budget counts characters of the outputs themselves (about four per token). When the outputs
together exceed it, the space is shared fairly (max-min): short outputs are kept whole and the
rest split what remains, each cut at the end with a marker that says how much was cut.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Upstream:
    """A finished dependency as its dependent sees it."""

    step_id: str
    agent: str
    ok: bool
    text: str  # the output, or the error when the step failed (on_failure: continue)


def shares(lengths: Sequence[int], budget: int) -> list[int]:
    """Max-min fair allocation of ``budget`` characters over items of the given lengths."""
    alloc = [0] * len(lengths)
    left = max(0, budget)
    todo = sorted(range(len(lengths)), key=lambda i: lengths[i])
    while todo:
        fair = left // len(todo)
        i = todo[0]
        if lengths[i] <= fair:
            alloc[i] = lengths[i]
            left -= lengths[i]
            todo.pop(0)
            continue
        # every remaining item is longer than the fair share: split what is left
        for k, j in enumerate(todo):
            alloc[j] = fair + (1 if k < left - fair * len(todo) else 0)
        break
    return alloc


def cut(text: str, keep: int) -> str:
    if len(text) <= keep:
        return text
    return f"{text[:keep].rstrip()}\n\n[… {len(text) - keep:,} more characters cut to fit the context budget]"


def fit(items: Sequence[Upstream], budget: int) -> list[str]:
    """Each item's text, cut so that together they stay within ``budget`` characters."""
    alloc = shares([len(u.text) for u in items], budget)
    return [cut(u.text, k) for u, k in zip(items, alloc, strict=True)]


def label(u: Upstream) -> str:
    if u.ok:
        return f"## Output of step '{u.step_id}' (agent {u.agent})"
    return f"## Step '{u.step_id}' (agent {u.agent}) FAILED — its error"


def inputs_block(items: Sequence[Upstream], budget: int) -> str:
    """The labelled outputs of ``items`` as one markdown block ('' when there are none)."""
    if not items:
        return ""
    texts = fit(items, budget)
    body = "\n\n".join(f"{label(u)}\n\n{t}" for u, t in zip(items, texts, strict=True))
    return f"# Inputs from earlier steps\n\n{body}"
