"""What the cache may do, decided without I/O (pure, clock injected by the caller).

* whether a call uses the cache at all (``--no-cache``, per-agent opt-out) or only refreshes it
  (``--refresh``);
* whether a response may be stored (complete answers only: never errors, never ``max_tokens``
  cut-offs, tool calls awaiting results, refusals);
* when an entry expires (exactly ``ttl`` after it was written: live while ``now < expires_at``);
* whether an entry fits the byte bound at all.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from ..callctx import CallContext
from ..messages import MessageResponse

MIB = 1024 * 1024

Mode = Literal["bypass", "refresh", "normal"]

# stop reasons of a finished, self-contained answer; anything else is never stored
STORABLE_STOP_REASONS = frozenset({"end_turn", "stop_sequence"})


@dataclass(frozen=True, slots=True)
class CachePolicy:
    ttl_seconds: float
    max_bytes: int
    exclude_agents: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if not self.ttl_seconds > 0:
            raise ValueError(f"ttl_seconds must be positive, got {self.ttl_seconds}")
        if self.max_bytes <= 0:
            raise ValueError(f"max_bytes must be positive, got {self.max_bytes}")

    @classmethod
    def from_settings(
        cls, ttl_hours: float, max_size_mb: float, exclude_agents: Iterable[str] = ()
    ) -> CachePolicy:
        return cls(
            ttl_seconds=ttl_hours * 3600.0,
            max_bytes=max(1, int(max_size_mb * MIB)),  # a positive setting is at least a byte
            exclude_agents=frozenset(exclude_agents),
        )

    # --- per call ---------------------------------------------------------------------------------

    def admits_agent(self, agent: str | None) -> bool:
        return agent is None or agent not in self.exclude_agents

    def mode(self, ctx: CallContext) -> Mode:
        """``bypass``: neither read nor write; ``refresh``: write only; ``normal``: read and write."""
        if not ctx.use_cache or not ctx.cache_allowed or not self.admits_agent(ctx.agent):
            return "bypass"
        return "refresh" if ctx.refresh else "normal"

    # --- per response -----------------------------------------------------------------------------

    @staticmethod
    def refusal_reason(response: MessageResponse, requested_model: str | None = None) -> str | None:
        """Why ``response`` must not be stored, or ``None`` when it may be.

        An answer from another model than the one requested (a fallback model answered while the
        requested one was failing) is not stored under the requested model's key.
        """
        if response.cached:
            return "already a cached answer"
        if response.stop_reason not in STORABLE_STOP_REASONS:
            return f"incomplete response (stop_reason {response.stop_reason!r})"
        if requested_model and response.model and not response.model.startswith(requested_model):
            return f"answered by {response.model!r}, not the requested {requested_model!r}"
        return None

    # --- time and size ----------------------------------------------------------------------------

    def expires_at(self, now: float) -> float:
        return now + self.ttl_seconds

    @staticmethod
    def is_live(expires_at: float, now: float) -> bool:
        """An entry expires exactly ``ttl`` after it was written."""
        return now < expires_at

    def fits(self, size: int) -> bool:
        """An entry larger than the whole bound is never stored."""
        return size <= self.max_bytes
