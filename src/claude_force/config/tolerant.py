"""Tolerant loading: a project loads when its own file does; a broken agent or workflow is set aside.

claude-force 2.2 projects accumulate stale entries — a workflow naming an agent that was removed,
a workflow with a dependency cycle, an agent whose file moved. Such an entry must not lock the
whole project. Each agent and each workflow is validated on its own; one that fails becomes a
:class:`Problem`: reported once as a :class:`DefinitionWarning` (file, line, key, what is wrong,
the fix), left out of the project's settings, and raised when it is *used* (looked up by name, run,
or part of a workflow that runs). ``claude-force validate`` lists them all and exits 2.

What stays fatal: a ``claude.json`` that does not parse, a section other than ``agents`` and
``workflows`` that is malformed, and project-wide settings such as ``models.default``.
"""

from __future__ import annotations

import warnings
from collections.abc import Collection, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ..errors import ConfigurationError, UnknownAgentError
from ._jsonpos import line_of
from .loader import ConfigWarning, may_hold_non_finite, non_finite, validate

if TYPE_CHECKING:
    from .project import Project
    from .schema import ProjectSettings

Kind = Literal["agent", "workflow"]


class DefinitionWarning(ConfigWarning):
    """An agent or workflow that cannot be used until fixed (the rest of the project works)."""


@dataclass(frozen=True, slots=True)
class Problem:
    """An agent or workflow set aside, and the configuration error that says why."""

    kind: Kind
    name: str
    error: ConfigurationError
    because: str | None = None  # the broken agent that makes this workflow unusable

    def to_dict(self) -> dict[str, Any]:
        e = self.error
        return {
            "kind": self.kind,
            "name": self.name,
            "file": str(e.file) if e.file is not None else None,
            "line": e.line,
            "key": e.key,
            "error": bare_message(e),
            "fix": e.hint,
            "message": e.one_line(),
            "type": type(e).__name__,
        }


def _quiet_validate(data: dict[str, Any], text: str, path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # unknown keys are reported once, by the full validation
        validate(data, text, path)


def _suspects(section: str, entries: dict[str, Any], text: str) -> set[str] | None:
    """The entries of a section that may fail on their own, found with ONE validation of the whole
    section (the common case: none). ``None`` when an error cannot be pinned to an entry.

    Validating each entry on its own builds a whole ``ProjectSettings`` per entry: 0.45 ms each,
    9 s for a project of 20,000 agents. Only the suspects are validated one by one (for their own
    first error, file, key and line)."""
    from pydantic import ValidationError

    from .schema import ProjectSettings

    doc: dict[str, Any] = {"agents": {}, section: entries}
    found: set[str] = set()
    if not text or may_hold_non_finite(text):
        found = {str(name) for name, entry in entries.items() if non_finite(entry) is not None}
    try:
        ProjectSettings.model_validate(doc)
    except ValidationError as exc:
        for err in exc.errors():
            loc = err["loc"]
            if len(loc) < 2 or loc[0] != section or not isinstance(loc[1], str):
                return None
            found.add(loc[1])
    return found


def split_entries(
    data: dict[str, Any], text: str, path: Path
) -> tuple[dict[str, Any], list[Problem]]:
    """Validate each ``agents`` and ``workflows`` entry on its own; drop the ones that fail.

    Returns the data without them (for the full validation) and their problems. A section that
    is not an object is left for the full validation to report (that is fatal).
    """
    problems: list[Problem] = []
    out = dict(data)
    sections: tuple[tuple[str, Kind], ...] = (("agents", "agent"), ("workflows", "workflow"))
    for section, kind in sections:
        entries = data.get(section)
        if not isinstance(entries, dict):
            continue
        kept: dict[str, Any] = {}
        suspects = _suspects(section, entries, text)
        for name, entry in entries.items():
            if suspects is not None and name not in suspects:
                kept[name] = entry
                continue
            doc: dict[str, Any] = {"agents": {}, section: {name: entry}}
            try:
                _quiet_validate(doc, text, path)
            except ConfigurationError as exc:
                problems.append(Problem(kind, name, exc))
                continue
            kept[name] = entry
        out[section] = kept
    return out, problems


def agent_problem(name: str, exc: ConfigurationError) -> Problem:
    return Problem("agent", name, exc)


def workflow_problems(
    project: Project, names: Iterable[str], broken_agents: Collection[str]
) -> list[Problem]:
    """Check each workflow against the usable agents: unknown or broken agents, cycles, templates."""
    from ..workflows.dag import WorkflowDAG
    from ..workflows.spec import WorkflowSpec
    from .project import suggest

    problems: list[Problem] = []
    usable = [a for a in project.settings.agents if a not in broken_agents]
    for wf in names:
        entry = project.settings.workflows[wf]
        agents = [s.agent for s in entry.steps] if isinstance(entry, WorkflowSpec) else list(entry)
        broken = next(((i, a) for i, a in enumerate(agents) if a in broken_agents), None)
        if broken is not None:
            i, agent = broken
            where: list[str | int] = ["workflows", wf, i]
            if isinstance(entry, WorkflowSpec):
                where = ["workflows", wf, "steps", i, "agent"]
            problems.append(
                Problem(
                    "workflow",
                    wf,
                    ConfigurationError(
                        f"workflow '{wf}' step {i + 1} uses agent '{agent}', which cannot be used",
                        file=project.config_path,
                        key=f"workflows.{wf}",
                        line=line_of(project.text, where) if project.text else None,
                        hint=f"fix agent '{agent}' first (see its own problem), or remove the step",
                    ),
                    because=agent,
                )
            )
            continue
        unknown = next(
            ((i, a) for i, a in enumerate(agents) if a not in project.settings.agents), None
        )
        if unknown is not None and not isinstance(entry, WorkflowSpec):
            i, agent = unknown
            problems.append(
                Problem(
                    "workflow",
                    wf,
                    UnknownAgentError(
                        f"workflow '{wf}' step {i + 1} names unknown agent '{agent}'",
                        file=project.config_path,
                        key=f"workflows.{wf}",
                        line=line_of(project.text, ["workflows", wf, i]) if project.text else None,
                        hint=f"{suggest(agent, usable)}; define the agent or remove the step",
                    ),
                )
            )
            continue
        try:
            dag = WorkflowDAG.from_config(wf, entry, file=project.config_path, text=project.text)
            dag.validate(usable)
        except ConfigurationError as exc:
            if exc.line is None and project.text:  # e.g. a cycle: point at the workflow itself
                _locate(exc, line_of(project.text, ["workflows", wf]))
            problems.append(Problem("workflow", wf, exc))
    return problems


_announced: set[tuple[str, str, str, str]] = set()
_quiet: ContextVar[bool] = ContextVar("claude_force_definitions_quiet", default=False)


@contextmanager
def quietly() -> Iterator[None]:
    """Load without the warnings (for commands that list the problems themselves); they are
    still reported by the next load that is not quiet."""
    token = _quiet.set(True)
    try:
        yield
    finally:
        _quiet.reset(token)


def _locate(exc: ConfigurationError, line: int | None) -> None:
    """Give ``exc`` the line it lacks. Re-running the initialiser rebuilds its message with the
    location, and keeps its class (``WorkflowCycleError`` …) and extra attributes (``cycle``)."""
    if line is None or exc.line is not None:
        return
    ConfigurationError.__init__(
        exc, bare_message(exc), file=exc.file, key=exc.key, line=line, hint=exc.hint
    )


def bare_message(exc: ConfigurationError) -> str:
    """What is wrong, without the ``file:line: key:`` prefix the message starts with."""
    message = exc.message
    where = str(exc.file) + (f":{exc.line}" if exc.line is not None else "")
    for prefix in (f"{where}: " if exc.file else "", f"{exc.key}: " if exc.key else ""):
        message = message.removeprefix(prefix)
    return message


def announce(problems: Iterable[Problem]) -> None:
    """One warning per problem and process (a project is often loaded more than once per
    command, and ``warnings.catch_warnings`` elsewhere resets Python's own de-duplication)."""
    if _quiet.get():
        return
    problems = list(problems)
    for p in problems:
        if p.because is not None:
            continue  # said once, with the agent that breaks it
        seen = (str(p.error.file), p.kind, p.name, p.error.one_line())
        if seen in _announced:
            continue
        _announced.add(seen)
        blocked = [q.name for q in problems if q.because == p.name]
        also = f" (so are the workflows using it: {', '.join(blocked)})" if blocked else ""
        warnings.warn(
            f"{p.kind} '{p.name}' cannot be used until fixed{also}: {p.error.one_line()}",
            DefinitionWarning,
            stacklevel=2,
        )


def without(settings: ProjectSettings, problems: Iterable[Problem]) -> ProjectSettings:
    """``settings`` without the agents and workflows that have a problem."""
    agents = {p.name for p in problems if p.kind == "agent"}
    workflows = {p.name for p in problems if p.kind == "workflow"}
    update: dict[str, Any] = {}
    if agents & set(settings.agents):
        update["agents"] = {k: v for k, v in settings.agents.items() if k not in agents}
    if workflows & set(settings.workflows):
        update["workflows"] = {k: v for k, v in settings.workflows.items() if k not in workflows}
    pinned = settings.models.agents
    if agents & set(pinned):
        kept = {k: v for k, v in pinned.items() if k not in agents}
        update["models"] = settings.models.model_copy(update={"agents": kept})
    return settings.model_copy(update=update) if update else settings
