"""An offline, deterministic stand-in for Claude — always labelled as simulated.

The text is built from the request (agent role and task) with a seeded generator, so the same
request gives the same answer; token usage is estimated from text length; latency follows a
configurable model (time to first token + per-output-token time, with jitter).
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ..messages import MessageRequest, MessageResponse, Usage
from ..streaming import TextSink, current_sink

SIMULATED_BANNER = "[SIMULATED RESPONSE — generated offline by claude-force, not by Claude]"


@dataclass(frozen=True, slots=True)
class LatencyModel:
    """Seconds to first token, seconds per output token, and ± jitter as a fraction."""

    first_token_s: float = 0.0
    per_token_s: float = 0.0
    jitter: float = 0.0

    def delay(self, output_tokens: int, rng: random.Random) -> float:
        base = self.first_token_s + self.per_token_s * output_tokens
        if self.jitter and base:
            base *= 1 + rng.uniform(-self.jitter, self.jitter)
        return max(0.0, base)


LATENCY_PRESETS: dict[str, LatencyModel] = {
    "instant": LatencyModel(),
    "fast": LatencyModel(first_token_s=0.05, per_token_s=0.0005, jitter=0.1),
    "realistic": LatencyModel(first_token_s=0.6, per_token_s=0.004, jitter=0.2),
    "slow": LatencyModel(first_token_s=2.0, per_token_s=0.02, jitter=0.2),
}


_WORDS = re.compile(r"\s*\S+|\s+")  # a word with the spaces before it


def estimate_tokens(text: str) -> int:
    """About four characters per token for English text and code (never below 1)."""
    return max(1, (len(text) + 3) // 4)


_FINDINGS = [
    "The main path is sound, but error handling around external calls needs explicit timeouts.",
    "Inputs are not validated at the boundary; validate once there and pass typed values inward.",
    "Two responsibilities share one function; split them so each can be tested alone.",
    "The hot path repeats work per call that could be computed once and reused.",
    "Failure modes are logged but not surfaced to the caller; return or raise a clear error.",
    "Names describe mechanics rather than intent; rename to what the values mean.",
    "Concurrency is unbounded here; put a limit on in-flight work.",
    "Secrets could reach logs through this path; redact them before formatting.",
]
_STEPS = [
    "Write a failing test that captures the expected behaviour.",
    "Make the smallest change that passes it, then refactor.",
    "Measure before and after on a representative input.",
    "Document the decision and its trade-offs next to the code.",
    "Add a guard for the edge case at the boundary.",
    "Review the change with the owner of the neighbouring module.",
]


def _role(request: MessageRequest) -> str:
    for block in request.system:
        m = re.search(r"^#\s+(.+)$", block.text, re.MULTILINE)
        if m:
            return m.group(1).strip()
    return "Assistant"


def simulate_text(request: MessageRequest, seed: int = 0) -> str:
    """Deterministic, plausible, clearly labelled text for ``request``."""
    digest = hashlib.sha256(repr((seed, request.model, request.to_api())).encode()).digest()
    rng = random.Random(digest)
    task = request.messages[-1].content.strip() if request.messages else ""
    first_line = task.splitlines()[0][:160] if task else "(no task)"
    findings = rng.sample(_FINDINGS, 3)
    steps = rng.sample(_STEPS, 3)
    lines = [
        SIMULATED_BANNER,
        "",
        f"## {_role(request)}: response",
        "",
        f"**Task:** {first_line}",
        "",
        "### Findings",
        *[f"{i}. {f}" for i, f in enumerate(findings, 1)],
        "",
        "### Recommended steps",
        *[f"- {s}" for s in steps],
        "",
        f"_Simulated with model id `{request.model}`; reference {digest.hex()[:12]}._",
    ]
    return "\n".join(lines)


class SimulatedProvider:
    """Offline provider: no key, no network, deterministic output, simulated latency."""

    name = "simulated"
    simulated = True

    def __init__(
        self,
        *,
        latency: LatencyModel | str = "instant",
        seed: int = 0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.latency = LATENCY_PRESETS[latency] if isinstance(latency, str) else latency
        self.seed = seed
        self._sleep = sleep
        self.calls = 0

    async def send(self, request: MessageRequest) -> MessageResponse:
        self.calls += 1
        text = simulate_text(request, self.seed)
        output_tokens = estimate_tokens(text)
        stop_reason = "end_turn"
        if output_tokens > request.max_tokens:
            text = text[: request.max_tokens * 4]
            output_tokens = request.max_tokens
            stop_reason = "max_tokens"
        digest = hashlib.sha256(text.encode()).hexdigest()
        rng = random.Random(digest)
        delay = self.latency.delay(output_tokens, rng)
        sink = current_sink()
        if sink is not None:
            await self._stream(text, delay, sink)
        elif delay:
            await self._sleep(delay)
        return MessageResponse(
            text=text,
            model=request.model,
            stop_reason=stop_reason,
            usage=Usage(
                input_tokens=estimate_tokens(request.prompt_text),
                output_tokens=output_tokens,
            ),
            request_id=f"sim_req_{digest[:20]}",
            message_id=f"sim_msg_{digest[20:40]}",
            provider=self.name,
            simulated=True,
        )

    async def _stream(self, text: str, delay: float, sink: TextSink) -> None:
        """Hand ``text`` to ``sink`` word by word over ``delay`` seconds: the first word after
        the latency model's time to first token, each next one after its per-token time."""
        words = _WORDS.findall(text)
        m = self.latency
        base = m.first_token_s + m.per_token_s * estimate_tokens(text)
        scale = delay / base if base else 0.0  # the jitter drawn for this answer, kept
        for i, word in enumerate(words):
            wait = (m.first_token_s if i == 0 else 0.0) + m.per_token_s * estimate_tokens(word)
            if wait * scale:
                await self._sleep(wait * scale)
            sink(word)

    async def aclose(self) -> None:
        return None
