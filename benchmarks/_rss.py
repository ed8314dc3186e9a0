"""Peak RSS of this process, for the benchmark's child scripts (import-light: stdlib only, so the
bare-SDK script's start-up is not slowed by it)."""

from __future__ import annotations

import resource


def peak_rss_mb() -> float:
    """This process's peak RSS: VmHWM, which starts afresh at exec. (``ru_maxrss`` keeps the
    peak of the process that forked us: under a full benchmark run, the runner's ~2 GB.)"""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
