"""The semantic cache: false hits, recall, lookup latency at 100,000 entries, and savings.

- Calibration: on the *train* part of ``benchmarks/data/semantic_pairs.json`` (360 hand-written
  task pairs for the sample agents, split by base task), the lowest threshold whose precision
  (with the false-hit guard) is at least 99 %; the configured default must not be below it.
- Precision and recall at the configured default (``cache.semantic.threshold``) on the
  *held-out* part. A "hit" pair is a paraphrase (the cached answer is right); a "miss" pair is a
  near-miss (other numbers, files, negation, language, opposite, other subject, more scope).
- The semantic lookup p50/p99 with 100,000 entries in one partition (the worst case: one agent,
  one model), through the SQLite store: without the task's embedding (store check + search +
  guard; the target) and with it; the nearest-neighbour search alone; how often the sign-bit
  prefilter returns the exact nearest neighbour; the load average beside the times.
- A replay through the orchestrator (simulated model, sample project): every base task, then its
  paraphrases and near-misses; the cost saved against the exact cache alone, and the wrong
  answers served (near-misses answered from the cache).
- Exact-cache hit latency with the semantic cache off and on (the exact lookup comes first).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import random
import shutil
import tempfile
import time
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from _harness import Result, median, percentile
from claude_force.cache.semantic import (
    PartitionIndex,
    SemanticCache,
    SqliteVectorStore,
    VectorRow,
    facts,
    refusal,
)
from claude_force.cache.semantic import index as index_module
from claude_force.config.schema import SemanticCacheSettings
from claude_force.embeddings import embeddings_available, load_embedder

TITLE = "Semantic cache: false hits, recall, lookup latency, savings"
DATA = Path(__file__).resolve().parent / "data" / "semantic_pairs.json"
DEFAULT = SemanticCacheSettings().threshold


def _scored(pairs: list[dict[str, str]]) -> list[tuple[dict[str, str], float, str | None]]:
    e = load_embedder()
    a = e.embed([p["cached"] for p in pairs])
    b = e.embed([p["new"] for p in pairs])
    sims = (a * b).sum(axis=1)

    def word_sim(x: list[str], y: list[str]) -> list[list[float]]:
        v = e.embed(x + y)
        out: list[list[float]] = (v[: len(x)] @ v[len(x) :].T).tolist()
        return out

    return [
        (p, float(s), refusal(facts(p["new"]), facts(p["cached"]), word_sim))
        for p, s in zip(pairs, sims, strict=True)
    ]


def _rates(scored: list[Any], threshold: float) -> tuple[float, float, int, int]:
    tp = sum(1 for p, s, g in scored if p["label"] == "hit" and s >= threshold and g is None)
    fp = sum(1 for p, s, g in scored if p["label"] == "miss" and s >= threshold and g is None)
    pos = sum(1 for p, _, _ in scored if p["label"] == "hit")
    precision = tp / (tp + fp) if tp + fp else 1.0
    return precision, tp / pos if pos else 0.0, tp, fp


MIN_TRAIN_RECALL = 0.65  # the recall target (60 %) plus a margin


def calibrate(train: list[Any]) -> float:
    """The highest threshold whose train recall (with the guard) is at least 65 %.

    A higher threshold is the only protection against near-misses that no guard rule knows, so
    the threshold is set as high as the recall target (with a margin) allows.
    """
    best = 0.6
    for t in np.arange(0.60, 0.99, 0.05):  # coarse steps: 210 pairs cannot tell 0.85 from 0.86
        if _rates(train, float(t))[1] >= MIN_TRAIN_RECALL:
            best = round(float(t), 2)
    return best


def _fill(real: np.ndarray, texts: list[str], n: int) -> tuple[np.ndarray, list[str]]:
    """``n`` synthetic task vectors near the real ones (a weighted mix of two real task vectors
    plus noise), each labelled with the text of its larger part: a dense partition in which
    every query has near neighbours, the hard case for the sign-bit prefilter."""
    rng = np.random.default_rng(5)
    parts = rng.integers(0, len(real), (n, 2))
    weights = rng.dirichlet([1.0, 1.0], n).astype(np.float32)
    fill = (real[parts] * weights[:, :, None]).sum(axis=1)
    fill += rng.standard_normal(fill.shape).astype(np.float32) * (2 / np.sqrt(real.shape[1]))
    fill /= np.linalg.norm(fill, axis=1, keepdims=True)
    labels = [texts[parts[i, int(weights[i, 1] > weights[i, 0])]] for i in range(n)]
    return fill.astype(np.float32), labels


def _timed_ms(samples: list[float]) -> str:
    return f"p50 {median(samples) * 1e3:.2f} ms, p99 {percentile(samples, 99) * 1e3:.2f} ms"


class _TimedEmbedder:
    """The embedder, counting the calls and the time spent embedding (to report the lookup
    without it)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name, self.dimension = inner.name, inner.dimension
        self.seconds = 0.0
        self.calls = 0

    def embed(self, texts: Any) -> Any:
        t0 = time.perf_counter()
        self.calls += 1
        try:
            return self.inner.embed(texts)
        finally:
            self.seconds += time.perf_counter() - t0


async def _lookups(
    cache: SemanticCache, timed: _TimedEmbedder, queries: list[str], vectors: np.ndarray
) -> tuple[float, list[float], list[float], int, int]:
    """The first lookup (it loads the partition from the store), then each query twice, the
    task's vector given: first with the new task's guard words not yet known, then known.
    Times the lookup without any embedding (the guard's word embeddings taken out) and with
    the guard's word embeddings."""
    t0 = time.perf_counter()
    await cache.match(PARTITION, "", vectors[0], 0.0)
    first = time.perf_counter() - t0
    bare: list[float] = []
    words: list[float] = []
    hits = 0
    embedding = 0  # first-pass lookups that embedded words
    for pass_ in range(2):
        for q, v in zip(queries, vectors, strict=True):
            before, calls = timed.seconds, timed.calls
            t0 = time.perf_counter()
            found = await cache.match(PARTITION, q, v, 0.0)
            spent = time.perf_counter() - t0
            words.append(spent)
            bare.append(spent - (timed.seconds - before))
            hits += found.match is not None and pass_ == 0
            embedding += timed.calls > calls and pass_ == 0
    await cache.aclose()
    return first, bare, words, hits, embedding


async def _whole(
    cache: SemanticCache, timed: _TimedEmbedder, queries: list[str]
) -> tuple[list[float], list[float], int]:
    """Whole lookups from the task's text in a new process (no word vector known to it): the
    task embedded, the search, the guard's words read from the store or embedded. Returns the
    times, the embedding time of each, and the most embedding calls one lookup made."""
    await cache.match(PARTITION, "", np.zeros(timed.dimension, dtype=np.float32), 0.0)  # load
    whole: list[float] = []
    embedding: list[float] = []
    most = 0
    for q in queries:
        calls, seconds = timed.calls, timed.seconds
        t0 = time.perf_counter()
        await cache.lookup(PARTITION, q, 0.0)
        whole.append(time.perf_counter() - t0)
        embedding.append(timed.seconds - seconds)
        most = max(most, timed.calls - calls)
    await cache.aclose()
    return whole, embedding, most


async def _store_words(store: Any, embedder: Any, tasks: list[str]) -> int:
    """The guard words of the cached base tasks, as ``SemanticCache.remember`` stores them when
    it writes an entry (the benchmark writes its rows in one transaction instead). The words
    found only in the paraphrases and near-misses — the queries, and the synthetic entries
    labelled with them — are left out, so a lookup embeds them (the unfavourable case)."""
    words = sorted({w for t in tasks for w in facts(t).specific})
    vectors = embedder.embed(words)
    await store.add_words(
        {w: v.astype("<f4").tobytes() for w, v in zip(words, vectors, strict=True)}
    )
    return len(words)


PARTITION = "bench"


def _latency(quick: bool, scored: list[Any]) -> list[Result]:
    e = load_embedder()
    n = 20_000 if quick else 100_000
    texts = sorted({p["cached"] for p, _, _ in scored} | {p["new"] for p, _, _ in scored})
    cached = sorted({p["cached"] for p, _, _ in scored})
    real = e.embed(cached)
    fill, labels = _fill(e.embed(texts), texts, n - len(cached))
    queries = [p["new"] for p, _, _ in scored]
    qv = e.embed(queries)
    load_before = os.getloadavg()

    index = PartitionIndex(real.shape[1], capacity=n)
    index.extend([f"r{i}" for i in range(len(fill))], labels, fill, [1e12] * len(fill))
    index.extend(cached, cached, real, [1e12] * len(cached))
    search: list[float] = []
    for _ in range(1 if quick else 3):
        for v in qv:
            t0 = time.perf_counter()
            index.search(v, 4)
            search.append(time.perf_counter() - t0)
    agree = total = 0
    for v in qv:
        nearest = index.search(v, 1)[0]
        if nearest.similarity >= DEFAULT:
            total += 1
            agree += nearest.key == index.exact(v)

    # the same entries through the semantic cache and its default store (SQLite)
    tmp = Path(tempfile.mkdtemp(prefix="cf-bench-semantic-lookup-"))
    try:
        store = SqliteVectorStore(tmp / "semantic.db")
        rows = [
            VectorRow(PARTITION, key, task, vec.astype("<f4").tobytes(), 1e12)
            for key, task, vec in itertools.chain(
                zip((f"r{i}" for i in range(len(fill))), labels, fill, strict=True),
                zip(cached, cached, real, strict=True),
            )
        ]
        asyncio.run(store.add_many(rows))
        n_words = asyncio.run(_store_words(store, e, cached))
        timed = _TimedEmbedder(e)
        cache = SemanticCache(store, DEFAULT, embedder=timed)
        first, bare, words, hits, embedded = asyncio.run(_lookups(cache, timed, queries, qv))
        timed = _TimedEmbedder(e)
        fresh = SemanticCache(SqliteVectorStore(tmp / "semantic.db"), DEFAULT, embedder=timed)
        whole, embedding, most = asyncio.run(_whole(fresh, timed, queries[: len(queries) // 3]))
        task_only = []
        for q in queries[: len(queries) // 3]:
            t0 = time.perf_counter()
            e.embed([q])
            task_only.append(time.perf_counter() - t0)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    load = f"load average {load_before[0]:.2f} before, {os.getloadavg()[0]:.2f} after"
    target = n == 100_000
    p99 = percentile(bare, 99) * 1e3
    return [
        Result(
            f"semantic lookup p99 without embeddings, {n:,} entries in one partition",
            p99,
            "ms",
            "≤ 10 ms" if target else "",
            p99 <= 10 if target else None,
            f"{_timed_ms(bare)}; SQLite store check + search + threshold + guard (the stored "
            "entries' word vectors read from the store), the task's vector given and the "
            f"embedding of its guard words taken out; {len(bare)} lookups, {hits} guarded hits "
            f"per round; {load}",
        ),
        Result(
            "… plus embedding the new task's guard words",
            percentile(words, 99) * 1e3,
            "ms (p99)",
            detail=f"{_timed_ms(words)}; the same lookups, each query twice: first its words "
            "that the synonym rule needs and no stored entry had embedded (one batch call at most; "
            f"{embedded} of {len(queries)} lookups needed one), then known (8,192 "
            f"words per process); the {n_words:,} words of the {len(cached)} cached base tasks "
            "were stored as when written, the words found only in the queries were not",
        ),
        Result(
            f"nearest-neighbour search alone, {n:,} entries",
            percentile(search, 99) * 1e3,
            "ms (p99)",
            detail=f"{_timed_ms(search)}; sign-bit prefilter + exact cosine of "
            f"{index_module.CANDIDATES} candidates",
        ),
        Result(
            "whole semantic lookup p99 (embedding the task and its guard words included)",
            percentile(whole, 99) * 1e3,
            "ms",
            detail=f"{_timed_ms(whole)}; a new process (no word vector known), "
            f"{len(whole)} tasks; embedding {_timed_ms(embedding)} of it, at most {most} "
            f"embedding calls per lookup; the task's embedding alone: {_timed_ms(task_only)}",
        ),
        Result(
            "prefilter returns the exact nearest neighbour",
            100.0 * agree / max(total, 1),
            "%",
            detail=f"{agree}/{total} queries whose nearest entry reaches the threshold, among "
            f"{n:,} entries of which {n - len(cached):,} synthetic near neighbours",
        ),
        Result(
            f"first lookup of a process ({n:,} entries loaded from SQLite)",
            first,
            "s",
            detail="once per process and partition; later lookups read only new rows",
        ),
    ]


async def _replay(pairs: list[dict[str, str]], semantic: bool) -> dict[str, Any]:
    from claude_force.async_orchestrator import AsyncAgentOrchestrator
    from claude_force.providers.simulated import SimulatedProvider
    from claude_force.runner import RunOptions

    tmp = Path(tempfile.mkdtemp(prefix="cf-bench-semantic-"))
    try:
        src = Path(str(resources.files("claude_force").joinpath("sample_project")))
        shutil.copytree(src, tmp / ".claude")
        config = tmp / ".claude" / "claude.json"
        data = json.loads(config.read_text())
        data["cache"]["semantic"] = {"enabled": semantic, "threshold": DEFAULT}
        config.write_text(json.dumps(data))
        rng = random.Random(3)
        bases: dict[str, list[dict[str, str]]] = {}
        for p in pairs:
            bases.setdefault(p["cached"], []).append(p)
        runs: list[tuple[str, str, str]] = []
        for base, items in bases.items():
            followers = [(items[0]["agent"], p["new"], p["label"]) for p in items]
            rng.shuffle(followers)
            runs += [(items[0]["agent"], base, "base"), *followers]
        paid = saved = 0.0
        wrong = hits = 0
        provider = SimulatedProvider(latency="instant")
        async with AsyncAgentOrchestrator(
            config, provider=provider, enable_tracking=False, enable_memory=False
        ) as core:
            for agent, task, label in runs:
                ex = await core.execute(agent, task, RunOptions())
                if ex.cached:
                    saved += float(ex.saved_cost_usd or 0)
                    hits += ex.semantic_similarity is not None
                    wrong += label == "miss"
                else:
                    paid += float(ex.cost_usd or 0)
        return {"runs": len(runs), "paid": paid, "saved": saved, "hits": hits, "wrong": wrong}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


async def _exact_hits(semantic: bool, n: int) -> list[float]:
    from claude_force.async_orchestrator import AsyncAgentOrchestrator
    from claude_force.providers.simulated import SimulatedProvider
    from claude_force.runner import RunOptions

    tmp = Path(tempfile.mkdtemp(prefix="cf-bench-semantic-exact-"))
    try:
        src = Path(str(resources.files("claude_force").joinpath("sample_project")))
        shutil.copytree(src, tmp / ".claude")
        config = tmp / ".claude" / "claude.json"
        data = json.loads(config.read_text())
        data["cache"]["semantic"] = {"enabled": semantic}
        config.write_text(json.dumps(data))
        out: list[float] = []
        async with AsyncAgentOrchestrator(
            config, provider=SimulatedProvider(latency="instant"), enable_tracking=False,
            enable_memory=False,
        ) as core:  # fmt: skip
            await core.execute("python-expert", "Review utils.py", RunOptions())
            for _ in range(n):
                ex = await core.execute("python-expert", "Review utils.py", RunOptions())
                assert ex.cached
                out.append(ex.duration_ms)
        return out
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(quick: bool) -> list[Result]:
    why = embeddings_available()
    if why is not None:
        return [Result("semantic cache", 0, "", "", False, f"embeddings unavailable: {why}")]
    pairs = json.loads(DATA.read_text(encoding="utf-8"))["pairs"]
    scored = _scored(pairs)
    train = [s for s in scored if s[0]["split"] == "train"]
    test = [s for s in scored if s[0]["split"] == "test"]
    chosen = calibrate(train)
    p_train, r_train, _, _ = _rates(train, DEFAULT)
    precision, recall, tp, fp = _rates(test, DEFAULT)
    results = [
        Result(
            "calibrated threshold (highest with train recall ≥ 65 %)",
            chosen,
            "",
            f"= default {DEFAULT}",
            abs(chosen - DEFAULT) < 1e-9,
            f"train at the default: precision {p_train:.1%}, recall {r_train:.1%}",
        ),
        Result(
            "held-out precision (semantic hits that were right)",
            precision * 100,
            "%",
            "≥ 99 %",
            precision >= 0.99,
            f"{tp} right, {fp} wrong at threshold {DEFAULT}; {len(test)} held-out pairs",
        ),
        Result(
            "held-out recall (paraphrases answered from the cache)",
            recall * 100,
            "%",
            "≥ 60 %",
            recall >= 0.60,
            f"{tp} of {sum(1 for p, _, _ in test if p['label'] == 'hit')} paraphrases",
        ),
    ]
    results += _latency(quick, scored)
    replay_pairs = [p for p, _, _ in scored if not quick or p["split"] == "test"]
    base = asyncio.run(_replay(replay_pairs, semantic=False))
    sem = asyncio.run(_replay(replay_pairs, semantic=True))
    total = base["paid"] + base["saved"]
    results += [
        Result(
            "replay: cost saved by the semantic cache",
            100.0 * (base["paid"] - sem["paid"]) / total if total else 0.0,
            "% of the exact-cache-only cost",
            detail=f"{sem['runs']} runs; {sem['hits']} semantic hits; exact only paid "
            f"${base['paid']:.4f}, with semantic ${sem['paid']:.4f} (simulated model, list prices)",
        ),
        Result(
            "replay: wrong answers served (near-misses answered from the cache)",
            sem["wrong"],
            "",
            "0",
            sem["wrong"] == 0,
            f"of {sum(1 for p in replay_pairs if p['label'] == 'miss')} near-miss runs",
        ),
    ]
    n = 50 if quick else 100
    off: list[float] = []
    on: list[float] = []
    for _ in range(3):  # alternated, so that a busy moment of the machine hits both alike
        off += asyncio.run(_exact_hits(False, n))
        on += asyncio.run(_exact_hits(True, n))
    results.append(
        Result(
            "exact hit p50, semantic off",
            median(off),
            "ms",
            detail=f"semantic on: {median(on):.3f} ms (the exact lookup runs first; off adds "
            "one attribute check to the path)",
        )
    )
    return results
