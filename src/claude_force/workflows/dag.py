"""``WorkflowDAG``: a workflow as a graph of steps, with validation (pure: no I/O).

Build one in Python::

    dag = WorkflowDAG("review")
    for agent in ("python-expert", "code-reviewer", "security-specialist"):
        dag.add_step(agent, agent)
    dag.add_step("summary", "document-writer",
                 depends_on=["python-expert", "code-reviewer", "security-specialist"])

or load it from ``claude.json`` (:meth:`WorkflowDAG.from_config`). Edges read "depends on":
in a cycle message ``a → b → a``, ``a`` depends on ``b`` and ``b`` on ``a``.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar, get_args

from ..config._jsonpos import line_of
from ..config.project import suggest
from ..errors import ConfigurationError, UnknownAgentError, WorkflowCycleError
from . import _template
from .errors import WorkflowDefinitionError
from .spec import DEFAULT_CONTEXT_BUDGET_CHARS, OnFailure, WorkflowSpec

ON_FAILURE_VALUES: tuple[str, ...] = get_args(OnFailure)
E = TypeVar("E", bound=ConfigurationError)


@dataclass(frozen=True, slots=True)
class Step:
    """One step: run ``agent``; start once every step in ``depends_on`` is done."""

    id: str
    agent: str
    depends_on: tuple[str, ...] = ()
    task: str | None = None  # template; None: the workflow task, dependencies' outputs as context
    model: str | None = None
    max_tokens: int | None = None
    timeout_seconds: float | None = None
    on_failure: OnFailure | None = None  # None: the workflow's policy
    context_budget_chars: int | None = None  # None: the workflow's budget
    template: tuple[_template.Part, ...] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class _Source:
    """Where a DAG came from, to point errors at the file, key and line."""

    file: Path | None = None
    text: str = ""
    prefix: tuple[str | int, ...] = ()

    def key(self, *path: str | int) -> str | None:
        return ".".join(str(p) for p in (*self.prefix, *path)) or None

    def error(self, cls: type[E], message: str, *path: str | int, hint: str | None = None) -> E:
        """An error of type ``cls`` pointing at ``path`` below the workflow's key."""
        full = (*self.prefix, *path)
        line = line_of(self.text, full) if self.text and full else None
        return cls(message, file=self.file, key=self.key(*path), line=line, hint=hint)


class WorkflowDAG:
    """A named graph of :class:`Step` objects, kept in definition order."""

    def __init__(
        self,
        name: str = "workflow",
        steps: Iterable[Step] = (),
        *,
        description: str | None = None,
        on_failure: OnFailure = "fail",
        max_concurrent: int | None = None,
        timeout_seconds: float | None = None,
        context_budget_chars: int = DEFAULT_CONTEXT_BUDGET_CHARS,
        chain: bool = False,
    ) -> None:
        if on_failure not in ON_FAILURE_VALUES:
            raise WorkflowDefinitionError(
                f"on_failure must be one of {', '.join(ON_FAILURE_VALUES)}, got {on_failure!r}"
            )
        self.name = name
        self.description = description
        self.on_failure: OnFailure = on_failure
        self.max_concurrent = max_concurrent
        self.timeout_seconds = timeout_seconds
        self.context_budget_chars = context_budget_chars
        self.chain = chain
        self._steps: dict[str, Step] = {}
        self._source = _Source()
        for step in steps:
            self._add(step)

    # --- building --------------------------------------------------------------------------------

    def add_step(
        self,
        id: str,
        agent: str,
        depends_on: Iterable[str] = (),
        *,
        task: str | None = None,
        model: str | None = None,
        max_tokens: int | None = None,
        timeout_seconds: float | None = None,
        on_failure: OnFailure | None = None,
        context_budget_chars: int | None = None,
    ) -> Step:
        """Add a step (its dependencies may be added later); returns it."""
        step = Step(
            id,
            agent,
            tuple(depends_on),
            task,
            model,
            max_tokens,
            timeout_seconds,
            on_failure,
            context_budget_chars,
        )
        return self._add(step)

    def _add(self, step: Step, where: Sequence[str | int] = ()) -> Step:
        src = self._source
        if not step.id:
            raise src.error(WorkflowDefinitionError, "a step needs a non-empty id", *where)
        if step.id in self._steps:
            raise src.error(
                WorkflowDefinitionError,
                f"workflow '{self.name}' has two steps with id '{step.id}'",
                *where,
                hint="give each step a distinct 'id' (the id defaults to the agent name)",
            )
        if step.on_failure is not None and step.on_failure not in ON_FAILURE_VALUES:
            raise src.error(
                WorkflowDefinitionError,
                f"step '{step.id}': on_failure must be one of {', '.join(ON_FAILURE_VALUES)}",
                *where,
            )
        deps = tuple(dict.fromkeys(step.depends_on))  # drop repeats, keep order
        template = None
        if step.task is not None:
            try:
                template = _template.parse(step.task)
            except _template.TemplateError as exc:
                raise src.error(
                    WorkflowDefinitionError,
                    f"step '{step.id}': task template: {exc}",
                    *((*where, "task") if where else ()),
                ) from None
        step = Step(
            step.id,
            step.agent,
            deps,
            step.task,
            step.model,
            step.max_tokens,
            step.timeout_seconds,
            step.on_failure,
            step.context_budget_chars,
            template,
        )
        self._steps[step.id] = step
        return step

    @classmethod
    def from_chain(cls, name: str, agents: Sequence[str]) -> WorkflowDAG:
        """The list form: an ordered chain where each step depends on the one before it.

        Step ids are the agent names; an agent that appears again gets ``NAME#2``, ``NAME#3``…
        """
        dag = cls(name, chain=True)
        seen: dict[str, int] = {}
        previous: str | None = None
        for agent in agents:
            seen[agent] = seen.get(agent, 0) + 1
            step_id = agent if seen[agent] == 1 else f"{agent}#{seen[agent]}"
            dag.add_step(step_id, agent, () if previous is None else (previous,))
            previous = step_id
        return dag

    @classmethod
    def from_spec(
        cls,
        name: str,
        spec: WorkflowSpec,
        *,
        file: Path | str | None = None,
        text: str = "",
    ) -> WorkflowDAG:
        """The DAG form from ``claude.json``; errors point at ``workflows.NAME.steps.N``."""
        dag = cls(
            name,
            description=spec.description,
            on_failure=spec.on_failure,
            max_concurrent=spec.max_concurrent,
            timeout_seconds=spec.timeout_seconds,
            context_budget_chars=spec.context_budget_chars,
        )
        dag._source = _Source(Path(file) if file is not None else None, text, ("workflows", name))
        for i, s in enumerate(spec.steps):
            dag._add(
                Step(
                    s.step_id,
                    s.agent,
                    tuple(s.depends_on),
                    s.task,
                    s.model,
                    s.max_tokens,
                    s.timeout_seconds,
                    s.on_failure,
                    s.context_budget_chars,
                ),
                ("steps", i),
            )
        return dag

    @classmethod
    def from_config(
        cls,
        name: str,
        entry: Sequence[str] | WorkflowSpec,
        *,
        file: Path | str | None = None,
        text: str = "",
    ) -> WorkflowDAG:
        """Either form of a ``workflows`` entry."""
        if isinstance(entry, WorkflowSpec):
            return cls.from_spec(name, entry, file=file, text=text)
        dag = cls.from_chain(name, list(entry))
        dag._source = _Source(Path(file) if file is not None else None, text, ("workflows", name))
        return dag

    # --- reading ---------------------------------------------------------------------------------

    @property
    def steps(self) -> tuple[Step, ...]:
        return tuple(self._steps.values())

    @property
    def ids(self) -> list[str]:
        return list(self._steps)

    def __len__(self) -> int:
        return len(self._steps)

    def __iter__(self) -> Iterator[Step]:
        return iter(self._steps.values())

    def __contains__(self, step_id: object) -> bool:
        return step_id in self._steps

    def step(self, step_id: str) -> Step:
        try:
            return self._steps[step_id]
        except KeyError:
            raise WorkflowDefinitionError(
                f"workflow '{self.name}' has no step '{step_id}'", hint=suggest(step_id, self.ids)
            ) from None

    def policy(self, step_id: str) -> OnFailure:
        """The step's ``on_failure``, or the workflow's."""
        return self._steps[step_id].on_failure or self.on_failure

    def budget(self, step_id: str) -> int:
        own = self._steps[step_id].context_budget_chars
        return self.context_budget_chars if own is None else own

    def dependents(self, step_id: str) -> list[str]:
        """Steps that depend directly on ``step_id``, in definition order."""
        return [s.id for s in self._steps.values() if step_id in s.depends_on]

    def ancestors(self, step_id: str) -> set[str]:
        """Every step that ``step_id`` depends on, directly or not."""
        return self._closure(step_id, lambda s: self._steps[s].depends_on)

    def descendants(self, step_id: str) -> set[str]:
        """Every step that depends on ``step_id``, directly or not."""
        children: dict[str, list[str]] = {s: [] for s in self._steps}
        for s in self._steps.values():
            for d in s.depends_on:
                if d in children:
                    children[d].append(s.id)
        return self._closure(step_id, lambda s: children[s])

    def _closure(self, start: str, nxt: Callable[[str], Iterable[str]]) -> set[str]:
        seen: set[str] = set()
        todo = [n for n in nxt(start) if n in self._steps]
        while todo:
            n = todo.pop()
            if n not in seen:
                seen.add(n)
                todo.extend(m for m in nxt(n) if m in self._steps)
        return seen

    # --- validation ------------------------------------------------------------------------------

    def validate(self, agents: Collection[str] | None = None) -> WorkflowDAG:
        """Raise a clear :class:`~claude_force.errors.ConfigurationError` for the first problem.

        Checks, in order: empty workflow; per step: unknown agent (when ``agents`` is given),
        self-dependency, unknown dependency; then cycles (the error names the cycle); then task
        templates whose ``{output:STEP}`` is not upstream of the step. Returns ``self``.
        """
        src = self._source
        if not self._steps:
            raise src.error(
                WorkflowDefinitionError,
                f"workflow '{self.name}' has no steps",
                hint="list at least one step",
            )
        for i, s in enumerate(self._steps.values()):
            if agents is not None and s.agent not in agents:
                raise src.error(
                    UnknownAgentError,
                    f"workflow '{self.name}' step '{s.id}' names unknown agent '{s.agent}'",
                    *self._at(i, "agent"),
                    hint=suggest(s.agent, list(agents)),
                )
            for d in s.depends_on:
                if d == s.id:
                    raise src.error(
                        WorkflowDefinitionError,
                        f"step '{s.id}' depends on itself",
                        *self._at(i, "depends_on"),
                        hint=f"remove '{d}' from its depends_on",
                    )
                if d not in self._steps:
                    raise src.error(
                        WorkflowDefinitionError,
                        f"step '{s.id}' depends on unknown step '{d}'",
                        *self._at(i, "depends_on"),
                        hint=suggest(d, self.ids),
                    )
        cycle = self.find_cycle()
        if cycle is not None:
            raise WorkflowCycleError(cycle, file=src.file, key=src.key())
        for i, s in enumerate(self._steps.values()):
            if s.template is None:
                continue
            upstream = self.ancestors(s.id)
            for ref in _template.referenced_steps(s.template):
                if ref not in upstream:
                    raise src.error(
                        WorkflowDefinitionError,
                        f"step '{s.id}': task template uses {{output:{ref}}} but '{ref}' is not "
                        "upstream of this step",
                        *self._at(i, "task"),
                        hint=f"add '{ref}' to depends_on"
                        if ref in self._steps
                        else suggest(ref, self.ids),
                    )
        return self

    def _at(self, index: int, name: str) -> tuple[str | int, ...]:
        """The JSON path of a step's field: ``steps.N.name``, or ``N`` in the list form."""
        return (index,) if self.chain else ("steps", index, name)

    def find_cycle(self) -> list[str] | None:
        """A dependency cycle as ``[a, b, …, a]`` (``a`` depends on ``b``…), or None.

        Iterative depth-first search with three colours; unknown dependencies are ignored. The
        cycle is rotated to start at its earliest-defined step so messages are stable.
        Hand-written rather than ``graphlib.TopologicalSorter``'s ``CycleError``: that one only
        appears after a full ``prepare()``, raises on unknown nodes we report separately, and
        gives no control over which cycle is named; the property tests check this against a
        transitive-closure oracle.
        """
        white, grey, black = 0, 1, 2
        colour = dict.fromkeys(self._steps, white)
        order = {s: i for i, s in enumerate(self._steps)}
        for root in self._steps:
            if colour[root] != white:
                continue
            stack: list[tuple[str, Iterator[str]]] = [(root, iter(self._steps[root].depends_on))]
            colour[root] = grey
            while stack:
                node, it = stack[-1]
                nxt = next((d for d in it if d in self._steps and colour[d] != black), None)
                if nxt is None:
                    colour[node] = black
                    stack.pop()
                elif colour[nxt] == grey:
                    path = [n for n, _ in stack]
                    cycle = path[path.index(nxt) :]
                    k = min(range(len(cycle)), key=lambda j: order[cycle[j]])
                    cycle = cycle[k:] + cycle[:k]
                    return [*cycle, cycle[0]]
                else:
                    colour[nxt] = grey
                    stack.append((nxt, iter(self._steps[nxt].depends_on)))
        return None

    # --- order and timing ------------------------------------------------------------------------

    def topological_order(self) -> list[str]:
        """Every step after its dependencies; among ready steps, definition order first.

        Raises :class:`~claude_force.errors.WorkflowCycleError` if there is a cycle.
        """
        index = {s: i for i, s in enumerate(self._steps)}
        waiting = {s.id: sum(1 for d in s.depends_on if d in self._steps) for s in self}
        children: dict[str, list[str]] = {s: [] for s in self._steps}
        for s in self._steps.values():
            for d in s.depends_on:
                if d in children:
                    children[d].append(s.id)
        heap = [index[s] for s, n in waiting.items() if n == 0]
        heapq.heapify(heap)
        ids = self.ids
        out: list[str] = []
        while heap:
            sid = ids[heapq.heappop(heap)]
            out.append(sid)
            for c in children[sid]:
                waiting[c] -= 1
                if waiting[c] == 0:
                    heapq.heappush(heap, index[c])
        if len(out) != len(self._steps):
            raise WorkflowCycleError(self.find_cycle() or [])
        return out

    def stages(self) -> list[list[str]]:
        """Steps grouped by depth (longest chain of dependencies before them): a display aid.

        The engine does not wait for a whole stage: each step starts when its own dependencies
        are done.
        """
        depth: dict[str, int] = {}
        for sid in self.topological_order():
            deps = [d for d in self._steps[sid].depends_on if d in self._steps]
            depth[sid] = 1 + max((depth[d] for d in deps), default=-1)
        out: list[list[str]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
        for sid in self._steps:
            out[depth[sid]].append(sid)
        return out

    def critical_path(self, durations: Mapping[str, float]) -> tuple[list[str], float]:
        """The chain of dependent steps with the largest total duration, and that total.

        Steps missing from ``durations`` count as zero. Ties go to the earlier-defined step.
        """
        best: dict[str, tuple[float, str | None]] = {}
        for sid in self.topological_order():
            deps = [d for d in self._steps[sid].depends_on if d in self._steps]
            prev: str | None = None
            base = 0.0
            for d in deps:
                if prev is None or best[d][0] > base:
                    prev, base = d, best[d][0]
            best[sid] = (base + max(0.0, durations.get(sid, 0.0)), prev)
        if not best:
            return [], 0.0
        index = {s: i for i, s in enumerate(self._steps)}
        end = max(self._steps, key=lambda s: (best[s][0], -index[s]))
        path: list[str] = []
        node: str | None = end
        while node is not None:
            path.append(node)
            node = best[node][1]
        return path[::-1], best[end][0]

    # --- rendering -------------------------------------------------------------------------------

    def to_text(self) -> str:
        """The graph as plain text: stages, then each step with what it waits for."""
        lines = [f"workflow {self.name}" + (f" — {self.description}" if self.description else "")]
        for n, stage in enumerate(self.stages(), 1):
            par = " (in parallel)" if len(stage) > 1 else ""
            lines.append(f"  stage {n}{par}:")
            for sid in stage:
                s = self._steps[sid]
                after = f"  ← {', '.join(s.depends_on)}" if s.depends_on else ""
                policy = f"  [on_failure: {s.on_failure}]" if s.on_failure else ""
                who = sid if sid == s.agent else f"{sid} ({s.agent})"
                lines.append(f"    {who}{after}{policy}")
        return "\n".join(lines)

    def to_mermaid(self) -> str:
        """The graph as a Mermaid flowchart (arrows point from a step to its dependents)."""
        node = {sid: f"s{i}" for i, sid in enumerate(self._steps)}
        lines = ["flowchart TD"]
        for s in self._steps.values():
            label = s.id if s.id == s.agent else f"{s.id}<br/><small>{s.agent}</small>"
            lines.append(f'    {node[s.id]}["{_mermaid_escape(label)}"]')
        for s in self._steps.values():
            for d in s.depends_on:
                if d in node:
                    lines.append(f"    {node[d]} --> {node[s.id]}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"WorkflowDAG({self.name!r}, steps={self.ids!r})"


def _mermaid_escape(text: str) -> str:
    return text.replace('"', "#quot;")
