"""Response cache: hit latency with 100,000 entries (SQLite, Redis) and a replayed workload.

* Hit latency: ``ResponseStore.get`` of a random stored key — the full hit path: one SQLite
  transaction (or two Redis scripts) that reads the entry, checks the HMAC, decodes and
  validates the payload, moves it to the front of the LRU order and adds the hit and the saving
  to the persistent counters. The cache is filled with 100,000 signed entries of ~1.3 KB
  (10,000 with ``--quick``) before timing.
* Replayed workload: 2,000 agent runs through the real pipeline (orchestrator → cache →
  simulated provider), where half the runs repeat an earlier task (``--quick``: 400). Figures:
  hit rate, and the share of the cost that the cache saved.
"""

from __future__ import annotations

import asyncio
import gc
import os
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import Result, median, percentile
from claude_force.cache.codec import EntryPayload, StoredUsage
from claude_force.cache.policy import CachePolicy
from claude_force.cache.records import Record
from claude_force.cache.redis_backend import RedisBackend
from claude_force.cache.secret import SecretSource
from claude_force.cache.sqlite_backend import SqliteBackend
from claude_force.cache.store import ResponseStore
from claude_force.catalog import builtin_catalog

TITLE = "Response cache (SQLite default, Redis; signed entries, LRU, single-flight)"

SECRET = SecretSource(b"benchmark-secret-0123456789abcdef")
REDIS_URL = "redis://127.0.0.1:6379/15"
TEXT = "A cached answer. " * 60  # ~1 KB of response text


def _records(store: ResponseStore, n: int, now: float) -> list[Record]:
    out = []
    for i in range(n):
        key = f"{i:064x}"
        entry = EntryPayload(
            key=key,
            namespace="sim",
            agent=f"agent-{i % 12}",
            model="claude-sonnet-5-5",
            created_at=now,
            expires_at=now + 86_400,
            duration_s=1.5,
            preview=f"task {i}",
            text=TEXT,
            response_model="claude-sonnet-5-5",
            stop_reason="end_turn",
            usage=StoredUsage(input_tokens=1200, output_tokens=300),
            provider="simulated",
            simulated=True,
        )
        payload = entry.encode()
        out.append(
            Record(
                key=key,
                namespace="sim",
                agent=entry.agent,
                model=entry.model,
                created_at=now,
                expires_at=entry.expires_at,
                payload=payload,
                sig=store.signer.sign(key, payload),
            )
        )
    return out


def _fill_sqlite(path: Path, records: list[Record], now: float) -> None:
    """Bulk insert (one transaction) with the totals the backend keeps, for a fast set-up."""
    conn = sqlite3.connect(path)
    with conn:
        conn.executemany(
            "INSERT INTO entries(key, namespace, agent, model, created_at, expires_at, "
            "last_used_at, seq, size, hits, payload, sig) VALUES (?,?,?,?,?,?,?,?,?,0,?,?)",
            [
                (
                    r.key,
                    r.namespace,
                    r.agent,
                    r.model,
                    r.created_at,
                    r.expires_at,
                    now,
                    i + 1,
                    r.size,
                    r.payload,
                    r.sig,
                )
                for i, r in enumerate(records)
            ],
        )
        for name, value in (
            ("seq", len(records)),
            ("entries", len(records)),
            ("bytes", sum(r.size for r in records)),
        ):
            conn.execute("UPDATE counters SET value = ? WHERE name = ?", (value, name))
    conn.close()


async def _time_hits(store: ResponseStore, n_entries: int, samples: int) -> list[float]:
    gc.collect()  # the set-up's garbage (100,000 records) is not the cache's cost
    gc.freeze()
    rng = random.Random(7)
    keys = [f"{rng.randrange(n_entries):064x}" for _ in range(samples + 200)]
    for key in keys[:200]:  # warm-up
        assert await store.get(key) is not None
    out = []
    for key in keys[200:]:
        t0 = time.perf_counter()
        hit = await store.get(key)
        out.append(time.perf_counter() - t0)
        assert hit is not None
    gc.unfreeze()
    return out


async def _hop_floor(samples: int) -> list[float]:
    """The machine's floor: one empty round trip event loop → worker thread → event loop."""
    from concurrent.futures import ThreadPoolExecutor

    loop = asyncio.get_running_loop()
    out = []
    with ThreadPoolExecutor(max_workers=1) as pool:
        for _ in range(samples):
            t0 = time.perf_counter()
            await loop.run_in_executor(pool, int)
            out.append(time.perf_counter() - t0)
    return out


async def _sqlite_hits(n: int, samples: int) -> tuple[list[float], int]:
    tmp = Path(tempfile.mkdtemp(prefix="cf-bench-cache-"))
    try:
        path = tmp / "cache.db"
        store = ResponseStore(
            SqliteBackend(path), CachePolicy(86_400, 2**40), SECRET, prices=PRICES
        )
        await store.open()
        now = time.time()
        records = _records(store, n, now)
        await store.aclose()
        _fill_sqlite(path, records, now)
        del records
        store = ResponseStore(
            SqliteBackend(path), CachePolicy(86_400, 2**40), SECRET, prices=PRICES
        )
        await store.open()
        entries = (await store.stats()).entries
        latencies = await _time_hits(store, n, samples)
        await store.aclose()
        return latencies, entries
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


async def _redis_hits(n: int, samples: int) -> tuple[list[float], int] | str:
    try:
        import redis.asyncio as aredis

        probe = aredis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
        await probe.ping()
        await probe.aclose()
    except Exception as exc:  # reported, not hidden
        return f"Redis not reachable on 127.0.0.1:6379 ({exc})"
    ping = []
    probe = aredis.Redis.from_url(REDIS_URL)
    for _ in range(samples):
        t0 = time.perf_counter()
        await probe.ping()
        ping.append(time.perf_counter() - t0)
    await probe.aclose()
    PING.extend(ping)
    prefix = f"cf-bench:{random.randrange(1 << 30):x}"
    backend = RedisBackend(REDIS_URL, prefix=prefix)
    store = ResponseStore(backend, CachePolicy(86_400, 2**40), SECRET, prices=PRICES)
    await store.open()
    try:
        now = time.time()
        records = _records(store, n, now)
        put = backend._scripts["put"]
        client = backend.client
        for start in range(0, n, 2000):
            async with client.pipeline(transaction=False) as pipe:
                for r in records[start : start + 2000]:
                    fields = [
                        "namespace", r.namespace, "agent", r.agent, "model", r.model,
                        "created_at", repr(r.created_at), "expires_at", repr(r.expires_at),
                        "payload", r.payload, "sig", r.sig, "last_used_at", repr(now), "hits", 0,
                    ]  # fmt: skip
                    await put(
                        keys=backend._keys4(r.key),
                        args=[r.key, 86_400_000, r.size, 2**40, repr(now),
                              f"{backend._base}:e:", len(fields), *fields],
                        client=pipe,
                    )  # fmt: skip
                await pipe.execute()
        del records
        entries = (await store.stats()).entries
        return await _time_hits(store, n, samples), entries
    finally:
        await store.clear()
        client = backend.client
        keys = [k async for k in client.scan_iter(match=prefix + "*", count=5000)]
        for start in range(0, len(keys), 5000):
            await client.delete(*keys[start : start + 5000])
        await store.aclose()


async def _replay(n_runs: int) -> dict[str, float]:
    """Half the runs repeat an earlier task; everything goes through the real pipeline."""
    from importlib import resources

    from claude_force.async_orchestrator import AsyncAgentOrchestrator
    from claude_force.providers.simulated import SimulatedProvider
    from claude_force.runner import RunOptions

    tmp = Path(tempfile.mkdtemp(prefix="cf-bench-replay-"))
    try:
        src = Path(str(resources.files("claude_force").joinpath("sample_project")))
        shutil.copytree(src, tmp / ".claude")
        rng = random.Random(11)
        agents = ["python-expert", "code-reviewer", "security-specialist", "test-engineer"]
        unique = [(rng.choice(agents), f"task {i}: review module {i}") for i in range(n_runs // 2)]
        runs = list(unique)
        for i in range(n_runs - len(unique)):  # a repeat of an earlier task, after it
            runs.insert(rng.randrange(len(unique) // 4 + i, len(runs) + 1), rng.choice(unique))
        provider = SimulatedProvider(latency="instant")
        async with AsyncAgentOrchestrator(
            tmp / ".claude" / "claude.json",
            provider=provider,
            enable_tracking=False,  # agent memory on, as on the defaults
        ) as core:
            cost_paid = cost_saved = 0.0
            hit_s: list[float] = []
            t0 = time.perf_counter()
            for agent, task in runs:
                ex = await core.execute(agent, task, RunOptions())
                assert ex.success, ex.errors
                if ex.cached:
                    cost_saved += float(ex.saved_cost_usd or 0)
                    hit_s.append(ex.duration_ms / 1000)
                else:
                    cost_paid += float(ex.cost_usd or 0)
            wall = time.perf_counter() - t0
            stats = await core.pipeline.store.stats()  # type: ignore[attr-defined]
        return {
            "runs": len(runs),
            "calls": provider.calls,
            "hit_rate": stats.hit_rate,
            "saved_share": cost_saved / (cost_paid + cost_saved),
            "cost_paid": cost_paid,
            "cost_saved": cost_saved,
            "store_saved": float(stats.cost_saved_usd),
            "hit_p50_ms": median(hit_s) * 1000,
            "wall_s": wall,
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


PRICES = builtin_catalog().prices
PING: list[float] = []  # Redis PING round trips: the machine's floor for the Redis figures


def run(quick: bool) -> list[Result]:
    n = 10_000 if quick else 100_000
    samples = 2_000 if quick else 10_000
    results: list[Result] = []

    floor = asyncio.run(_hop_floor(samples))
    floor99 = percentile(floor, 99) * 1000
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    results.append(
        Result(
            "Machine floor: empty loop→thread→loop hop p99",
            floor99,
            "ms",
            "",
            None,
            f"p50 {median(floor) * 1000:.3f} ms; load average {load:.1f} on {os.cpu_count()} CPUs",
        )
    )
    lat, entries = asyncio.run(_sqlite_hits(n, samples))
    p50, p99 = median(lat) * 1000, percentile(lat, 99) * 1000
    detail = f"{entries:,} entries, {samples:,} verified hits"
    results += [
        Result("SQLite hit p50", p50, "ms", "≤ 0.5 ms", p50 <= 0.5, detail),
        Result("SQLite hit p99", p99, "ms", "≤ 2 ms", p99 <= 2.0, detail),
    ]

    redis = asyncio.run(_redis_hits(n, samples))
    if isinstance(redis, str):
        results.append(Result("Redis hit p99", float("nan"), "ms", "≤ 2 ms", False, redis))
    else:
        rlat, rentries = redis
        rp50, rp99 = median(rlat) * 1000, percentile(rlat, 99) * 1000
        rdetail = (
            f"{rentries:,} entries on 127.0.0.1, {samples:,} verified hits (2 round trips); "
            f"floor: PING p50 {median(PING) * 1000:.3f} ms, p99 {percentile(PING, 99) * 1000:.3f} ms"
        )
        results += [
            Result("Redis hit p50", rp50, "ms", "", None, rdetail),
            Result("Redis hit p99", rp99, "ms", "≤ 2 ms", rp99 <= 2.0, rdetail),
        ]

    replay = asyncio.run(_replay(400 if quick else 2_000))
    rd = (
        f"{int(replay['runs'])} runs, {int(replay['calls'])} provider calls; "
        f"paid ${replay['cost_paid']:.4f}, saved ${replay['cost_saved']:.4f}"
    )
    results += [
        Result(
            "Replay hit rate (half repeat)",
            replay["hit_rate"] * 100,
            "%",
            "= 50 %",
            abs(replay["hit_rate"] - 0.5) < 1e-9,
            rd,
        ),
        Result(
            "Replay cost saved",
            replay["saved_share"] * 100,
            "%",
            "≥ 30 % (roadmap: 30–50 %)",
            replay["saved_share"] >= 0.30,
            "share of the no-cache cost",
        ),
        Result(
            "Replay hit, whole execution p50",
            replay["hit_p50_ms"],
            "ms",
            "< 100 ms (roadmap)",
            replay["hit_p50_ms"] < 100,
            "runner + pipeline + SQLite hit",
        ),
    ]
    return results
