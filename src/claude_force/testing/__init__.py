"""Test tooling: a local Messages API emulator with fault injection, and a scripted provider.

``async with Emulator(faults="script:429,ok") as emu:`` serves the Messages API on
``emu.base_url`` (127.0.0.1, an ephemeral port) so that the official ``anthropic`` SDK — and so
:class:`~claude_force.providers.anthropic.AnthropicProvider` — can be exercised over real HTTP.
"""

from __future__ import annotations

from ._accounting import RateLimits
from .emulator import FAULT_HEADER, Emulator, RecordedRequest
from .faults import Fault, FaultInjector, FaultSpec, parse_faults
from .runner import EmulatorThread, run_forever, serve
from .scripted import ScriptedProvider

__all__ = [
    "FAULT_HEADER",
    "Emulator",
    "EmulatorThread",
    "Fault",
    "FaultInjector",
    "FaultSpec",
    "RateLimits",
    "RecordedRequest",
    "ScriptedProvider",
    "parse_faults",
    "run_forever",
    "serve",
]
