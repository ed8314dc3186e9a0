"""A call's deadline (``callctx.within``): ``asyncio.timeout``'s behaviour, one timer per loop.

Every call in flight used to hold an ``asyncio.Timeout``, its ``TimerHandle`` and a copied
context (issue #10); the deadlines of a loop's calls now wait in one heap served by one timer.
These tests pin the behaviour the runner relies on (expiry as ``TimeoutError``, another
cancellation passed through) and the structure (one timer however many calls, finished entries
dropped).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from claude_force import callctx


def deadline_timers(loop: asyncio.AbstractEventLoop) -> list[Any]:
    scheduled: list[Any] = loop._scheduled  # type: ignore[attr-defined]
    return [h for h in scheduled if not h.cancelled()]


async def waits(seconds: float | None, event: asyncio.Event) -> str:
    with callctx.within(seconds):
        await event.wait()
    return "answered"


async def test_many_calls_in_flight_share_one_timer_and_none_holds_a_timeout() -> None:
    loop = asyncio.get_running_loop()
    before = len(deadline_timers(loop))
    event = asyncio.Event()
    calls = [asyncio.ensure_future(waits(60 + i, event)) for i in range(50)]
    await asyncio.sleep(0)
    timers = deadline_timers(loop)
    assert len(timers) == before + 1  # one for all 50: the earliest deadline's
    assert not [h for h in timers if "Timeout" in repr(h)]
    event.set()
    assert await asyncio.gather(*calls) == ["answered"] * 50
    assert len(deadline_timers(loop)) == before  # none left running: no timer either


async def test_deadlines_expire_as_timeout_errors_in_their_order_and_others_answer() -> None:
    event = asyncio.Event()
    ended: list[str] = []

    async def call(name: str, seconds: float) -> None:
        try:
            await waits(seconds, event)
            ended.append(f"{name} answered")
        except TimeoutError:
            ended.append(f"{name} timed out")

    calls = [
        asyncio.ensure_future(call("late", 0.05)),
        asyncio.ensure_future(call("early", 0.01)),
        asyncio.ensure_future(call("never", 30)),
    ]
    for _ in range(2000):  # until both short deadlines have passed
        if len(ended) == 2:
            break
        await asyncio.sleep(0.005)
    event.set()
    await asyncio.gather(*calls)
    assert ended == ["early timed out", "late timed out", "never answered"]


async def test_a_deadline_already_past_expires_at_the_next_iteration() -> None:
    with pytest.raises(TimeoutError):
        await waits(0, asyncio.Event())
    with pytest.raises(TimeoutError):
        await waits(-1, asyncio.Event())


async def test_another_cancellation_propagates_and_is_not_a_timeout() -> None:
    started = asyncio.Event()

    async def call() -> None:
        with callctx.within(30):
            started.set()
            await asyncio.Event().wait()

    task = asyncio.ensure_future(call())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_cancellation_racing_the_deadline_stays_a_cancellation() -> None:
    """As ``asyncio.timeout``: cancelled by someone else too, the task is cancelled."""

    async def call() -> None:
        with callctx.within(0):
            asyncio.current_task().cancel()  # type: ignore[union-attr]
            await asyncio.sleep(1)

    task = asyncio.ensure_future(call())
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_an_inner_deadline_inside_an_outer_one() -> None:
    with pytest.raises(TimeoutError), callctx.within(30), callctx.within(0.01):
        await asyncio.Event().wait()
    with callctx.within(0.01):  # the outer one expires: the inner block passes it on
        with pytest.raises(asyncio.CancelledError), callctx.within(30):
            await asyncio.Event().wait()
        await asyncio.sleep(0)  # (still inside the outer block: its cancellation was taken)


async def test_finished_calls_do_not_pile_up_behind_a_long_running_one() -> None:
    loop = asyncio.get_running_loop()
    slow = asyncio.Event()
    holder = asyncio.ensure_future(waits(600, slow))  # keeps the heap from emptying
    await asyncio.sleep(0)
    for _ in range(500):
        with callctx.within(600):
            await asyncio.sleep(0)
    heap = callctx.deadlines_of(loop)
    assert len(heap) <= 2 * 64 + 2  # finished entries are dropped once they are half
    slow.set()
    assert await holder == "answered"
    assert len(heap) == 0


def test_no_limit_is_one_shared_object() -> None:
    assert callctx.within(None) is callctx.within(None)


async def test_calling_sets_the_call_context_and_the_deadline_in_one_block() -> None:
    ctx = callctx.CallContext(agent="alpha")
    with callctx.calling(ctx, 30) as scope:
        assert callctx.current() is ctx and scope.task is asyncio.current_task()  # a deadline runs
    assert callctx.current() is not ctx
    with pytest.raises(TimeoutError), callctx.calling(ctx, 0.01):
        assert callctx.current() is ctx
        await asyncio.Event().wait()
    assert callctx.current() is not ctx  # reset after a timeout too
    with callctx.calling(ctx, None):  # no limit: no deadline entered
        assert callctx.current() is ctx
        assert len(callctx.deadlines_of(asyncio.get_running_loop()) or ()) == 0
    assert callctx.current() is not ctx


def test_a_loop_closed_with_a_deadline_entered_is_let_go() -> None:
    """A loop stopped without cancelling its tasks (a loop thread's close): its deadlines hold
    its timer and tasks, so they are kept on the loop, and the loop is collected with them."""
    import gc
    import weakref

    async def call(event: asyncio.Event) -> None:
        with callctx.within(600):
            await event.wait()

    loop = asyncio.new_event_loop()
    event = asyncio.Event()
    tasks: list[asyncio.Future[None]] = []

    async def start(event: asyncio.Event, tasks: list[asyncio.Future[None]]) -> None:
        tasks.append(asyncio.ensure_future(call(event)))
        await asyncio.sleep(0)

    loop.run_until_complete(start(event, tasks))
    assert callctx.deadlines_of(loop) is not None
    loop.close()
    gone = weakref.ref(loop)
    tasks[0]._log_destroy_pending = False  # type: ignore[attr-defined]  # abandoned on purpose
    del loop, start, event, tasks
    gc.collect()
    assert gone() is None
