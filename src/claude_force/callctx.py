"""Per-call context that travels with a request through the call pipeline.

Wrappers need facts that are not part of the Messages request (which agent asked, whether the
caller said ``--no-cache``, the call's deadline). They read them from a ``ContextVar`` that the
runner sets around each call, so the ``Provider.send(request)`` signature stays one argument.
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from dataclasses import dataclass, replace
from types import TracebackType
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from .messages import MessageRequest

T = TypeVar("T")


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


class Setting(Generic[T]):
    """Set ``var`` to ``value`` for the ``with`` block (the value is what ``with`` gives).

    A small class rather than ``@contextlib.contextmanager``: the call path enters these once per
    call, and a generator-based context manager holds a generator, its frame and its arguments
    for as long as the call waits for the model (about 0.5 KB a call; this object and its token,
    0.1 KB). The cache's look-ahead uses it too (``CacheProvider.ahead``).
    """

    __slots__ = ("_token", "_value", "_var")

    def __init__(self, var: ContextVar[T], value: T) -> None:
        self._var = var
        self._value = value
        self._token: Token[T] | None = None

    def __enter__(self) -> T:
        self._token = self._var.set(self._value)
        return self._value

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._token is not None:
            self._var.reset(self._token)
            self._token = None


class using(
    Setting[CallContext]
):  # lower case, like contextlib.suppress: ``with callctx.using(...)``
    """Set the call context (or change fields of the current one) for the ``with`` block."""

    __slots__ = ()

    def __init__(self, ctx: CallContext | None = None, **changes: object) -> None:
        base = ctx if ctx is not None else _current.get()
        super().__init__(_current, replace(base, **changes) if changes else base)  # type: ignore[arg-type]
