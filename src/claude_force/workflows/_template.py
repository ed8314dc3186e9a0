"""Step task templates: ``{task}``, ``{inputs}``, ``{output:STEP}``, ``{workflow}``, ``{step}``.

Hand-written rather than ``str.format``/``string.Template``: ``str.format`` evaluates attribute
and index lookups (``{task.__class__}``), and neither reports unknown names up front. Parsing
once at load lets validation name the bad placeholder before anything runs. ``{{`` and ``}}``
are literal braces.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

SIMPLE_NAMES = frozenset({"task", "inputs", "workflow", "step"})
_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")


class TemplateError(ValueError):
    """A malformed template; the message says what to write instead."""


@dataclass(frozen=True, slots=True)
class Placeholder:
    name: str  # one of SIMPLE_NAMES or "output"
    step: str | None = None  # for {output:STEP}


Part = str | Placeholder


def parse(template: str) -> tuple[Part, ...]:
    """Split ``template`` into literal text and placeholders; raise :class:`TemplateError`."""
    parts: list[Part] = []
    pos = 0
    for m in _TOKEN.finditer(template):
        if m.start() > pos:
            parts.append(template[pos : m.start()])
        token = m.group(0)
        if token in ("{{", "}}"):
            parts.append(token[0])
        elif token in ("{", "}"):
            raise TemplateError(
                f"unmatched '{token}' at character {m.start() + 1}; "
                f"write '{token * 2}' for a literal brace"
            )
        else:
            parts.append(_placeholder(m.group(1).strip()))
        pos = m.end()
    if pos < len(template):
        parts.append(template[pos:])
    return tuple(parts)


def _placeholder(body: str) -> Placeholder:
    if body in SIMPLE_NAMES:
        return Placeholder(body)
    if body.startswith("output:"):
        step = body[len("output:") :].strip()
        if step:
            return Placeholder("output", step)
    known = ", ".join("{" + n + "}" for n in sorted(SIMPLE_NAMES)) + ", {output:STEP}"
    raise TemplateError(f"unknown placeholder '{{{body}}}'; known: {known}")


def referenced_steps(parts: tuple[Part, ...]) -> list[str]:
    """The step ids named by ``{output:STEP}``, in order, without repeats."""
    seen: list[str] = []
    for p in parts:
        if isinstance(p, Placeholder) and p.step is not None and p.step not in seen:
            seen.append(p.step)
    return seen


def uses_inputs(parts: tuple[Part, ...]) -> bool:
    return any(isinstance(p, Placeholder) and p.name == "inputs" for p in parts)


def render(
    parts: tuple[Part, ...],
    *,
    task: str,
    inputs: str,
    outputs: Mapping[str, str],
    workflow: str,
    step: str,
) -> str:
    """Fill the placeholders (values are inserted verbatim, never re-parsed)."""
    out: list[str] = []
    for p in parts:
        if isinstance(p, str):
            out.append(p)
        elif p.name == "output":
            out.append(outputs.get(p.step or "", ""))
        else:
            out.append({"task": task, "inputs": inputs, "workflow": workflow, "step": step}[p.name])
    return "".join(out)
