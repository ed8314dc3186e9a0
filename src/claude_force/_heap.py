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
``cli/_gc.py``, or the application) and both do nothing.

While engines run, the youngest generation is also collected less often: its threshold goes from
the interpreter's default of 700 net allocations to :data:`GEN0_WHILE_RUNNING`. A run in flight
allocates thousands of short-lived containers (the SDK's request and response models, httpx's
headers, our records); with the default, the collector ran a young pass every few calls and
promoted what was merely in flight to older generations, walked again later. Measured at 1,000
runs in flight: 279–295 → 300–335 calls/s, peak RSS unchanged (docs/tuning.md). Only the
interpreter's default thresholds are changed (an application that tuned its own is left alone),
and they are restored when the last engine closes, unless someone changed them meanwhile.

``CLAUDE_FORCE_GC_FREEZE=0`` turns both off: the collector is left exactly as it is.

**The GIL's switch interval** goes from the interpreter's default of 5 ms to
:data:`SWITCH_WHILE_RUNNING` (1 ms) while engines run, under the same rule (only the default is
changed; restored by the last close unless someone changed it meanwhile). The engine's storage
runs on worker threads (SQLite for the cache, memory and metrics), which write in batches: when
the event loop's thread wants the GIL back while a worker runs Python, it waits until the
worker lets go — up to the switch interval. With 5 ms, a batch write that met a call added up to
5 ms to it (issue #10's overhead benchmark: p99 +2.9 ms over the bare SDK, median of 4 runs;
+1.4 ms with 1 ms, p50 unchanged). The cost is more frequent switches between busy threads.
``CLAUDE_FORCE_SWITCH_INTERVAL`` sets another interval in seconds (``0``: leave it alone).
"""

from __future__ import annotations

import gc
import os
import sys
import threading

_lock = threading.Lock()
_holders = 0
_ours = False  # the permanent generation is ours to unfreeze
_thresholds: tuple[int, int, int] | None = None  # the thresholds ours replaced, to restore

DEFAULT_THRESHOLDS = (700, 10, 10)  # CPython's own (gc.get_threshold() in a fresh process)
GEN0_WHILE_RUNNING = 10_000
"""The youngest generation's threshold while engines run (the older two keep the default 10)."""
DEFAULT_SWITCH_INTERVAL = 0.005  # CPython's own (sys.getswitchinterval() in a fresh process)
SWITCH_WHILE_RUNNING = 0.001
"""The GIL's switch interval while engines run (seconds; ``CLAUDE_FORCE_SWITCH_INTERVAL``)."""
_switch: float | None = None  # the interval ours replaced, to restore
_ours_switch: float | None = None  # the interval we set


def _switch_wanted() -> float | None:
    raw = os.environ.get("CLAUDE_FORCE_SWITCH_INTERVAL", "").strip()
    if not raw:
        return SWITCH_WHILE_RUNNING
    try:
        value = float(raw)
    except ValueError:
        return SWITCH_WHILE_RUNNING  # (a typo must not stop a run; the default applies)
    return value if value > 0 else None


def _lower_switch() -> None:
    global _switch, _ours_switch
    wanted = _switch_wanted()
    if wanted is not None and sys.getswitchinterval() == DEFAULT_SWITCH_INTERVAL:
        _switch = DEFAULT_SWITCH_INTERVAL
        sys.setswitchinterval(wanted)
        _ours_switch = sys.getswitchinterval()  # (as the interpreter stored it)


def _restore_switch() -> None:
    global _switch, _ours_switch
    if _switch is not None and sys.getswitchinterval() == _ours_switch:  # nobody changed it
        sys.setswitchinterval(_switch)
    _switch = _ours_switch = None


def _enabled() -> bool:
    return os.environ.get("CLAUDE_FORCE_GC_FREEZE", "1").strip().lower() not in ("0", "false", "no")


def hold() -> bool:
    """An engine starts running: freeze the heap if it is the first and nobody else froze it.
    Returns whether this call froze it."""
    global _holders, _ours, _thresholds
    with _lock:
        _holders += 1
        if _holders == 1:
            _lower_switch()
        if _holders > 1 or not _enabled():
            return False
        if gc.get_threshold() == DEFAULT_THRESHOLDS:
            _thresholds = DEFAULT_THRESHOLDS
            gc.set_threshold(GEN0_WHILE_RUNNING, *DEFAULT_THRESHOLDS[1:])
        if gc.get_freeze_count():
            return False
        gc.freeze()
        _ours = True
        return True


def release() -> bool:
    """An engine closed: unfreeze when it was the last and the freeze was ours. Returns whether
    this call unfroze."""
    global _holders, _ours, _thresholds
    with _lock:
        _holders = max(0, _holders - 1)
        if _holders:
            return False
        _restore_switch()
        if _thresholds is not None:
            if gc.get_threshold() == (GEN0_WHILE_RUNNING, *_thresholds[1:]):  # nobody changed it
                gc.set_threshold(*_thresholds)
            _thresholds = None
        if not _ours:
            return False
        _ours = False
        gc.unfreeze()
        return True
