"""Usage accounting of the emulator: prompt-cache hits and the per-minute rate-limit window."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from ..messages import MessageRequest
from ..providers.simulated import estimate_tokens

Headers = list[tuple[str, str]]


class PromptCache:
    """Which system prefixes (up to a ``cache_control`` breakpoint) are cached, and until when."""

    def __init__(self, *, min_tokens: int = 0, clock: Callable[[], float] = time.monotonic):
        self.min_tokens = min_tokens
        self._clock = clock
        self._expiry: dict[tuple[str, tuple[str, ...]], float] = {}

    def clear(self) -> None:
        self._expiry.clear()

    def account(self, request: MessageRequest) -> tuple[int, int, int]:
        """Tokens (written for 5 minutes, written for 1 hour, read) of this request's system prefix."""
        now = self._clock()
        breakpoints = [i for i, b in enumerate(request.system) if b.cache]
        if not breakpoints:
            return 0, 0, 0
        read = 0
        for i in reversed(breakpoints):  # the longest prefix still cached is read
            key = (request.model, tuple(b.text for b in request.system[: i + 1]))
            if self._expiry.get(key, 0.0) > now:
                read = self._tokens(key[1])
                break
        last = breakpoints[-1]
        total = self._tokens(tuple(b.text for b in request.system[: last + 1]))
        if total < self.min_tokens:
            return 0, 0, 0
        for i in breakpoints:
            key = (request.model, tuple(b.text for b in request.system[: i + 1]))
            ttl = 3600.0 if request.system[i].cache_ttl == "1h" else 300.0
            self._expiry[key] = max(self._expiry.get(key, 0.0), now + ttl)
        written = max(0, total - read)
        one_hour = request.system[last].cache_ttl == "1h"
        return (0, written, read) if one_hour else (written, 0, read)

    @staticmethod
    def _tokens(texts: tuple[str, ...]) -> int:
        return estimate_tokens("\n".join(texts))


# --- rate limits ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RateLimits:
    """Per-window limits reported (and enforced) by the emulator."""

    requests: int = 4000
    input_tokens: int = 2_000_000
    output_tokens: int = 400_000
    window_s: float = 60.0


class RateWindow:
    """A fixed window: usage counts up from the first request until the window resets."""

    def __init__(self, limits: RateLimits, *, clock: Callable[[], float] = time.time) -> None:
        self.limits = limits
        self._clock = clock
        self.reset()

    def reset(self) -> None:
        self._start = self._clock()
        self.requests = self.input_tokens = self.output_tokens = 0

    def _roll(self) -> float:
        now = self._clock()
        if now >= self._start + self.limits.window_s:
            self.reset()
        return now

    def admit(self) -> float | None:
        """Count one request; or, when a limit is used up, the seconds until the window resets."""
        now = self._roll()
        lim = self.limits
        if (
            self.requests >= lim.requests
            or self.input_tokens >= lim.input_tokens
            or self.output_tokens >= lim.output_tokens
        ):
            return max(0.0, self._start + lim.window_s - now)
        self.requests += 1
        return None

    def charge(self, input_tokens: int, output_tokens: int) -> None:
        self.input_tokens += input_tokens
        self.output_tokens += output_tokens

    def headers(self) -> Headers:
        self._roll()
        reset = datetime.fromtimestamp(self._start + self.limits.window_s, UTC)
        stamp = reset.isoformat(timespec="seconds").replace("+00:00", "Z")
        out: Headers = []
        for name, limit, used in (
            ("requests", self.limits.requests, self.requests),
            ("input-tokens", self.limits.input_tokens, self.input_tokens),
            ("output-tokens", self.limits.output_tokens, self.output_tokens),
        ):
            prefix = f"anthropic-ratelimit-{name}"
            out += [
                (f"{prefix}-limit", str(limit)),
                (f"{prefix}-remaining", str(max(0, limit - used))),
                (f"{prefix}-reset", stamp),
            ]
        return out
