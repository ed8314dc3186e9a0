"""Keep what start-up built out of the garbage collector's full passes (``gc.freeze``).

A full (generation 2) collection walks every object the collector tracks. After the imports
and the provider's client are built, a process holds ~180,000 of them (modules, classes, the
SDK's and the settings' pydantic schemas) that live as long as the process; with many runs in
flight, full collections come every second or so and each walks them all again (~80 ms of the
GIL each, at 1,000 runs in flight). ``gc.freeze()`` moves the objects alive at that moment to a
permanent generation the collector skips; objects made later are collected as before, and a
frozen object is still freed as soon as nothing refers to it (reference counting). The one
cost: a reference cycle that is already garbage when the freeze happens is never collected
(a one-time amount at start-up, not per run).

Done once per process, when the first engine has prepared its provider (before any run's
clock). ``CLAUDE_FORCE_GC_FREEZE=0`` turns it off (an application that manages the collector
itself).
"""

from __future__ import annotations

import gc
import os

_frozen = False


def freeze_startup_objects() -> bool:
    """Freeze the objects alive now, the first time in this process; False when it did nothing
    (done already, or turned off)."""
    global _frozen
    if _frozen or os.environ.get("CLAUDE_FORCE_GC_FREEZE", "1").strip() in ("0", "false", "no"):
        return False
    _frozen = True
    gc.freeze()
    return True
