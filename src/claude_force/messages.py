"""Typed Messages API request and response, independent of any SDK.

Frozen dataclasses: they flow through the engine, the cache key and the metrics unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Role = Literal["user", "assistant"]
StopReason = Literal["end_turn", "max_tokens", "stop_sequence", "tool_use", "pause_turn", "refusal"]
CacheTTL = Literal["5m", "1h"]


@dataclass(frozen=True, slots=True)
class SystemBlock:
    """One text block of the system prompt; ``cache`` marks an Anthropic prompt-cache breakpoint."""

    text: str
    cache: bool = False
    cache_ttl: CacheTTL = "5m"

    def to_api(self) -> dict[str, object]:
        block: dict[str, object] = {"type": "text", "text": self.text}
        if self.cache:
            control: dict[str, str] = {"type": "ephemeral"}
            if self.cache_ttl != "5m":
                control["ttl"] = self.cache_ttl
            block["cache_control"] = control
        return block


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: Role
    content: str

    def to_api(self) -> dict[str, object]:
        return {"role": self.role, "content": self.content}


@dataclass(frozen=True, slots=True)
class MessageRequest:
    """Everything that determines a model response."""

    model: str
    messages: tuple[ChatMessage, ...]
    max_tokens: int = 4096
    system: tuple[SystemBlock, ...] = ()
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    stop_sequences: tuple[str, ...] = ()
    metadata_user_id: str | None = None

    def to_api(self) -> dict[str, object]:
        """Keyword arguments for ``messages.create``; optional fields only when set."""
        body: dict[str, object] = {
            "model": self.model,
            "max_tokens": self.max_tokens,
            "messages": [m.to_api() for m in self.messages],
        }
        if self.system:
            body["system"] = [b.to_api() for b in self.system]
        if self.temperature is not None:
            body["temperature"] = self.temperature
        if self.top_p is not None:
            body["top_p"] = self.top_p
        if self.top_k is not None:
            body["top_k"] = self.top_k
        if self.stop_sequences:
            body["stop_sequences"] = list(self.stop_sequences)
        if self.metadata_user_id is not None:
            body["metadata"] = {"user_id": self.metadata_user_id}
        return body

    @property
    def prompt_text(self) -> str:
        """All prompt text (system then messages), for token estimates."""
        return "\n".join([b.text for b in self.system] + [m.content for m in self.messages])


@dataclass(frozen=True, slots=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return (
            self.input_tokens
            + self.output_tokens
            + self.cache_creation_input_tokens
            + self.cache_read_input_tokens
        )

    @property
    def prompt_tokens(self) -> int:
        """All input-side tokens, cached or not (what decides a long-prompt price tier)."""
        return self.input_tokens + self.cache_creation_input_tokens + self.cache_read_input_tokens


@dataclass(frozen=True, slots=True)
class MessageResponse:
    text: str
    model: str
    stop_reason: str | None
    usage: Usage
    request_id: str | None = None
    message_id: str | None = None
    provider: str = "anthropic"
    simulated: bool = False
    cached: bool = False
    # a semantic cache hit: the similarity of this task to the cached one (None otherwise)
    semantic_similarity: float | None = None
    headers: tuple[tuple[str, str], ...] = field(default=(), compare=False)

    @property
    def complete(self) -> bool:
        """A response that ended on its own (not cut by ``max_tokens``)."""
        return self.stop_reason in ("end_turn", "stop_sequence")
