"""Helpers shared by the workflow tests: a provider that records who asked what, and project edits."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from claude_force import callctx
from claude_force.async_orchestrator import AsyncAgentOrchestrator
from claude_force.errors import InvalidRequestError
from claude_force.messages import MessageRequest, MessageResponse
from claude_force.providers.simulated import SimulatedProvider

REVIEWERS = ["python-expert", "code-reviewer", "security-specialist"]


class RecordingProvider:
    """The simulated model (instant) that records who asked what, with the call context."""

    name = "recording"
    simulated = True

    def __init__(
        self,
        fail: set[str] | None = None,
        block: set[str] | None = None,
        rendezvous: set[str] | None = None,
    ) -> None:
        self.inner = SimulatedProvider(latency="instant")
        self.arrived: set[str] = set()
        self.rendezvous = rendezvous or set()
        self.fail = fail or set()
        self.block = block or set()
        self.requests: list[tuple[str, str]] = []
        self.contexts: list[callctx.CallContext] = []
        self.inflight: set[str] = set()
        self.max_inflight = 0
        self.cancelled: list[str] = []
        self.blocked = asyncio.Event()

    @property
    def rendezvous(self) -> set[str]:
        """Agents whose calls answer only once all of them have arrived (set anew: counted
        from then on)."""
        return self._rendezvous

    @rendezvous.setter
    def rendezvous(self, agents: set[str]) -> None:
        self._rendezvous = agents
        self.arrived = set()

    async def send(self, request: MessageRequest) -> MessageResponse:
        ctx = callctx.current()
        agent = ctx.agent or "?"
        self.requests.append((agent, request.messages[-1].content))
        self.contexts.append(ctx)
        self.inflight.add(agent)
        self.arrived.add(agent)
        self.max_inflight = max(self.max_inflight, len(self.inflight))
        try:
            if agent in self.fail:
                # fail only once the blocked siblings are really in flight
                while not self.block <= self.inflight:  # noqa: ASYNC110 (a fake)
                    await asyncio.sleep(0)
                raise InvalidRequestError("bad request", status=400)
            if agent in self.block:
                await asyncio.Event().wait()
            if agent in self.rendezvous:
                # answer only once all of them have arrived, so each was in flight while the
                # others started (a hang here would mean they were not run in parallel; the
                # timeout turns that into a failure). Not "all in flight now": the first to see
                # them all answers and leaves, and the others would then wait out the timeout.
                async with asyncio.timeout(10):
                    while not self.rendezvous <= self.arrived:  # noqa: ASYNC110 (a fake)
                        await asyncio.sleep(0)
            await asyncio.sleep(0)
            return await self.inner.send(request)
        except asyncio.CancelledError:
            self.cancelled.append(agent)
            raise
        finally:
            self.inflight.discard(agent)

    async def aclose(self) -> None:
        return None


def core_for(config: Path, provider: Any, **kw: Any) -> AsyncAgentOrchestrator:
    return AsyncAgentOrchestrator(config, provider=provider, enable_cache=False, **kw)


def set_workflows(config: Path, **changes: Any) -> None:
    raw = json.loads(config.read_text())
    raw["workflows"].update(changes)
    config.write_text(json.dumps(raw))


def set_section(config: Path, section: str, **values: Any) -> None:
    raw = json.loads(config.read_text())
    raw.setdefault(section, {}).update(values)
    config.write_text(json.dumps(raw))
