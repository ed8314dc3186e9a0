"""Single-flight: the leader runs the work in its own task; followers share its result or its
error; a cancelled leader hands the work to a follower; a cancelled follower just leaves."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

import pytest

from _cache_helpers import until
from claude_force.cache.singleflight import SingleFlight


def loop_errors() -> list[dict[str, Any]]:
    """What the running loop's exception handler is given from now on (e.g. "exception was
    never retrieved"); the loop is the test's own, dropped after it."""
    seen: list[dict[str, Any]] = []
    # garbage of earlier tests (an SDK client one of them never closed, say) is collected
    # first: a cycle collected during this test would report its errors to this handler
    gc.collect()
    asyncio.get_running_loop().set_exception_handler(lambda _loop, ctx: seen.append(ctx))
    return seen


class Work:
    """``fn`` for ``do``: counts its calls; each call waits for ``gate``, then answers
    ``answer #n`` or raises ``fail``."""

    def __init__(self, fail: Exception | None = None) -> None:
        self.calls = 0
        self.gate = asyncio.Event()
        self.fail = fail
        self.tasks: list[asyncio.Task[Any] | None] = []

    async def __call__(self) -> str:
        self.calls += 1
        n = self.calls
        self.tasks.append(asyncio.current_task())
        await self.gate.wait()
        if self.fail is not None:
            raise self.fail
        return f"answer #{n}"


def start(sf: SingleFlight[str], work: Work, key: str = "k") -> asyncio.Task[tuple[str, bool]]:
    return asyncio.create_task(sf.do(key, work))


async def test_a_lone_call_runs_in_the_callers_task_and_makes_no_task_or_future(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sf: SingleFlight[str] = SingleFlight()
    loop = asyncio.get_running_loop()
    made: list[str] = []
    real_future, real_task = loop.create_future, loop.create_task

    def count_future() -> asyncio.Future[Any]:
        made.append("future")
        return real_future()

    def count_task(*args: Any, **kwargs: Any) -> asyncio.Task[Any]:
        made.append("task")
        return real_task(*args, **kwargs)

    monkeypatch.setattr(loop, "create_future", count_future)
    monkeypatch.setattr(loop, "create_task", count_task)
    before = asyncio.all_tasks()
    seen: list[object] = []

    async def fn() -> str:
        seen.append((asyncio.current_task(), asyncio.all_tasks() == before, sf.waiters("k")))
        await asyncio.sleep(0)
        return "x"

    assert await sf.do("k", fn) == ("x", False)
    assert seen == [(asyncio.current_task(), True, 1)]  # ran inline, alone, counted
    assert made == []  # no task, no shield (its future), no follower future
    assert len(sf) == 0 and "k" not in sf and sf.waiters("k") == 0


async def test_followers_share_the_leaders_result() -> None:
    sf: SingleFlight[str] = SingleFlight()
    work = Work()
    tasks = [start(sf, work) for _ in range(3)]
    await until(lambda: sf.waiters("k") == 3)
    assert "k" in sf and work.calls == 1
    work.gate.set()
    assert await asyncio.gather(*tasks) == [
        ("answer #1", False),
        ("answer #1", True),
        ("answer #1", True),
    ]
    assert work.calls == 1 and len(sf) == 0


async def test_a_cancelled_leader_hands_the_work_to_one_follower_the_other_follows_it() -> None:
    sf: SingleFlight[str] = SingleFlight()
    work = Work()
    leader, first, second = start(sf, work), start(sf, work), start(sf, work)
    await until(lambda: sf.waiters("k") == 3)
    assert work.calls == 1 and work.tasks == [leader]  # the work runs in the leader's task
    leader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await leader
    await until(lambda: work.calls == 2)
    assert work.tasks[1] is first  # the first follower runs it again, itself
    assert sf.waiters("k") == 2
    work.gate.set()
    assert await first == ("answer #2", False)
    assert await second == ("answer #2", True)  # shares the new leader's result
    assert work.calls == 2 and len(sf) == 0


async def test_a_cancelled_follower_just_leaves() -> None:
    sf: SingleFlight[str] = SingleFlight()
    work = Work()
    leader, gone, stays = start(sf, work), start(sf, work), start(sf, work)
    await until(lambda: sf.waiters("k") == 3)
    gone.cancel()
    with pytest.raises(asyncio.CancelledError):
        await gone
    assert sf.waiters("k") == 2 and not leader.done()
    work.gate.set()
    assert await leader == ("answer #1", False)
    assert await stays == ("answer #1", True)
    assert work.calls == 1 and len(sf) == 0


async def test_a_lone_leader_cancelled_ends_the_flight() -> None:
    sf: SingleFlight[str] = SingleFlight()
    work = Work()
    leader = start(sf, work)
    await until(lambda: work.calls == 1)
    leader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await leader
    assert len(sf) == 0 and sf.waiters("k") == 0
    work.gate.set()
    assert await sf.do("k", work) == ("answer #2", False)  # a new flight, not a stale one


async def test_errors_are_shared_and_never_left_unretrieved() -> None:
    gc.collect()  # earlier tests' garbage first (a task of a closed loop): only this test's counts
    errors = loop_errors()
    sf: SingleFlight[str] = SingleFlight()
    boom = ValueError("the model is down")
    work = Work(fail=boom)
    tasks = [start(sf, work) for _ in range(3)]
    await until(lambda: sf.waiters("k") == 3)
    work.gate.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert results == [boom, boom, boom] and work.calls == 1 and len(sf) == 0
    del tasks, results
    gc.collect()
    await asyncio.sleep(0)
    assert errors == []


async def test_a_follower_cancelled_as_the_error_reaches_it_is_cancelled_quietly() -> None:
    errors = loop_errors()
    sf: SingleFlight[str] = SingleFlight()
    follower_work = Work()

    async def fail() -> str:
        await until(lambda: sf.waiters("k") == 2)
        raise ValueError("down")

    follower = start(sf, follower_work)  # not started yet: the test's own task leads

    async def lead() -> tuple[str, bool]:
        return await sf.do("k", fail)

    with pytest.raises(ValueError):
        await lead()  # the test's task led; the error is on the follower's future, unread …
    follower.cancel()  # … and the follower is cancelled before it wakes: it ends cancelled
    with pytest.raises(asyncio.CancelledError):
        await follower
    del follower
    gc.collect()
    await asyncio.sleep(0)
    assert errors == [] and len(sf) == 0 and follower_work.calls == 0


async def test_a_follower_cancelled_just_as_it_was_made_leader_passes_it_on() -> None:
    sf: SingleFlight[str] = SingleFlight()
    work = Work()

    async def cancelled() -> str:
        await until(lambda: sf.waiters("k") == 3)
        raise asyncio.CancelledError  # as if the leader's call were cancelled

    first, second = start(sf, work), start(sf, work)
    with pytest.raises(asyncio.CancelledError):
        await sf.do("k", cancelled)  # the test's task led; ``first`` is made leader, unwoken …
    first.cancel()  # … and cancelled before it runs: ``second`` leads instead
    with pytest.raises(asyncio.CancelledError):
        await first
    await until(lambda: work.calls == 1)
    assert work.tasks == [second] and sf.waiters("k") == 1
    work.gate.set()
    assert await second == ("answer #1", False)
    assert len(sf) == 0
