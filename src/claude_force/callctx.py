"""Per-call context that travels with a request through the call pipeline.

Wrappers need facts that are not part of the Messages request (which agent asked, whether the
caller said ``--no-cache``, the call's deadline). They read them from a ``ContextVar`` that the
runner sets around each call, so the ``Provider.send(request)`` signature stays one argument.
"""

from __future__ import annotations

import heapq
import time
import weakref
from contextvars import ContextVar, Token
from dataclasses import dataclass, replace
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    import asyncio

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


# --- the call's deadline -------------------------------------------------------------------------

_ENTERED, _EXPIRING, _DONE = 0, 1, 2
# a timer may fire this much before its time (asyncio runs what is due within its clock's
# resolution): a deadline that near has come
_EARLY = time.get_clock_info("monotonic").resolution


class Deadline:
    """``asyncio.timeout(seconds)`` for a call, as a plain ``with`` block: when the deadline
    passes, the task is cancelled and the block raises ``TimeoutError`` (a cancellation that
    was not the deadline's own still propagates as one; :meth:`asyncio.Task.uncancel` tells
    them apart, as ``asyncio.timeout`` does).

    Why not ``asyncio.timeout``: each call in flight would hold a ``Timeout`` (with its dict), a
    ``TimerHandle``, its bound method and its copied context (≈ 0.35 KB). Here every deadline
    of an event loop waits in one heap, served by one timer (the earliest deadline's); a call
    holds this slotted object (≈ 0.1 KB). A finished call's entry is dropped when the earliest
    deadlines come due or when finished entries are half the heap.
    """

    __slots__ = ("_cancelling", "_heap", "state", "task", "when")

    def __init__(self, seconds: float) -> None:
        self.when = seconds  # made absolute (the loop's clock) when the block is entered
        self.state = _DONE
        self.task: asyncio.Task[Any] | None = None
        self._cancelling = 0
        self._heap: _Deadlines | None = None

    def __lt__(self, other: Deadline) -> bool:
        return self.when < other.when

    def __enter__(self) -> Deadline:
        from asyncio import current_task, get_running_loop  # (a read-only command needs none)

        loop = get_running_loop()
        task = current_task(loop)
        if task is None:
            raise RuntimeError("a call's deadline applies inside a task")
        self.task = task
        self._cancelling = task.cancelling()
        self.when += loop.time()
        self.state = _ENTERED
        heap = deadlines_of(loop)
        if heap is None:
            heap = _Deadlines()
            try:  # on the loop: a loop dropped with calls still entered is collected with them
                loop._claude_force_deadlines = heap  # type: ignore[attr-defined]
            except AttributeError:  # a loop without a __dict__ (uvloop's): the weak table
                _deadlines[loop] = heap
        self._heap = heap
        heap.add(self, loop)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        task, self.task = self.task, None  # a finished call's entry keeps no task alive
        if self.state == _EXPIRING:
            self.state = _DONE
            assert task is not None
            from asyncio import CancelledError

            if task.uncancel() <= self._cancelling and exc_type is CancelledError:
                raise TimeoutError from exc  # the deadline's cancellation, nobody else's
        elif self.state == _ENTERED:
            self.state = _DONE
            if self._heap is not None:
                self._heap.finished()


class calling(Deadline):  # lower case, like ``using``: ``with callctx.calling(ctx, seconds)``
    """``using(ctx)`` and ``within(seconds)`` as one ``with`` block (the runner's, around each
    call): a ``with`` holds its manager's bound ``__exit__`` until the block ends, so one
    manager instead of two is one object and one bound method less per call in flight."""

    __slots__ = ("_ctx", "_limited", "_token")

    def __init__(self, ctx: CallContext, seconds: float | None) -> None:
        super().__init__(0.0 if seconds is None else seconds)
        self._limited = seconds is not None
        self._ctx = ctx
        self._token: Token[CallContext] | None = None

    def __enter__(self) -> calling:
        self._token = _current.set(self._ctx)
        if self._limited:
            try:
                super().__enter__()
            except BaseException:
                self._reset()
                raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            super().__exit__(exc_type, exc, tb)  # (the deadline first, as the inner block)
        finally:
            self._reset()

    def _reset(self) -> None:
        if self._token is not None:
            _current.reset(self._token)
            self._token = None


class _Deadlines:
    """The deadlines of one event loop's calls in a heap (earliest first) and the one timer that
    serves them."""

    __slots__ = ("_finished", "_heap", "_timer")

    def __init__(self) -> None:
        self._heap: list[Deadline] = []
        self._timer: asyncio.TimerHandle | None = None
        self._finished = 0  # entries of finished calls still in the heap

    def __len__(self) -> int:
        return len(self._heap)

    def add(self, deadline: Deadline, loop: asyncio.AbstractEventLoop) -> None:
        heap = self._heap
        heapq.heappush(heap, deadline)
        if heap[0] is deadline:
            self._arm(deadline.when, loop)

    def _arm(self, when: float, loop: asyncio.AbstractEventLoop) -> None:
        timer = self._timer
        if timer is not None:
            if timer.when() <= when:
                return  # it fires first (and then arms for the rest)
            timer.cancel()
        self._timer = loop.call_at(when, self._due, loop)

    def _due(self, loop: asyncio.AbstractEventLoop) -> None:
        """The timer fired: cancel every call whose deadline has come, arm for the next."""
        self._timer = None
        heap = self._heap
        now = loop.time() + _EARLY
        while heap and heap[0].when <= now:
            deadline = heapq.heappop(heap)
            if deadline.state == _ENTERED:
                deadline.state = _EXPIRING
                assert deadline.task is not None
                deadline.task.cancel()
            else:
                self._finished -= 1
        while heap and heap[0].state != _ENTERED:  # finished calls need no timer
            heapq.heappop(heap)
            self._finished -= 1
        if heap:
            self._arm(heap[0].when, loop)

    def finished(self) -> None:
        """A call ended before its deadline: its entry stays until it is due, or until finished
        entries are half the heap (then the heap keeps only the calls still running)."""
        self._finished += 1
        heap = self._heap
        if self._finished == len(heap):  # none running: no timer (it would hold the loop)
            heap.clear()
            self._finished = 0
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
        elif self._finished > 64 and 2 * self._finished > len(heap):
            heap[:] = [d for d in heap if d.state == _ENTERED]
            heapq.heapify(heap)
            self._finished = 0


_deadlines: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Deadlines] = (
    weakref.WeakKeyDictionary()
)
"""The deadlines of loops that take no attribute. (Kept on the loop itself where possible: in
this table the armed timer and the calls' tasks would hold their loop, so a loop closed with
calls still entered would never be let go.)"""


def deadlines_of(loop: asyncio.AbstractEventLoop) -> _Deadlines | None:
    """The deadlines of ``loop``'s calls, if any call of it entered one."""
    heap: _Deadlines | None = getattr(loop, "_claude_force_deadlines", None)
    return heap if heap is not None else _deadlines.get(loop)


class _NoDeadline:
    """``within(None)``: no limit (one shared object)."""

    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


_NO_DEADLINE = _NoDeadline()


def within(seconds: float | None) -> Deadline | _NoDeadline:
    """The ``with`` block of a call that must end within ``seconds`` (``None``: no limit);
    raises ``TimeoutError`` when it does not (see :class:`Deadline`)."""
    return _NO_DEADLINE if seconds is None else Deadline(seconds)
