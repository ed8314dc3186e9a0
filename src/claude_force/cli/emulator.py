"""``claude-force emulator``: serve the local Messages API emulator until Ctrl-C."""

from __future__ import annotations

import contextlib
from enum import StrEnum
from typing import Annotated

import typer

from ..errors import ConfigurationError, RunError


class LatencyPreset(StrEnum):
    instant = "instant"
    fast = "fast"
    realistic = "realistic"
    slow = "slow"


def emulator(
    port: Annotated[
        int, typer.Option("--port", "-p", min=0, max=65535, help="TCP port (0 = any free port).")
    ] = 8765,
    latency: Annotated[
        LatencyPreset, typer.Option("--latency", help="Simulated latency preset.")
    ] = LatencyPreset.realistic,
    faults: Annotated[
        str | None,
        typer.Option(
            "--faults",
            help="Fault spec, e.g. '429:0.1,529:0.05,drop:0.02' or 'script:ok,429,500'.",
        ),
    ] = None,
    host: Annotated[
        str, typer.Option("--host", help="Address to bind (keep 127.0.0.1 unless you mean it).")
    ] = "127.0.0.1",
    seed: Annotated[int, typer.Option("--seed", help="Seed of the fault draws.")] = 0,
) -> None:
    """Serve an Anthropic Messages API emulator (simulated answers, injectable faults).

    Point the SDK or claude-force at it with ANTHROPIC_BASE_URL=http://HOST:PORT.
    """
    import asyncio

    from ..testing import parse_faults, serve

    try:
        spec = parse_faults(faults)
    except ValueError as exc:
        raise ConfigurationError(
            str(exc), key="--faults", hint="see 'claude-force emulator --help'"
        ) from None
    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve(port, latency.value, spec, host=host, seed=seed))
    except OSError as exc:
        raise RunError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}",
            hint="choose another --port (0 picks a free one)",
        ) from None
