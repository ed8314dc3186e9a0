"""Answers as they are written: the text of one execution, passed on while the model writes it.

The call pipeline keeps one shape — ``send(request) -> MessageResponse`` — so the cache, the rate
limiter, the breaker, the retries, the metrics and memory behave exactly as for a whole answer.
Streaming is a side channel: :func:`stream_execution` puts a :class:`TextSink` in a context
variable around one execution, and the provider at the bottom of the pipeline (the SDK's
``messages.stream``, or the simulated model) hands each piece of text to it as it arrives, then
returns the whole response as usual. Hence:

* a cached answer never reaches the provider: it comes whole, at once;
* the rate limiter, the breaker and the retry layer act before the first piece of text;
* once text was shown, a failure is final (:class:`~claude_force.errors.StreamInterruptedError`):
  it is not retried and no fallback model answers, so no text is ever shown twice;
* the response cache stores only an answer that came back whole (a broken or cancelled stream
  raises, so there is nothing to store); metrics and memory are written once, at the end, with
  the usage the API reported;
* closing the iterator (a client that went away) cancels the call upstream.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .runner import Execution


class TextSink:
    """Receives the pieces of one answer; counts what it passed on (``shown``, in characters)."""

    def __init__(self, write: Callable[[str], None]) -> None:
        self._write = write
        self.shown = 0

    def __call__(self, text: str) -> None:
        if text:
            self.shown += len(text)
            self._write(text)


_sink: ContextVar[TextSink | None] = ContextVar("claude_force_text_sink", default=None)


def current_sink() -> TextSink | None:
    """The sink of the execution running in this context (``None``: nobody streams it)."""
    return _sink.get()


@contextlib.contextmanager
def streaming_to(sink: TextSink | None) -> Iterator[None]:
    """Hand the text of the calls made in this block to ``sink``."""
    token = _sink.set(sink)
    try:
        yield
    finally:
        _sink.reset(token)


@dataclass(frozen=True, slots=True)
class TextDelta:
    """A piece of the answer, in order; the pieces together are the answer."""

    text: str


@dataclass(frozen=True, slots=True)
class StreamEnd:
    """The last event: the finished execution (usage, cost, id; ``success`` false on a failure,
    even one after part of the answer was shown). ``streamed``: the text came piece by piece
    (false for a cached answer, shown whole at once)."""

    execution: Execution
    streamed: bool


StreamEvent = TextDelta | StreamEnd


async def stream_execution(
    run: Callable[[], Awaitable[Execution]],
) -> AsyncGenerator[StreamEvent, None]:
    """The events of ``run()`` (one execution): its text as :class:`TextDelta` pieces, then one
    :class:`StreamEnd`. An answer that came whole (a cache hit, a provider that cannot stream)
    is one delta. Closing the iterator early cancels the execution."""
    pieces: asyncio.Queue[str | None] = asyncio.Queue()  # unbounded: a slow reader never stalls
    sink = TextSink(pieces.put_nowait)

    async def execute() -> Execution:
        with streaming_to(sink):
            return await run()

    task = asyncio.ensure_future(execute())
    task.add_done_callback(lambda _task: pieces.put_nowait(None))  # after every piece
    try:
        while (text := await pieces.get()) is not None:
            yield TextDelta(text)
        ex = task.result()
        if sink.shown == 0 and ex.success and ex.output:
            yield TextDelta(ex.output)
        yield StreamEnd(ex, streamed=sink.shown > 0)
    finally:
        if not task.done():  # the reader went away (or was cancelled): stop the call upstream
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
