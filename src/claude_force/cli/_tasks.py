"""Collect the (agent, task) items of ``execute`` from arguments, ``--task-file`` and ``--tasks-file``.

Pure apart from reading the named files. Every problem is a :class:`TaskInputError` (exit code 2)
that names the file and line.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .._bounded import FileProblem, loads_limited
from ..errors import ConfigurationError


class TaskInputError(ConfigurationError):
    """A task argument or task file that cannot be used (usage error, exit code 2)."""


@dataclass(frozen=True, slots=True)
class TaskItem:
    agent: str
    task: str
    source: str  # where it came from, for messages: "argument 2", "tasks.jsonl:4"


def read_text(path: Path, option: str) -> str:
    """The text of a task file; ``-`` reads standard input. A regular UTF-8 file (a byte-order
    mark is accepted) of at most ``MAX_TASK_FILE_BYTES``: a FIFO or device is refused."""
    from .._bounded import MAX_TASK_FILE_BYTES, read_limited, stdin_text

    try:
        if str(path) == "-":
            return stdin_text(MAX_TASK_FILE_BYTES)
        return read_limited(path.expanduser(), MAX_TASK_FILE_BYTES)
    except FileProblem as exc:
        if exc.missing:
            raise TaskInputError(
                "file not found", file=path, key=option, hint="check the path of the task file"
            ) from None
        message = exc.message.replace(
            "is a directory, not a regular file", "is a folder, not a file"
        )
        raise TaskInputError(message, file=path, key=option, hint=exc.hint) from None


def parse_tasks_file(text: str, default_agent: str, path: Path) -> list[TaskItem]:
    """One task per line, or JSON Lines objects ``{"agent": ..., "task": ...}`` (may be mixed).

    Blank lines are skipped. A line that starts with ``{`` must be a JSON object with a non-empty
    string ``task``; ``agent`` defaults to ``default_agent``.
    """
    items: list[TaskItem] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        source = f"{path}:{number}"
        if not line.startswith("{"):
            items.append(TaskItem(default_agent, line, source))
            continue

        def bad(message: str, hint: str | None, at: int = number) -> TaskInputError:
            return TaskInputError(message, file=path, line=at, key="--tasks-file", hint=hint)

        try:
            obj = loads_limited(line)
        except FileProblem as exc:
            raise bad(f"invalid JSON Lines entry: {exc.message}", exc.hint) from None
        except json.JSONDecodeError as exc:
            raise bad(
                f"invalid JSON Lines entry: {exc.msg} (column {exc.colno})",
                'write {"agent": "name", "task": "text"} on one line',
            ) from None
        assert isinstance(obj, dict)  # the line starts with "{" and parsed
        task = obj.get("task")
        agent = obj.get("agent", default_agent)
        if not isinstance(task, str) or not task.strip():
            raise bad("entry has no 'task' text", 'add "task": "what the agent should do"')
        if not isinstance(agent, str) or not agent.strip():
            raise bad(
                "'agent' must be a non-empty string",
                "name an agent of the project, or leave 'agent' out to use AGENT",
            )
        items.append(TaskItem(agent.strip(), task, source))
    return items


def collect(
    agent: str,
    tasks: Sequence[str],
    task_file: Path | None,
    tasks_file: Path | None,
) -> list[TaskItem]:
    """All items in order: TASK arguments, then ``--task-file``, then ``--tasks-file``."""
    items = [TaskItem(agent, task, f"argument {i}") for i, task in enumerate(tasks, start=1)]
    for item in items:
        if not item.task.strip():
            raise TaskInputError(
                f"{item.source} is an empty task", hint="pass the task text in quotes"
            )
    if task_file is not None:
        text = read_text(task_file, "--task-file")
        if not text.strip():
            raise TaskInputError(
                "the task file is empty",
                file=task_file,
                key="--task-file",
                hint="write the task in it",
            )
        items.append(TaskItem(agent, text, str(task_file)))
    if tasks_file is not None:
        parsed = parse_tasks_file(read_text(tasks_file, "--tasks-file"), agent, tasks_file)
        if not parsed:
            raise TaskInputError(
                "the tasks file has no tasks",
                file=tasks_file,
                key="--tasks-file",
                hint="write one task per line",
            )
        items.extend(parsed)
    if not items:
        raise TaskInputError(
            "no task given",
            hint="pass TASK in quotes, --task-file FILE or --tasks-file FILE",
        )
    return items


def one_task(task: str | None, task_file: Path | None, *, name: str = "--task") -> str:
    """The one task of ``name`` (the ``--task`` option, or a command's ``TASK`` argument) or
    ``--task-file FILE``: exactly one of the two, and not blank (else :class:`TaskInputError`)."""
    given = f"{name} 'Review utils.py'" if name.startswith("-") else f"{name} in quotes"
    if task is None and task_file is None:
        raise TaskInputError("no task given", key=name, hint=f"pass {given} or --task-file FILE")
    if task is not None and task_file is not None:
        raise TaskInputError(
            f"give only one of {name} and --task-file", key=name, hint="drop one of them"
        )
    if task_file is not None:
        task = read_text(task_file, "--task-file")
    assert task is not None
    if not task.strip():
        raise TaskInputError("the task is empty", key=name, hint="write what the agent should do")
    return task
