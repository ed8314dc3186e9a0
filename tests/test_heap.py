"""The engine-scoped ``gc.freeze`` (``claude_force._heap``): counted holds, only its own freeze
undone, off by environment. The collector itself is faked (the test process's stays as it is)."""

from __future__ import annotations

from pathlib import Path

import pytest

from _core_helpers import minimal_project
from claude_force import _heap
from claude_force.engine import AgentEngine
from claude_force.testing import ScriptedProvider


class FakeGC:
    def __init__(self, frozen: int = 0) -> None:
        self.frozen = frozen
        self.calls: list[str] = []

    def get_freeze_count(self) -> int:
        return self.frozen

    def freeze(self) -> None:
        self.calls.append("freeze")
        self.frozen = 1000

    def unfreeze(self) -> None:
        self.calls.append("unfreeze")
        self.frozen = 0


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeGC:
    gc = FakeGC()
    monkeypatch.setattr(_heap, "gc", gc)
    monkeypatch.setattr(_heap, "_holders", 0)
    monkeypatch.setattr(_heap, "_ours", False)
    monkeypatch.delenv("CLAUDE_FORCE_GC_FREEZE", raising=False)
    return gc


def test_the_first_hold_freezes_and_the_last_release_unfreezes(fake: FakeGC) -> None:
    assert _heap.hold() is True
    assert _heap.hold() is False  # a second engine: frozen already
    assert _heap.release() is False  # one engine still runs
    assert fake.calls == ["freeze"]
    assert _heap.release() is True
    assert fake.calls == ["freeze", "unfreeze"]
    assert _heap.release() is False  # an extra release changes nothing
    assert _heap.hold() is True  # engines again: frozen again
    assert fake.calls == ["freeze", "unfreeze", "freeze"]


def test_a_heap_frozen_by_someone_else_is_left_alone(fake: FakeGC) -> None:
    fake.frozen = 5  # the CLI (cli/_gc.py) or the application froze it
    assert _heap.hold() is False
    assert _heap.release() is False
    assert fake.calls == []


@pytest.mark.parametrize("value", ["0", "false", "no"])
def test_the_environment_turns_it_off(
    fake: FakeGC, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("CLAUDE_FORCE_GC_FREEZE", value)
    assert _heap.hold() is False
    assert _heap.release() is False
    assert fake.calls == []


async def test_an_engine_holds_from_prepare_to_close(fake: FakeGC, tmp_path: Path) -> None:
    provider = ScriptedProvider()
    async with AgentEngine.open(
        minimal_project(tmp_path), provider=provider, cache=False, memory=False, tracking=False
    ) as engine:
        assert fake.calls == ["freeze"]
        await engine.prepare()  # again on the same loop: no second hold
        assert _heap._holders == 1
    assert fake.calls == ["freeze", "unfreeze"]
    assert _heap._holders == 0
