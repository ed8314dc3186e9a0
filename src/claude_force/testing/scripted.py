"""A scripted provider for tests: each call gets the next scripted outcome, every request is kept.

Use it wherever a test needs a model that answers exactly as told, without HTTP::

    provider = ScriptedProvider([RateLimitError("slow down", status=429), None])
    orch = AsyncAgentOrchestrator(config, provider=provider)
    ex = await orch.execute("reviewer", "look at this")   # retried once, then answered
    assert len(provider.requests) == 2

An outcome is a :class:`~claude_force.messages.MessageResponse` (returned), an exception
(raised), a callable ``request -> response`` (sync or async), or ``None`` (``respond`` answers).
When the script runs out, ``respond`` answers every further call. Its answers are labelled
simulated unless ``simulated=False`` is passed (for tests of paths that treat real answers
differently, e.g. memory, which does not keep simulated sessions).
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Iterable, Mapping

from ..messages import MessageRequest, MessageResponse, Usage

Respond = Callable[[MessageRequest], MessageResponse | Awaitable[MessageResponse]]
Outcome = MessageResponse | BaseException | Respond | None

__all__ = ["Outcome", "Respond", "ScriptedProvider"]


class ScriptedProvider:
    """A :class:`~claude_force.providers.base.Provider` that plays a script.

    * ``outcomes`` — what the 1st, 2nd, … call gets; ``per_model`` — a separate script for the
      calls of a model (its calls do not consume ``outcomes``).
    * ``respond`` — the answer once the script is used up (default: ``"scripted answer to: …"``
      with ``usage``).
    * ``gate`` — when set, every call waits for this event first (to hold calls in flight).

    It records ``requests`` (in order), ``in_flight`` / ``max_in_flight`` and ``closed``.
    """

    def __init__(
        self,
        outcomes: Iterable[Outcome] = (),
        *,
        respond: Respond | None = None,
        per_model: Mapping[str, Iterable[Outcome]] | None = None,
        name: str = "scripted",
        simulated: bool = True,
        usage: Usage | None = None,
    ) -> None:
        self.name = name
        self.simulated = simulated
        self.outcomes: list[Outcome] = list(outcomes)
        self.per_model: dict[str, list[Outcome]] = {
            m: list(script) for m, script in (per_model or {}).items()
        }
        self.respond: Respond = respond or self._default_response
        self.usage = usage or Usage(input_tokens=100, output_tokens=50)
        self.requests: list[MessageRequest] = []
        self.gate: asyncio.Event | None = None
        self.in_flight = 0
        self.max_in_flight = 0
        self.closed = False

    def _default_response(self, request: MessageRequest) -> MessageResponse:
        last = request.messages[-1].content if request.messages else ""
        return MessageResponse(
            text=f"scripted answer to: {last}",
            model=request.model,
            stop_reason="end_turn",
            usage=self.usage,
            request_id=f"req_scripted_{len(self.requests)}",
            provider=self.name,
            simulated=self.simulated,
        )

    def _next(self, request: MessageRequest) -> Outcome:
        script = self.per_model.get(request.model, self.outcomes)
        return script.pop(0) if script else None

    async def send(self, request: MessageRequest) -> MessageResponse:
        self.requests.append(request)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.gate is not None:
                await self.gate.wait()
            item = self._next(request)
            if isinstance(item, BaseException):
                raise item
            if isinstance(item, MessageResponse):
                return item
            result = (item or self.respond)(request)
            if inspect.isawaitable(result):
                return await result
            return result
        finally:
            self.in_flight -= 1

    async def aclose(self) -> None:
        self.closed = True
