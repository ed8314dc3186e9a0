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


def simulation_notice(
    settings: ProviderSettings, *, api_key: str | None = None, simulate: bool | None = None
) -> str | None:
    """The notice to print when this choice means the simulated model, else ``None``."""
    forced = simulate if simulate is not None else settings.simulate
    if forced:
        return FORCED_NOTICE
    return None if api_key else SIMULATION_NOTICE


def choose_provider(
    settings: ProviderSettings,
    *,
    api_key: str | None = None,
    simulate: bool | None = None,
    quiet: bool = False,
) -> Provider:
    """The real provider when ``api_key`` is given (and simulation is not forced), else the
    simulated one, announced once on stderr unless ``quiet`` (the engine announces it when it
    first runs, not when it is assembled)."""
    notice = simulation_notice(settings, api_key=api_key, simulate=simulate)
    if notice is not None:
        if not quiet:
            announce(notice)
        return SimulatedProvider(latency=settings.latency, seed=settings.seed)
    return AnthropicProvider(
        api_key, base_url=settings.base_url, timeout_seconds=settings.timeout_seconds
    )
