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

import importlib
import logging
import threading
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

log = logging.getLogger(__name__)

_lock = threading.Lock()
_thread: threading.Thread | None = None
_warmed = False

# A minimal Messages API answer: parsing it builds what the SDK builds at its first answer.
_SAMPLE_MESSAGE: dict[str, Any] = {
    "id": "msg_warm_up",
    "type": "message",
    "role": "assistant",
    "model": "claude-warm-up",
    "content": [{"type": "text", "text": "ok"}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {"input_tokens": 1, "output_tokens": 1},
}


def _import_sdk(then: Callable[[], None] | None) -> None:
    try:
        import anthropic  # noqa: F401  (the import is the point: it fills sys.modules)
    except Exception as exc:  # pragma: no cover - a broken install shows up at the real import
        log.debug("background import of the anthropic SDK failed: %s", exc)
    finally:
        if then is not None:
            then()


def start_sdk_import(then: Callable[[], None] | None = None) -> threading.Thread:
    """Start importing the ``anthropic`` SDK in a daemon thread (once per process); ``then`` is
    called in that thread when the import is over, failed or not (the CLI's start-up ends there:
    cli/_gc.py). A second call returns the thread of the first and ignores its ``then``."""
    global _thread
    with _lock:
        if _thread is None:
            _thread = threading.Thread(
                target=_import_sdk, args=(then,), name="claude-force-sdk-import", daemon=True
            )
            _thread.start()
        return _thread


def sdk_import_started() -> bool:
    return _thread is not None


def warm_sdk() -> None:
    """Pay the SDK's first-request costs here, once per process (blocking: a worker thread).

    At its first request the SDK's HTTP stack imports its async backend (anyio's asyncio module)
    and the trace-context propagator, and at its first answer it builds the schemas of the
    response types — together 50-100 ms on a small machine, which would otherwise land inside
    the first steps' durations (a workflow's engine wall over its critical path). Best effort:
    the SDK's private helpers are used when present; nothing here affects a request.
    """
    global _warmed
    with _lock:
        if _warmed:
            return
        _warmed = True
    try:
        importlib.import_module("anyio._backends._asyncio")
        from anthropic import _models, _tracing
        from anthropic.types import Message

        construct_type = getattr(_models, "construct_type", None)
        if construct_type is not None:
            construct_type(type_=Message, value=_SAMPLE_MESSAGE)
        injector = getattr(_tracing, "trace_context_injector", None)
        if injector is not None:
            injector()
    except Exception as exc:  # a warm-up must never fail the run: the first request pays then
        log.debug("warming the anthropic SDK up failed: %s", exc)


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
