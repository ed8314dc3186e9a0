"""Health of the call path: is the provider reachable, are breakers closed, is there headroom?

The reachability probe is the cheapest real request: ``POST /v1/messages/count_tokens`` (free,
no generation) through the official SDK, bypassing the breaker and retry layers so it tells the
truth even while a breaker is open. ``count_tokens`` answering does not prove that generation
works: with ``messages=True`` the probe also sends the smallest ``POST /v1/messages`` (the
one-word prompt "ping", ``max_tokens`` 1: about 8 input tokens and 1 output token, a tiny
fraction of a cent). Every report lists what it ``checked`` and what it did ``not_checked``. The simulated provider needs no probe. The probe's
``anthropic-ratelimit-*`` headers are fed to the rate limiter, so the headroom shown is the
API's own view when the API sends them.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from ..errors import ProviderError
from ..providers.anthropic import AnthropicProvider
from ..providers.base import Provider
from ..providers.sdk_errors import sdk_errors
from .buckets import parse_ratelimit_headers
from .hub import ResilienceHub

Status = Literal["healthy", "degraded", "unreachable"]

_DEGRADED_STATUSES = frozenset({429, 529})  # answering, but limited or overloaded


@dataclass(frozen=True, slots=True)
class Probe:
    """The outcome of one reachability probe."""

    provider: str
    model: str
    simulated: bool
    reachable: bool | None  # None: this provider has no cheap probe
    ok: bool
    latency_ms: float | None = None
    status: int | None = None
    error: str | None = None
    rate_limits: dict[str, dict[str, int | None]] = field(default_factory=dict)
    checked: tuple[str, ...] = ()  # the endpoints that answered this probe, in order
    not_checked: tuple[str, ...] = ()  # what this probe did not try, said plainly


COUNT_TOKENS = "POST /v1/messages/count_tokens"
MESSAGES = "POST /v1/messages"
MESSAGES_PROBE_NOTE = (
    f"{MESSAGES} (generation) was not tried: count_tokens answering does not prove it works; "
    "probe it with 'claude-force health --messages' (or server.ready_probe \"messages\")"
)


@dataclass(frozen=True, slots=True)
class HealthReport:
    status: Status
    checked_at: str
    probe: Probe
    breakers: list[dict[str, Any]]
    rate_limits: dict[str, Any]

    @property
    def exit_code(self) -> int:
        """0 healthy, 1 degraded or unreachable."""
        return 0 if self.status == "healthy" else 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "checked_at": self.checked_at,
            "provider": asdict(self.probe),
            "breakers": self.breakers,
            "rate_limits": self.rate_limits,
        }


def innermost(provider: Provider) -> Provider:
    """The provider at the bottom of a wrapper chain."""
    seen: set[int] = set()
    current: Any = provider
    while getattr(current, "inner", None) is not None and id(current) not in seen:
        seen.add(id(current))
        current = current.inner
    result: Provider = current
    return result


async def _count_tokens(provider: AnthropicProvider, model: str) -> dict[str, str]:
    """``count_tokens`` through the SDK; returns the response headers, raises ``ProviderError``."""
    with sdk_errors("the health probe timed out"):
        raw = await provider.client.messages.with_raw_response.count_tokens(
            model=model, messages=[{"role": "user", "content": "ping"}]
        )
        await raw.parse()
    return dict(raw.headers.items())


async def _messages(provider: AnthropicProvider, model: str) -> dict[str, str]:
    """The smallest generation: "ping" with ``max_tokens`` 1. Returns the response headers."""
    with sdk_errors("the messages probe timed out"):
        raw = await provider.client.messages.with_raw_response.create(
            model=model, max_tokens=1, messages=[{"role": "user", "content": "ping"}]
        )
        await raw.parse()
    return dict(raw.headers.items())


async def probe(
    provider: Provider,
    model: str,
    *,
    timeout_s: float = 10.0,
    hub: ResilienceHub | None = None,
    messages: bool = False,
) -> Probe:
    """Check that the provider behind ``provider`` answers (see the module docs); the headers
    of the answer adapt ``hub``'s rate limiter (default: the hub wrapping ``provider``).
    ``messages``: also send the minimal generation request (costs about 9 tokens)."""
    base = innermost(provider)
    name = base.name
    if base.simulated:
        return Probe(
            name,
            model,
            True,
            True,
            True,
            latency_ms=0.0,
            not_checked=("the simulated model answers locally: no API was contacted",),
        )
    if not isinstance(base, AnthropicProvider):
        return Probe(
            name,
            model,
            False,
            None,
            True,
            error="no cheap probe for this provider",
            not_checked=(f"{name}: nothing was sent",),
        )
    # Create the SDK client before timing the probe: importing the SDK and building its TLS
    # context read files, so it happens in a worker thread, never on the event loop.
    await asyncio.to_thread(lambda: base.client)
    t0 = time.perf_counter()
    checked: list[str] = []
    not_checked = () if messages else (MESSAGES_PROBE_NOTE,)
    try:
        async with asyncio.timeout(timeout_s):
            headers = await _count_tokens(base, model)
            checked.append(COUNT_TOKENS)
            if messages:
                headers = await _messages(base, model)
                checked.append(MESSAGES)
    except TimeoutError:
        return Probe(
            name,
            model,
            False,
            False,
            False,
            error=f"no answer within {timeout_s:g}s",
            checked=tuple(checked),
            not_checked=not_checked,
        )
    except ProviderError as exc:
        elapsed = (time.perf_counter() - t0) * 1000
        return Probe(
            name,
            model,
            False,
            exc.status is not None,
            False,
            latency_ms=round(elapsed, 2) if exc.status is not None else None,
            status=exc.status,
            error=(f"{MESSAGES}: " if len(checked) == 1 and messages else "") + str(exc),
            checked=tuple(checked),
            not_checked=not_checked,
        )
    elapsed = (time.perf_counter() - t0) * 1000
    limits: dict[str, dict[str, int | None]] = {
        kind: {"limit": lim, "remaining": rem}
        for kind, (lim, rem) in parse_ratelimit_headers(headers).items()
    }
    if hub is not None and hub.settings.rate_limits.enabled:
        hub.limiter.observe(model, headers)
    return Probe(
        name,
        model,
        False,
        True,
        True,
        latency_ms=round(elapsed, 2),
        status=200,
        rate_limits=limits,
        checked=tuple(checked),
        not_checked=not_checked,
    )


def assess(found: Probe, breakers: list[dict[str, Any]]) -> Status:
    """unreachable: the probe failed (other than 429/529); degraded: limited, overloaded or a
    breaker not closed; else healthy."""
    if not found.ok and found.status not in _DEGRADED_STATUSES:
        return "unreachable"
    if not found.ok or any(b["state"] != "closed" for b in breakers):
        return "degraded"
    return "healthy"


async def check_health(
    provider: Provider,
    model: str,
    *,
    hub: ResilienceHub | None = None,
    timeout_s: float = 10.0,
    messages: bool = False,
) -> HealthReport:
    """Probe the provider and report breaker states and rate-limit headroom of ``hub`` (the
    hub whose layers wrap ``provider``: an engine's ``hub``). ``messages``: see :func:`probe`."""
    found = await probe(provider, model, timeout_s=timeout_s, hub=hub, messages=messages)
    snap: dict[str, Any] = hub.snapshot() if hub is not None else {}
    breakers: list[dict[str, Any]] = snap.get("breakers", [])
    return HealthReport(
        status=assess(found, breakers),
        checked_at=datetime.now(UTC).isoformat(timespec="seconds"),
        probe=found,
        breakers=breakers,
        rate_limits=snap.get("rate_limits", {}),
    )
