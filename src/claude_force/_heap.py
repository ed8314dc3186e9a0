"""Keep what start-up built out of the garbage collector's full passes while engines run.

A full (generation 2) collection walks every object the collector tracks. Once the imports are
done and the provider's client is built, a process holds ~180,000 of them (modules, classes, the
SDK's and the settings' pydantic schemas) that live as long as the process. With many runs in
flight, full collections come every second or so and each walks them all again (≈ 80 ms holding
the GIL, at 1,000 runs in flight: ~0.2 s of a 4.4 s run). ``gc.freeze()`` moves the objects
alive at that moment to a permanent generation that collections skip; objects made later are
collected as before, and a frozen object is still freed as soon as nothing refers to it.

:func:`hold` freezes when the first engine has prepared its provider (before any run's clock);
:func:`release` unfreezes (``gc.unfreeze()``) when the last engine closes, so a cycle that became
garbage meanwhile is collected then — nothing is kept for longer than engines run. When the
permanent generation is not empty at the first hold, something else manages it (the CLI's
``cli/_gc.py``, or the application) and both do nothing. ``CLAUDE_FORCE_GC_FREEZE=0`` turns it
off.
"""

from __future__ import annotations

import gc
import os
import threading

_lock = threading.Lock()
_holders = 0
_ours = False  # the permanent generation is ours to unfreeze


def _enabled() -> bool:
    return os.environ.get("CLAUDE_FORCE_GC_FREEZE", "1").strip().lower() not in ("0", "false", "no")


def hold() -> bool:
    """An engine starts running: freeze the heap if it is the first and nobody else froze it.
    Returns whether this call froze it."""
    global _holders, _ours
    with _lock:
        _holders += 1
        if _holders > 1 or not _enabled() or gc.get_freeze_count():
            return False
        gc.freeze()
        _ours = True
        return True


def release() -> bool:
    """An engine closed: unfreeze when it was the last and the freeze was ours. Returns whether
    this call unfroze."""
    global _holders, _ours
    with _lock:
        _holders = max(0, _holders - 1)
        if _holders or not _ours:
            return False
        _ours = False
        gc.unfreeze()
        return True
