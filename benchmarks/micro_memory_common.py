"""Micro benchmark (issue #10): a memory context lookup when the agent's sessions share the
task's words — the shape of the overhead and in-flight rows of ``bench_whole.py``.

For each size N, a fresh store holds N sessions of one agent (``Check function {i} of module
{i % 9} for bugs.``, as the overhead row stores them), then ``context_with_ids`` is timed for
200 new, distinct tasks of the same shape (every query is a cache miss). Also timed: the same
for ``task {i}`` tasks (the in-flight row), a task with an informative word, and the per-term
count statement alone. Not a ``bench_*`` module: run it by hand,

    flock /work/heavy.lock ../.venv/bin/python micro_memory_common.py [N ...]
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from claude_force.memory import MemorySettings, MemoryStore
from claude_force.memory import sqlite_backend as memsql
from claude_force.memory.records import query_terms

AGENT = "worker"
SAMPLES = 200


def _p50(fn: Callable[[int], object], start: int, n: int = SAMPLES) -> float:
    times = []
    for i in range(start, start + n):
        t0 = time.perf_counter()
        fn(i)
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2] * 1000


def _store(path: Path, tasks: list[str]) -> MemoryStore:
    now = datetime(2026, 12, 1, tzinfo=UTC)
    store = MemoryStore(path, MemorySettings(retention_days=0), clock=lambda: now)
    store.add_prepared(
        [
            store.prepare(
                AGENT,
                t,
                f"Answer {i}: looked, found nothing.",
                True,
                model="m",
                created_at=now - timedelta(seconds=len(tasks) - i),
            )
            for i, t in enumerate(tasks)
        ]
    )
    return store


def _counts_ms(store: MemoryStore, task: str, budget: int) -> float:
    db = store._db
    assert isinstance(db, memsql.SessionDB)
    index = db._index_of(AGENT)
    assert index is not None
    terms = query_terms(task)
    n = db._indexed(AGENT)
    cap_of = getattr(memsql, "count_cap", None)
    cap = budget + 1 if cap_of is None else cap_of(n, budget)
    return _p50(lambda _i: db._doc_counts(index, terms, cap), 0, 100)


def main(sizes: list[int]) -> None:
    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}")
    new_rule = hasattr(memsql, "count_cap")
    print(f"rule in this tree: {new_rule}")
    tmp = Path(tempfile.mkdtemp(prefix="cf-micro-mem-"))
    try:
        for n in sizes:
            store = _store(
                tmp / f"o{n}.db",
                [f"Check function {i} of module {i % 9} for bugs." for i in range(n)],
            )
            store.context_with_ids(AGENT, "warm up")

            def overhead_task(i: int, store: MemoryStore = store) -> object:
                return store.context_with_ids(
                    AGENT, f"Check function {i} of module {i % 9} for bugs."
                )

            a = _p50(overhead_task, n + 1000)
            hits = len(
                store.context_with_ids(AGENT, f"Check function {n + 5000} of module 2 for bugs.")[1]
            )

            def informative(i: int, store: MemoryStore = store) -> object:
                # "{i}" of an earlier session: a rare word, plus the common ones
                return store.context_with_ids(AGENT, f"Check function {i} of module 3 for races.")

            b = _p50(informative, 10, SAMPLES)
            c = _counts_ms(store, "Check function 123456 of module 3 for bugs.", 4000)
            store.close()
            inflight = _store(tmp / f"i{n}.db", [f"task {i}" for i in range(n)])
            inflight.context_with_ids(AGENT, "warm up")
            d = _p50(lambda i, s=inflight: s.context_with_ids(AGENT, f"task {i}"), n + 1000)
            inflight.close()
            print(
                f"N={n:>5}: overhead-shaped task p50 {a:.3f} ms (shown {hits}); "
                f"with an informative word p50 {b:.3f} ms; "
                f"per-term counts alone p50 {c:.3f} ms; 'task {{i}}' p50 {d:.3f} ms"
            )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [330, 1000, 4000])
