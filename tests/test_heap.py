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
        self.threshold: tuple[int, ...] = (700, 10, 10)

    def get_threshold(self) -> tuple[int, ...]:
        return self.threshold

    def set_threshold(self, *values: int) -> None:
        self.threshold = values

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
    monkeypatch.setattr(_heap, "_thresholds", None)
    monkeypatch.delenv("CLAUDE_FORCE_GC_FREEZE", raising=False)
    monkeypatch.delenv("CLAUDE_FORCE_SWITCH_INTERVAL", raising=False)
    monkeypatch.setattr(_heap, "sys", FakeSys())
    monkeypatch.setattr(_heap, "_switch", None)
    monkeypatch.setattr(_heap, "_ours_switch", None)
    return gc


class FakeSys:
    def __init__(self) -> None:
        self.interval = 0.005

    def getswitchinterval(self) -> float:
        return self.interval

    def setswitchinterval(self, value: float) -> None:
        self.interval = value


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
    assert fake.threshold == (_heap.GEN0_WHILE_RUNNING, 10, 10)  # young passes: still ours
    assert _heap.release() is False
    assert fake.calls == []
    assert fake.threshold == (700, 10, 10)


def test_young_collections_are_rarer_while_engines_run(fake: FakeGC) -> None:
    _heap.hold()
    _heap.hold()
    assert fake.threshold == (_heap.GEN0_WHILE_RUNNING, 10, 10)
    _heap.release()
    assert fake.threshold == (_heap.GEN0_WHILE_RUNNING, 10, 10)  # one engine still runs
    _heap.release()
    assert fake.threshold == (700, 10, 10)


def test_thresholds_an_application_chose_are_left_alone(fake: FakeGC) -> None:
    fake.threshold = (50_000, 20, 20)
    _heap.hold()
    assert fake.threshold == (50_000, 20, 20)
    _heap.release()
    assert fake.threshold == (50_000, 20, 20)


def test_thresholds_changed_while_engines_run_are_not_undone(fake: FakeGC) -> None:
    _heap.hold()
    fake.threshold = (2_000, 10, 10)  # the application tuned it meanwhile: its choice stays
    _heap.release()
    assert fake.threshold == (2_000, 10, 10)
    _heap.hold()  # not the default any more: left alone
    assert fake.threshold == (2_000, 10, 10)


@pytest.mark.parametrize("value", ["0", "false", "no"])
def test_the_environment_turns_it_off(
    fake: FakeGC, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("CLAUDE_FORCE_GC_FREEZE", value)
    assert _heap.hold() is False
    assert fake.threshold == (700, 10, 10)
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


def test_the_switch_interval_is_lowered_while_engines_run(
    fake: FakeGC, monkeypatch: pytest.MonkeyPatch
) -> None:
    sys_ = _heap.sys
    assert isinstance(sys_, FakeSys)
    _heap.hold()
    _heap.hold()
    assert sys_.interval == _heap.SWITCH_WHILE_RUNNING
    _heap.release()
    assert sys_.interval == _heap.SWITCH_WHILE_RUNNING  # one engine still runs
    _heap.release()
    assert sys_.interval == 0.005
    sys_.interval = 0.002  # the application chose its own: left alone
    _heap.hold()
    assert sys_.interval == 0.002
    _heap.release()
    assert sys_.interval == 0.002
    sys_.interval = 0.005
    _heap.hold()
    sys_.interval = 0.003  # changed by someone while engines ran: not restored over it
    _heap.release()
    assert sys_.interval == 0.003
    sys_.interval = 0.005
    for raw, expected in (("0", 0.005), ("0.0005", 0.0005), ("x", _heap.SWITCH_WHILE_RUNNING)):
        monkeypatch.setenv("CLAUDE_FORCE_SWITCH_INTERVAL", raw)
        _heap.hold()
        assert sys_.interval == expected
        _heap.release()
        assert sys_.interval == 0.005
