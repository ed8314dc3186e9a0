"""Choose the provider: the real API when a key is configured, else the labelled simulation."""

from __future__ import annotations

import sys

from ..config.schema import ProviderSettings
from .anthropic import AnthropicProvider
from .base import Provider
from .simulated import SimulatedProvider

_announced = False

SIMULATION_NOTICE = (
    "claude-force: no ANTHROPIC_API_KEY configured — using the SIMULATED model "
    "(offline; responses are generated locally, not by Claude). Set ANTHROPIC_API_KEY to use Claude."
)
FORCED_NOTICE = (
    "claude-force: --simulate — using the SIMULATED model "
    "(offline; responses are generated locally, not by Claude)."
)


def announce(message: str) -> None:
    """Print the simulation notice once per process, on stderr."""
    global _announced
    if not _announced:
        _announced = True
        print(message, file=sys.stderr)


def choose_provider(
    settings: ProviderSettings,
    *,
    api_key: str | None = None,
    simulate: bool | None = None,
) -> Provider:
    key = api_key
    forced = simulate if simulate is not None else settings.simulate
    if forced or not key:
        announce(FORCED_NOTICE if forced else SIMULATION_NOTICE)
        return SimulatedProvider(latency=settings.latency, seed=settings.seed)
    return AnthropicProvider(
        key, base_url=settings.base_url, timeout_seconds=settings.timeout_seconds
    )
