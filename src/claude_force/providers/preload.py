"""Load the provider before the clock: the SDK import and the client, off every timer and loop.

Importing ``anthropic`` 2.x costs about 2 s of CPU on a small machine, and building its client
reads the CA bundle. Done inside the first execution, that time lands in the first steps'
durations, in latency percentiles and anomaly baselines, and on the event loop of a running
batch. So:

* the CLI calls :func:`start_sdk_import` while it parses arguments and loads the project (a
  background thread; Python's import lock makes a later ``import anthropic`` wait for it);
* :func:`prepare` makes every provider of a pipeline ready (``ready()``: the client exists for
  the running event loop) — the orchestrator awaits it when opened or entered and before any
  execution or workflow timer starts, the server in its start-up, before it answers ``/readyz``.
"""

from __future__ import annotations

import logging
import threading
from typing import Protocol, runtime_checkable

log = logging.getLogger(__name__)

_lock = threading.Lock()
_thread: threading.Thread | None = None


def _import_sdk() -> None:
    try:
        import anthropic  # noqa: F401  (the import is the point: it fills sys.modules)
    except Exception as exc:  # pragma: no cover - a broken install shows up at the real import
        log.debug("background import of the anthropic SDK failed: %s", exc)


def start_sdk_import() -> threading.Thread:
    """Start importing the ``anthropic`` SDK in a daemon thread (once per process)."""
    global _thread
    with _lock:
        if _thread is None:
            _thread = threading.Thread(
                target=_import_sdk, name="claude-force-sdk-import", daemon=True
            )
            _thread.start()
        return _thread


def sdk_import_started() -> bool:
    return _thread is not None


@runtime_checkable
class Preparable(Protocol):
    """A provider that can make itself ready before the first request (e.g. build its client)."""

    async def ready(self) -> None: ...


def chain(provider: object) -> list[object]:
    """``provider`` and every provider it wraps (``inner``), outermost first."""
    out: list[object] = []
    seen: set[int] = set()
    current: object | None = provider
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        out.append(current)
        current = getattr(current, "inner", None)
    return out


async def prepare(provider: object) -> None:
    """Make every provider in ``provider``'s chain ready for the running event loop.

    Each ``ready()`` does its blocking work (SDK import, client construction) in a worker thread,
    never on the loop. Cheap once ready.
    """
    for p in chain(provider):
        if isinstance(p, Preparable):
            await p.ready()
