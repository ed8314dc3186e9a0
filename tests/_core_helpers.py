"""Helpers shared by the core test files: tiny projects, recording providers, a virtual clock."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from claude_force.messages import MessageRequest, MessageResponse, Usage
from claude_force.testing import ScriptedProvider


def write_project(
    root: Path,
    config: Mapping[str, Any] | str,
    files: Mapping[str, str] | None = None,
) -> Path:
    """Write ``root/.claude/claude.json`` (a dict is dumped with indent=2) and the given files.

    ``files`` maps paths relative to ``.claude/`` to their text. Returns the path of claude.json.
    """
    claude = root / ".claude"
    claude.mkdir(parents=True, exist_ok=True)
    text = config if isinstance(config, str) else json.dumps(config, indent=2)
    path = claude / "claude.json"
    path.write_text(text, encoding="utf-8")
    for rel, body in (files or {}).items():
        target = claude / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(body, encoding="utf-8")
    return path


def minimal_project(root: Path, **extra: Any) -> Path:
    """A project with two agents (``alpha`` with a contract, ``beta`` without) and a workflow."""
    config: dict[str, Any] = {
        "agents": {
            "alpha": {
                "file": "agents/alpha.md",
                "contract": "contracts/alpha.contract",
                "priority": 2,
                "domains": ["a"],
            },
            "beta": {"file": "agents/beta.md", "priority": 1},
        },
        "workflows": {"chain": ["alpha", "beta"]},
    }
    config.update(extra)
    return write_project(
        root,
        config,
        {
            "agents/alpha.md": "# Alpha Agent\n\nAlpha does the first step.\n",
            "contracts/alpha.contract": "Alpha always answers in one paragraph.",
            "agents/beta.md": "# Beta Agent\n\nBeta reviews what alpha wrote.\n",
        },
    )


Responder = Callable[[MessageRequest], MessageResponse | Awaitable[MessageResponse]]


def default_response(request: MessageRequest) -> MessageResponse:
    return MessageResponse(
        text=f"answer to: {request.messages[-1].content}",
        model=request.model,
        stop_reason="end_turn",
        usage=Usage(input_tokens=1000, output_tokens=500),
        request_id="req_test",
        provider="recording",
    )


class RecordingProvider(ScriptedProvider):
    """A provider that records every request and answers with ``respond`` (sync or async)."""

    def __init__(self, respond: Responder = default_response) -> None:
        super().__init__(respond=respond, name="recording", simulated=False)


class WaveClock:
    """A virtual clock for ``SimulatedProvider(sleep=clock.sleep)``: no real time passes.

    Sleepers are released in waves: a sleeper waits until ``min(bound, total - finished)``
    sleepers are in flight together, then the whole wave wakes and the virtual time advances to
    the latest wake-up time of the wave. So tasks that the code under test runs concurrently
    overlap in virtual time, and tasks it runs one after another add up. If the code ran fewer
    tasks at once than ``bound`` allows, the wave never fills and the caller's safety timeout
    fails the test; if it ran more, ``max_in_flight`` exceeds ``bound``.
    """

    def __init__(self, *, total: int, bound: int) -> None:
        self.total = total
        self.bound = bound
        self.now = 0.0
        self.in_flight = 0
        self.max_in_flight = 0
        self.finished = 0
        self.delays: list[float] = []
        self._wave = asyncio.Event()
        self._wave_end = 0.0

    def _target(self) -> int:
        return min(self.bound, self.total - self.finished)

    async def sleep(self, delay: float) -> None:
        self.delays.append(delay)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        self._wave_end = max(self._wave_end, self.now + delay)
        if self.in_flight >= self._target():
            self._wave.set()
        await self._wave.wait()
        self.now = max(self.now, self._wave_end)
        self.in_flight -= 1
        self.finished += 1
        if self.in_flight == 0:
            self._wave = asyncio.Event()
            self._wave_end = self.now
