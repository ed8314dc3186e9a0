"""Ways to run the emulator outside a test's event loop: a daemon thread, or the CLI's server."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
from types import TracebackType
from typing import Any, TextIO

from ..providers.simulated import LatencyModel
from .emulator import Emulator
from .faults import FaultSpec


class EmulatorThread:
    """Runs an :class:`Emulator` on its own event loop in a daemon thread, for synchronous code.

    ``with EmulatorThread(faults="script:429,ok") as emu: urlopen(emu.base_url + "/v1/messages")``.
    Reading ``emu.requests`` from the caller's thread is safe once a response was received.
    """

    def __init__(self, **options: Any) -> None:
        self.emulator = Emulator(**options)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self.emulator.start())
        except BaseException as exc:  # reported to the starting thread
            self._error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(self.emulator.stop())
            loop.close()

    def __enter__(self) -> Emulator:
        self._thread = threading.Thread(target=self._run, name="claude-force-emulator", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            raise self._error
        return self.emulator

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)


async def serve(
    port: int = 0,
    latency: str | LatencyModel = "instant",
    faults: FaultSpec | str | None = None,
    *,
    host: str = "127.0.0.1",
    seed: int = 0,
    api_key: str | None = None,
    out: TextIO | None = None,
) -> None:
    """Serve until cancelled, after printing the URL (for ``claude-force emulator``)."""
    async with Emulator(
        host=host, port=port, latency=latency, faults=faults, seed=seed, api_key=api_key
    ) as emu:
        stream = out if out is not None else sys.stdout
        spec = emu.faults.spec.text
        print(f"Messages API emulator (simulated answers) listening on {emu.base_url}", file=stream)
        print(
            f"  faults: {spec}; latency: {latency if isinstance(latency, str) else 'custom'}",
            file=stream,
        )
        print(
            f"  use it with: ANTHROPIC_BASE_URL={emu.base_url} ANTHROPIC_API_KEY=test", file=stream
        )
        stream.flush()
        await asyncio.Event().wait()


def run_forever(
    host: str = "127.0.0.1",
    port: int = 0,
    latency: str | LatencyModel = "instant",
    faults: FaultSpec | str | None = None,
    *,
    seed: int = 0,
) -> None:
    """Blocking :func:`serve` for a command line; returns on Ctrl-C."""
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(port, latency, faults, host=host, seed=seed))
