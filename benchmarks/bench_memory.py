"""Agent memory: cold BM25 query over 100,000 sessions; repeated vs cold context load; a
context lookup when every session shares the task's common words (issue #10).

The corpus is synthetic but shaped like real task text: a verb phrase, two or three topic
nouns drawn from a Zipf-like distribution over ~1,200 technical words (so some topics are very
common and most are rare), and filler words. Sessions are spread over 8 agents and 120 days.
"Cold" means the query cache cannot answer: each cold sample is a different task text, and
the cache is emptied before it; "repeated" asks for the same task's context again.
"""

from __future__ import annotations

import asyncio
import random
import shutil
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _harness import Result, median, percentile
from claude_force.memory import MemoryService, MemorySettings, MemoryStore, SearchQuery

TITLE = "Agent memory (SQLite FTS5, BM25, LRU query cache)"

VERBS = [
    "review",
    "refactor",
    "write tests for",
    "document",
    "fix the bug in",
    "optimise",
    "add logging to",
    "migrate",
    "design",
    "audit the security of",
    "explain",
    "benchmark",
    "add retries to",
    "split",
    "type-annotate",
]
_ROOTS = (
    "auth login session token password oauth jwt cookie csrf cors cache redis memcached "
    "database postgres sqlite index query migration schema orm transaction deadlock lock "
    "api endpoint route handler middleware webhook grpc graphql rest pagination filter sort "
    "queue worker celery kafka consumer producer retry backoff timeout circuit breaker "
    "deploy kubernetes docker helm terraform ci pipeline build artifact release rollback "
    "react component state hook props render css layout flexbox grid animation form "
    "validation upload download stream buffer encoding unicode parser lexer compiler "
    "billing invoice payment refund subscription tax currency ledger report export csv "
    "email notification template sms push alert metric trace log dashboard latency "
    "throughput memory leak profiler thread async coroutine event loop scheduler cron"
)
ROOTS = _ROOTS.split()
SUFFIXES = ["", "s", "er", "ing", "_v2", "_service", "_client", "_store", "_util", "_handler"]
_FILLER = (
    "module function class file service layer path flow code logic config settings "
    "the for and with in of on our new old current legacy main shared"
)
FILLER = _FILLER.split()

N_SESSIONS = 100_000
AGENTS = [f"agent-{i}" for i in range(8)]


def _vocabulary(rng: random.Random) -> tuple[list[str], list[float]]:
    words = [r + s for r in ROOTS for s in SUFFIXES]
    rng.shuffle(words)
    weights = [1.0 / (i + 1) ** 0.9 for i in range(len(words))]
    return words, weights


def make_task(rng: random.Random, words: list[str], weights: list[float]) -> str:
    topics = rng.choices(words, weights=weights, k=rng.randint(2, 4))
    filler = rng.choices(FILLER, k=rng.randint(3, 8))
    parts = topics + filler
    rng.shuffle(parts)
    return f"{rng.choice(VERBS)} " + " ".join(parts)


def build(path: Path, n: int, seed: int = 7) -> tuple[MemoryStore, list[str]]:
    """A store at ``path`` with ``n`` sessions; returns it and a list of fresh query tasks."""
    rng = random.Random(seed)
    words, weights = _vocabulary(rng)
    now = datetime(2026, 11, 1, tzinfo=UTC)
    store = MemoryStore(path, MemorySettings(retention_days=0), clock=lambda: now)
    batch = []
    for i in range(n):
        created = now - timedelta(days=120) + timedelta(seconds=i * 120 * 86400 / n)
        batch.append(
            store.prepare(
                rng.choice(AGENTS),
                make_task(rng, words, weights),
                "Approach: " + " ".join(rng.choices(words + FILLER, k=60)),
                rng.random() < 0.9,
                model="claude-sonnet-5-5",
                input_tokens=rng.randint(200, 3000),
                output_tokens=rng.randint(100, 2000),
                execution_time_ms=rng.uniform(500, 20000),
                created_at=created,
            )
        )
        if len(batch) == 5000:
            store.add_prepared(batch)
            batch = []
    if batch:
        store.add_prepared(batch)
    queries = [make_task(rng, words, weights) for _ in range(400)]
    return store, queries


def _time(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def run(quick: bool) -> list[Result]:
    tmp = Path(tempfile.mkdtemp(prefix="cf-bench-memory-"))
    try:
        return _run(tmp, quick)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _run(tmp: Path, quick: bool) -> list[Result]:
    n = N_SESSIONS
    t0 = time.perf_counter()
    store, queries = build(tmp / "memory.db", n)
    load_s = time.perf_counter() - t0
    samples = 60 if quick else 200
    results = [
        Result("sessions stored", n, "sessions", detail=f"bulk insert {load_s:.1f}s"),
    ]

    def cold(q: SearchQuery) -> float:
        store.clear_query_cache()  # the cache cannot answer: this measures SQLite
        return _time(lambda: store.search(q))

    for label, agent in (("one agent (~12,500 sessions)", "agent-3"), ("all agents", None)):
        qs = [SearchQuery(t, agent=agent, limit=10) for t in queries[:samples]]
        for q in qs[:5]:
            cold(q)  # warm SQLite's page cache
        times = [cold(q) * 1000 for q in qs]
        p50, p95 = median(times), percentile(times, 95)
        results.append(
            Result(
                f"cold query, 100k sessions, {label} (p50)",
                p50,
                "ms",
                "≤ 20 ms",
                p50 <= 20,
                f"p95 {p95:.1f} ms",
            )
        )

    # repeated vs cold context load, through the async service the orchestrator uses
    service = MemoryService(store)

    async def context_loads() -> tuple[list[float], list[float]]:
        cold_t, warm_t = [], []
        for task in queries[:samples]:
            store.clear_query_cache()
            t = time.perf_counter()
            await service.context_for("agent-3", task)
            cold_t.append(time.perf_counter() - t)
            t = time.perf_counter()
            await service.context_for("agent-3", task)
            warm_t.append(time.perf_counter() - t)
        await service.aclose()
        return cold_t, warm_t

    cold_t, warm_t = asyncio.run(context_loads())
    c50, w50 = median(cold_t) * 1000, median(warm_t) * 1000
    speedup = c50 / w50
    results += [
        Result(
            "context load, cold (p50)",
            c50,
            "ms",
            "",
            None,
            f"p95 {percentile(cold_t, 95) * 1000:.2f} ms",
        ),
        Result(
            "context load, repeated (p50)",
            w50,
            "ms",
            "",
            None,
            f"p95 {percentile(warm_t, 95) * 1000:.3f} ms",
        ),
        Result("repeated vs cold context load (p50)", speedup, "×", "≥ 10×", speedup >= 10),
    ]

    # the same, without the executor hop (the sync AgentMemory face)
    sync_cold, sync_warm = [], []
    for task in queries[:samples]:
        store.clear_query_cache()
        sync_cold.append(_time(lambda task=task: store.context_for("agent-3", task)))
        sync_warm.append(_time(lambda task=task: store.context_for("agent-3", task)))
    s = median(sync_cold) / median(sync_warm)
    results.append(
        Result(
            "repeated vs cold, sync API (p50)",
            s,
            "×",
            "",
            None,
            f"cold {median(sync_cold) * 1000:.2f} ms, repeated {median(sync_warm) * 1e6:.0f} µs",
        )
    )
    results.append(common_words_row(tmp / "common.db", samples))
    size = sum(f.stat().st_size for f in tmp.glob("memory.db*"))
    results.append(
        Result("database size", size / 2**20, "MiB", detail="sessions + both FTS indexes")
    )
    store.close()
    return results


COMMON_SESSIONS = 1000


def common_words_row(path: Path, samples: int) -> Result:
    """Issue #10's shape: one agent's sessions all share the task's words ("check", "function",
    "module", "bugs"; the numbers differ). Those words are in every session — BM25 gives them no
    weight — so they are not searched on and a new task of that shape gets no context; what is
    left to pay is counting each term's sessions (up to half of them)."""
    now = datetime(2026, 11, 1, tzinfo=UTC)
    store = MemoryStore(path, MemorySettings(retention_days=0), clock=lambda: now)
    store.add_prepared(
        store.prepare(
            "worker",
            f"Check function {i} of module {i % 9} for bugs.",
            "Looked at it: no bug.",
            True,
            model="claude-sonnet-5-5",
            created_at=now - timedelta(seconds=COMMON_SESSIONS - i),
        )
        for i in range(COMMON_SESSIONS)
    )
    tasks = [
        f"Check function {i} of module {i % 9} for bugs." for i in range(10**6, 10**6 + samples)
    ]
    store.context_with_ids("worker", "warm up")
    times, shown = [], 0
    for task in tasks:
        t0 = time.perf_counter()
        shown += len(store.context_with_ids("worker", task)[1])
        times.append((time.perf_counter() - t0) * 1000)
    store.close()
    return Result(
        f"context lookup, {COMMON_SESSIONS:,} sessions sharing the task's common words (p50)",
        median(times),
        "ms",
        detail=f"p95 {percentile(times, 95):.3f} ms; {shown} sessions shown for {len(tasks)} "
        "new tasks (words in at least half the sessions are not searched on)",
    )
