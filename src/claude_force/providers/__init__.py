"""Model providers: the real Anthropic API and an offline simulation, behind one protocol."""

from .base import Provider, ProviderWrapper
from .simulated import LATENCY_PRESETS, SIMULATED_BANNER, LatencyModel, SimulatedProvider

__all__ = [
    "LATENCY_PRESETS",
    "SIMULATED_BANNER",
    "LatencyModel",
    "Provider",
    "ProviderWrapper",
    "SimulatedProvider",
]
