"""Per-call context that travels with a request through the call pipeline.

Wrappers need facts that are not part of the Messages request (which agent asked, whether the
caller said ``--no-cache``, the call's deadline). They read them from a ``ContextVar`` that the
runner sets around each call, so the ``Provider.send(request)`` signature stays one argument.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .messages import MessageRequest


@dataclass(frozen=True, slots=True)
class CallContext:
    agent: str | None = None
    execution_id: str | None = None
    workflow_name: str | None = None
    workflow_run_id: str | None = None
    step_id: str | None = None
    use_cache: bool = True  # False: neither read nor write the response cache (--no-cache)
    refresh: bool = False  # True: skip the cached answer but store the fresh one (--refresh)
    deadline: float | None = None  # absolute time.monotonic() by which the call must finish
    cache_allowed: bool = True  # the agent's own setting / cache.exclude_agents
    # Agent memory: the request as sent (with the memory context) and the same request without
    # it. The response cache keys ``sent`` on ``without_memory`` (unless
    # ``cache.key_includes_memory``), so a repeated task is a hit whatever ran in between.
    memory_keyed: tuple[MessageRequest, MessageRequest] | None = None
    memory_sessions: tuple[str, ...] = ()  # the past sessions shown in the memory context
    task: str | None = None  # the task as the caller worded it (the semantic cache compares it)


_current: ContextVar[CallContext] = ContextVar("claude_force_call", default=CallContext())  # noqa: B039


def current() -> CallContext:
    return _current.get()


@contextlib.contextmanager
def using(ctx: CallContext | None = None, **changes: object) -> Iterator[CallContext]:
    """Set the call context (or change fields of the current one) for the ``with`` block."""
    base = ctx if ctx is not None else _current.get()
    new = replace(base, **changes) if changes else base  # type: ignore[arg-type]
    token = _current.set(new)
    try:
        yield new
    finally:
        _current.reset(token)
