"""The clocks the resilience policies run on."""

from __future__ import annotations

import asyncio

import pytest

from claude_force.clock import SYSTEM_CLOCK, Clock, VirtualClock, run_virtual


async def test_manual_clock_wakes_sleepers_in_time_order() -> None:
    clock = VirtualClock(start=0)
    woke: list[tuple[str, float]] = []

    async def sleeper(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append((name, clock.now()))

    tasks = [asyncio.ensure_future(sleeper(n, s)) for n, s in (("c", 3), ("a", 1), ("b", 2))]
    await asyncio.sleep(0)
    assert clock.pending == 3 and clock.next_wake() == 1
    clock.advance(1.5)
    await asyncio.sleep(0)
    assert woke == [("a", 1.5)]
    assert clock.jump() and clock.now() == 2
    clock.advance(-5)  # time never goes back
    assert clock.now() == 2
    tasks[0].cancel()  # a cancelled sleeper is dropped
    await asyncio.gather(*tasks, return_exceptions=True)
    assert woke == [("a", 1.5), ("b", 2)]
    assert clock.pending == 0 and clock.next_wake() is None and not clock.jump()
    await clock.sleep(0)  # zero: just a yield
    assert clock.sleeps == [3, 1, 2, 0]


async def test_auto_clock_overlaps_concurrent_sleeps() -> None:
    clock = VirtualClock(start=10, auto=True)
    await asyncio.gather(clock.sleep(5), clock.sleep(3), clock.sleep(-1))
    assert clock.now() == 15


async def test_run_virtual_returns_results_and_errors_and_detects_deadlock() -> None:
    clock = VirtualClock(start=0)

    async def ok() -> str:
        await clock.sleep(100)
        return "done"

    async def boom() -> str:
        await clock.sleep(1)
        raise ValueError("x")

    results = await run_virtual(clock, ok(), boom())
    assert results[0] == "done" and isinstance(results[1], ValueError)
    assert clock.now() == 100

    with pytest.raises(RuntimeError, match="other than the clock"):
        await run_virtual(clock, asyncio.Event().wait())


async def test_system_clock() -> None:
    assert isinstance(SYSTEM_CLOCK, Clock)
    before = SYSTEM_CLOCK.now()
    await SYSTEM_CLOCK.sleep(0)
    await SYSTEM_CLOCK.sleep(-1)
    assert SYSTEM_CLOCK.now() >= before
