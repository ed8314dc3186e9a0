"""Fakes shared by the resilience tests: a scripted provider and an event recorder."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from claude_force.errors import status_error
from claude_force.events import EventBus
from claude_force.messages import ChatMessage, MessageRequest, MessageResponse, Usage
from claude_force.testing import ScriptedProvider

Outcome = BaseException | MessageResponse | None


def request(
    model: str = "claude-sonnet-5-5", text: str = "hello", max_tokens: int = 100
) -> MessageRequest:
    return MessageRequest(model=model, messages=(ChatMessage("user", text),), max_tokens=max_tokens)


def response(
    req: MessageRequest,
    *,
    input_tokens: int = 10,
    output_tokens: int = 5,
    headers: Sequence[tuple[str, str]] = (),
    cache_read: int = 0,
) -> MessageResponse:
    return MessageResponse(
        text=f"answer from {req.model}",
        model=req.model,
        stop_reason="end_turn",
        usage=Usage(input_tokens, output_tokens, 0, cache_read),
        provider="fake",
        headers=tuple(headers),
    )


def err(
    status: int | None, retry_after: float | None = None, should_retry: bool | None = None
) -> BaseException:
    if status is None:
        from claude_force.errors import ProviderConnectionError

        return ProviderConnectionError("connection dropped")
    return status_error(
        status, f"error {status}", retry_after=retry_after, should_retry=should_retry
    )


class Scripted(ScriptedProvider):
    """A provider whose n-th call has the n-th outcome (an exception to raise, a response, or
    ``None`` for a default response). ``gate`` (if set) is awaited inside every call."""

    def __init__(
        self,
        outcomes: Sequence[Outcome] = (),
        *,
        name: str = "fake",
        per_model: dict[str, list[Outcome]] | None = None,
    ) -> None:
        super().__init__(
            outcomes, per_model=per_model, name=name, simulated=False, respond=response
        )
        if per_model is not None:
            self.per_model = per_model  # the caller's lists: tests inspect what is left

    @property
    def calls(self) -> list[MessageRequest]:
        return self.requests


class Recorder:
    """Subscribes to a bus and keeps every event."""

    def __init__(self, bus: EventBus) -> None:
        self.events: list[Any] = []
        bus.subscribe(self.events.append)

    def of(self, cls: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, cls)]


def write_project(root: Any, resilience: dict[str, Any] | None = None, **extra: Any) -> Any:
    """A two-agent project (``alpha``, ``beta``) with an optional ``resilience`` section."""
    import json
    from pathlib import Path

    claude = Path(root) / ".claude"
    (claude / "agents").mkdir(parents=True, exist_ok=True)
    (claude / "agents" / "alpha.md").write_text("# Alpha\n\nAlpha answers.\n", encoding="utf-8")
    (claude / "agents" / "beta.md").write_text("# Beta\n\nBeta answers.\n", encoding="utf-8")
    config: dict[str, Any] = {
        "agents": {"alpha": {"file": "agents/alpha.md"}, "beta": {"file": "agents/beta.md"}},
        **extra,
    }
    if resilience is not None:
        config["resilience"] = resilience
    path = claude / "claude.json"
    path.write_text(json.dumps(config, indent=2), encoding="utf-8")
    return path
