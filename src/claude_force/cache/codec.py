"""Entry payloads and their HMAC signatures.

A payload is JSON validated by pydantic on the way back in (a persisted record is an edge). The
signature is HMAC-SHA256 over a domain tag, the key and the payload, so an entry cannot be edited,
truncated, forged without the secret, or moved to another key.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..messages import MessageResponse, Usage

_DOMAIN = b"claude-force/response-cache/v1\x00"
SIG_BYTES = 32


class Signer:
    """Signs and verifies payloads with the cache secret (never shown in ``repr``)."""

    __slots__ = ("_secret", "key_id")

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("the cache secret must have at least 16 bytes")
        self._secret = secret
        #: identifies the secret without revealing it (Redis keyspaces are separated by it)
        self.key_id = hmac.new(secret, b"claude-force cache key id", hashlib.sha256).hexdigest()[
            :12
        ]

    def sign(self, key: str, payload: bytes) -> bytes:
        msg = _DOMAIN + key.encode("ascii", "replace") + b"\x00" + payload
        return hmac.new(self._secret, msg, hashlib.sha256).digest()

    def verify(self, key: str, payload: bytes, sig: bytes) -> bool:
        return len(sig) == SIG_BYTES and hmac.compare_digest(self.sign(key, payload), sig)

    def __repr__(self) -> str:
        return f"Signer(key_id={self.key_id!r})"


class StoredUsage(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    input_tokens: int = Field(ge=0)
    output_tokens: int = Field(ge=0)
    cache_creation_input_tokens: int = Field(default=0, ge=0)
    cache_read_input_tokens: int = Field(default=0, ge=0)

    def to_usage(self) -> Usage:
        return Usage(
            self.input_tokens,
            self.output_tokens,
            self.cache_creation_input_tokens,
            self.cache_read_input_tokens,
        )

    @classmethod
    def of(cls, u: Usage) -> StoredUsage:
        return cls(
            input_tokens=u.input_tokens,
            output_tokens=u.output_tokens,
            cache_creation_input_tokens=u.cache_creation_input_tokens,
            cache_read_input_tokens=u.cache_read_input_tokens,
        )


class EntryPayload(BaseModel):
    """The signed content of one entry."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    v: Literal[1] = 1  # KEY_VERSION: a new format never validates as this one
    key: str = Field(min_length=64, max_length=64)
    namespace: Literal["sim", "live", "compat"]
    agent: str
    model: str
    created_at: float
    expires_at: float
    duration_s: float = Field(ge=0)
    preview: str = ""
    text: str
    response_model: str
    stop_reason: str | None
    usage: StoredUsage
    request_id: str | None = None
    message_id: str | None = None
    provider: str
    simulated: bool
    estimated_cost: float | None = None  # given by ResponseCache.set (2.2 API)
    # the agent-memory sessions shown in the context the answer was produced with (the key
    # leaves memory out unless cache.key_includes_memory; see docs/caching.md)
    memory_sessions: list[str] = Field(default_factory=list)

    def encode(self) -> bytes:
        return self.model_dump_json().encode("utf-8")

    def to_response(self) -> MessageResponse:
        """The answer as served from the cache: the original usage, ``cached=True``."""
        return MessageResponse(
            text=self.text,
            model=self.response_model,
            stop_reason=self.stop_reason,
            usage=self.usage.to_usage(),
            request_id=self.request_id,
            message_id=self.message_id,
            provider=self.provider,
            simulated=self.simulated,
            cached=True,
        )


def decode(payload: bytes) -> EntryPayload | None:
    """The payload, or ``None`` when it is not a valid entry of this format."""
    try:
        return EntryPayload.model_validate_json(payload)
    except (ValidationError, ValueError, UnicodeDecodeError):
        return None
