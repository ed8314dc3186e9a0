"""The garbage collector in a ``claude-force`` process: off while it starts, frozen at exit.

Before a command does anything, its process imports a few hundred modules (the SDK alone defines
about a thousand classes) and builds the pydantic schemas of the settings. The collector's passes
over that growing heap cost about a tenth of the start-up's CPU; and at exit the interpreter's
last collections walk all of it again — about 0.3 s once the SDK is loaded — to free memory that
the operating system takes back a moment later anyway.

So the console script (never the Python API, nor ``main(argv)`` run in-process):

* disables the collector first thing (:func:`pause`);
* turns it back on when start-up is over (:func:`resume`): for a command that calls Claude when
  the SDK's background import has finished; for any other command as the command starts; never
  for a short read-only command (:func:`hold`, e.g. ``list agents``, ``cache stats``), which only
  reads and prints. Before turning it on, ``gc.freeze()`` moves what start-up built (modules,
  classes, schemas) to the permanent generation, which later collections skip;
* freezes the heap as its last exit handler (:func:`freeze`): exit handlers still run and
  files are still flushed and closed, objects are still released by reference counting; only the
  final cyclic collections are skipped (CPython never promised that objects alive at exit are
  finalized).

Garbage made in reference cycles during start-up is not collected (it is frozen with the rest):
a bounded, one-time amount.
"""

from __future__ import annotations

import atexit
import gc
import threading

_lock = threading.Lock()
_paused = False
_held = False


def pause() -> None:
    """Disable the collector for the start-up, and freeze the heap at exit (the handler
    registered here, first, runs last). Call once, before the heavy imports."""
    global _paused
    with _lock:
        if _paused or not gc.isenabled():
            return
        gc.disable()
        _paused = True
    atexit.register(freeze)


def hold(until_exit: bool) -> None:
    """``True``: a short command; :func:`startup_over` leaves the collector off until exit."""
    global _held
    _held = until_exit


def startup_over() -> None:
    """The command starts: the collector comes back on unless the command is held (or the
    SDK's import, still under way, will resume it)."""
    if not _held:
        resume()


def resume() -> None:
    """Freeze what start-up built, then enable the collector again (once; no-op unless paused)."""
    global _paused
    with _lock:
        if not _paused:
            return
        _paused = False
    gc.freeze()
    gc.enable()


def paused() -> bool:
    return _paused


def freeze() -> None:
    """Move every object to the permanent generation: the interpreter's final collections at
    exit then have (almost) nothing to walk."""
    gc.freeze()
