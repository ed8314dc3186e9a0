"""What an agent is "about", as text: the views of its definition that tasks are compared with.

Pure: the caller reads the files. A view is one short text (the model reads at most 256 tokens):
the agent's name and description, its domains, the role paragraph and each "When to Use" bullet
of its markdown definition — the bullets read like the tasks users give, which is what a task is
compared with. A profile's fingerprint changes whenever any of its text changes, which is how
cached vectors are invalidated.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

_HEADING = re.compile(r"^#{1,6}\s+(.*)$")
_BULLET = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+(.*)$")
USE_SECTIONS = ("when to use", "use when", "use cases", "responsibilities", "capabilities")
ROLE_SECTIONS = ("role", "purpose", "expertise", "specialization", "overview")
MAX_VIEWS = 16
MAX_VIEW_CHARS = 600


@dataclass(frozen=True, slots=True)
class AgentProfile:
    name: str
    description: str
    domains: tuple[str, ...]
    priority: int
    views: tuple[str, ...]

    @property
    def document(self) -> str:
        """All views as one text (what BM25 indexes)."""
        return "\n".join(self.views)

    def fingerprint(self, model: str) -> str:
        h = hashlib.sha256(model.encode())
        for view in self.views:
            h.update(b"\0" + view.encode())
        return h.hexdigest()


def _sections(markdown: str) -> dict[str, list[str]]:
    sections: dict[str, list[str]] = {"": []}
    current = ""
    for line in markdown.splitlines():
        m = _HEADING.match(line)
        if m:
            current = m.group(1).strip().lower()
            sections.setdefault(current, [])
        else:
            sections[current].append(line)
    return sections


def _paragraph(lines: list[str]) -> str:
    return " ".join(" ".join(line.split()) for line in lines if line.strip())


def _bullets(lines: list[str]) -> list[str]:
    items: list[str] = []
    for line in lines:
        m = _BULLET.match(line)
        if m:
            items.append(m.group(1).strip())
        elif line.strip() and items and line.startswith((" ", "\t")):
            items[-1] += " " + line.strip()  # a wrapped bullet
    return [re.sub(r"[*_`]", "", item) for item in items]


def humanize(name: str) -> str:
    return name.replace("-", " ").replace("_", " ")


def build_profile(
    name: str,
    definition: str,
    *,
    description: str | None = None,
    domains: list[str] | tuple[str, ...] = (),
    priority: int = 2,
) -> AgentProfile:
    sections = _sections(definition)
    views: list[str] = []
    head = humanize(name)
    views.append(f"{head}: {description}" if description else head)
    if domains:
        views.append(f"{head} works on " + ", ".join(humanize(d) for d in domains))
    role = next((_paragraph(sections[s]) for s in ROLE_SECTIONS if sections.get(s)), "")
    if not role:  # no recognised heading: the text before the first section, or the start
        role = _paragraph(sections[""]) or _paragraph(definition.splitlines()[:12])
    if role:
        views.append(role[:MAX_VIEW_CHARS])
    for section in USE_SECTIONS:
        views.extend(b[:MAX_VIEW_CHARS] for b in _bullets(sections.get(section, [])))
    unique = list(dict.fromkeys(v for v in views if v.strip()))
    return AgentProfile(
        name=name,
        description=description or "",
        domains=tuple(domains),
        priority=priority,
        views=tuple(unique[:MAX_VIEWS]),
    )
