"""Peak RSS of this process, for the benchmark's child scripts (import-light: stdlib only, so the
bare-SDK script's start-up is not slowed by it)."""

from __future__ import annotations

import os
import resource
import sys


def without_packages() -> None:
    """Run this process as if the packages named in ``BENCH_WITHOUT`` (comma-separated) were not
    installed: importing one raises ``ImportError``, as for a package that is absent. Call it
    before the SDK is imported. The in-flight rows use it for ``aiohttp``, which the SDK imports
    at its own import whenever it is installed, and which the bench extra (LiteLLM) installs but
    claude-force does not depend on."""
    for name in filter(None, os.environ.get("BENCH_WITHOUT", "").split(",")):
        sys.modules[name] = None  # type: ignore[assignment]  # (how Python marks a blocked import)


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
