"""The input checks of the claude-force 2.2 entry points (``execute_agent``, ``run_agent``, the CLI).

They run first, before any file is read or request sent: an agent name is a name, never a path
or a command, and a task is bounded. Both raise ``ValueError`` subclasses whose messages start
as 2.2's did ("Invalid agent name", "Task too large"), so existing ``except``/``match`` clauses
keep working; the CLI maps them to exit code 2.
"""

from __future__ import annotations

import re

from .errors import InvalidAgentNameError, InvalidInputError, TaskTooLargeError

#: What an agent name may contain (2.2's rule).
AGENT_NAME = re.compile(r"[A-Za-z0-9_-]+")
#: The longest task accepted, in characters (2.2's ``MAX_TOKEN_LIMIT``).
MAX_TASK_CHARS = 100_000


def check_agent_name(name: object) -> str:
    """``name`` if it is a valid agent name, else :class:`InvalidAgentNameError`."""
    if not isinstance(name, str) or AGENT_NAME.fullmatch(name) is None:
        shown = repr(name) if len(repr(name)) <= 80 else repr(name)[:77] + "..."
        raise InvalidAgentNameError(
            f"Invalid agent name: {shown}",
            hint="agent names contain only letters, digits, '-' and '_'",
        )
    return name


def check_task(task: object) -> str:
    """``task`` if it is a string of at most :data:`MAX_TASK_CHARS`, else a ``ValueError``."""
    if not isinstance(task, str):
        raise InvalidInputError(
            f"Invalid task: expected text, got {type(task).__name__}",
            hint="pass the task as a string",
        )
    if len(task) > MAX_TASK_CHARS:
        raise TaskTooLargeError(
            f"Task too large: {len(task):,} characters (max {MAX_TASK_CHARS:,})",
            hint="shorten the task, or split it into several tasks",
        )
    return task


def check_run(agent_name: object, task: object) -> None:
    """Both checks, agent name first (as 2.2 did)."""
    check_agent_name(agent_name)
    check_task(task)
