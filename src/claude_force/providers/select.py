"""Choose the provider: the real API when a key is configured, else the labelled simulation.

``provider.simulate`` (or ``CLAUDE_FORCE_SIMULATE``) says what happens without a key:

* ``false`` (default) — the SIMULATED model answers, with a notice on stderr, and the run counts
  as a *fallback*: the command line then exits with status 3 (``fallback_flag.FALLBACK_EXIT``) instead of
  0, so a CI job never passes on simulated answers it did not ask for;
* ``"auto"`` — the same, but intended (the sample project written by ``init`` says so): exit 0;
* ``"never"`` — refused before anything runs (exit 2): for CI and production;
* ``true`` — always simulated, even with a key (like ``--simulate``).
"""

from __future__ import annotations

import sys

from .. import fallback_flag
from ..config.schema import ProviderSettings
from ..errors import ConfigurationError
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


def check_simulation_allowed(
    settings: ProviderSettings, *, api_key: str | None = None, simulate: bool | None = None
) -> None:
    """Raise a :class:`ConfigurationError` when no key is set (``api_key``: the resolved key)
    and simulation is ``"never"`` (an explicit ``--simulate`` still wins: it is not a silent
    fallback)."""
    if settings.simulate == "never" and not simulate and not api_key:
        raise ConfigurationError(
            "no ANTHROPIC_API_KEY, and the simulated model is switched off "
            "(provider.simulate / CLAUDE_FORCE_SIMULATE is 'never')",
            key="provider.simulate",
            hint="set ANTHROPIC_API_KEY (or pass --api-key); pass --simulate to run offline on "
            "purpose",
        )


def choose_provider(
    settings: ProviderSettings,
    *,
    api_key: str | None = None,
    simulate: bool | None = None,
) -> Provider:
    key = api_key  # resolved by the caller (``project.environment.key``)
    forced = simulate if simulate is not None else settings.simulate is True
    if not forced and not key:
        check_simulation_allowed(settings, api_key=api_key, simulate=simulate)
        if settings.simulate != "auto":
            fallback_flag.chosen()
    if forced or not key:
        announce(FORCED_NOTICE if forced else SIMULATION_NOTICE)
        return SimulatedProvider(latency=settings.latency, seed=settings.seed)
    return AnthropicProvider(
        key, base_url=settings.base_url, timeout_seconds=settings.timeout_seconds
    )
