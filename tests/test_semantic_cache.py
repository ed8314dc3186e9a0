"""The semantic cache end to end: partitions, stores, the pipeline, labels, stats and the CLI."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from _core_helpers import RecordingProvider, minimal_project
from _embed_helpers import FakeEmbedder, real_embedder
from claude_force.async_orchestrator import AsyncAgentOrchestrator
from claude_force.cache.semantic import (
    MemoryVectorStore,
    RedisVectorStore,
    SemanticCache,
    SqliteVectorStore,
    VectorRow,
    guards,
    partition_of,
)
from claude_force.cache.semantic import layer as layer_module
from claude_force.cli.app import app
from claude_force.messages import ChatMessage, MessageRequest, SystemBlock
from claude_force.runner import RunOptions

runner = CliRunner()

TASK = "Write pytest tests for the invoice total calculation"
PARAPHRASE = "Add pytest unit tests for calculating invoice totals"
NEAR_MISS = "Write pytest tests for the invoice tax calculation"


def semantic_project(tmp_path: Path, **cache: Any) -> Path:
    settings = {"backend": "sqlite", "semantic": {"enabled": True, "threshold": 0.8}, **cache}
    return minimal_project(tmp_path, cache=settings)


def _request(
    task: str, *, model: str = "m", system: str = "sys", temperature: float = 0.0
) -> MessageRequest:
    return MessageRequest(
        model=model,
        messages=(ChatMessage("user", f"context\n\n# Task\n\n{task}"),),
        max_tokens=100,
        system=(SystemBlock(system),),
        temperature=temperature,
    )


def test_partition_ignores_only_the_task_wording() -> None:
    p = partition_of(_request(TASK), TASK, namespace="live", provider="x")
    assert p is not None and p == partition_of(
        _request(PARAPHRASE), PARAPHRASE, namespace="live", provider="x"
    )
    others = [
        partition_of(_request(TASK, model="n"), TASK, namespace="live", provider="x"),
        partition_of(_request(TASK, system="other"), TASK, namespace="live", provider="x"),
        partition_of(_request(TASK, temperature=0.5), TASK, namespace="live", provider="x"),
        partition_of(_request(TASK), TASK, namespace="sim", provider="x"),
        partition_of(_request(TASK), TASK, namespace="live", provider="y"),
    ]
    assert p not in others and len(set(others)) == len(others)
    assert partition_of(_request(TASK), "not the task", namespace="live", provider="x") is None
    assert partition_of(_request(TASK), "  ", namespace="live", provider="x") is None


async def _contract(store: Any) -> None:
    v = np.arange(4, dtype=np.float32).tobytes()
    assert await store.count() == 0
    await store.add(VectorRow("p", "k1", "t1", v, 10.0))
    await store.add(VectorRow("p", "k2", "t2", v, 20.0))
    await store.add(VectorRow("q", "k3", "t3", v, 30.0))
    rows, cursor = await store.since("p", None)
    assert [r.key for r in rows] == ["k1", "k2"] and rows[0].array().tolist() == [0, 1, 2, 3]
    await store.add(VectorRow("p", "k4", "t4", v, 40.0))
    more, cursor2 = await store.since("p", cursor)
    assert [r.key for r in more] == ["k4"] and (await store.since("p", cursor2))[0] == []
    assert await store.count() == 4
    await store.add_words({"flaws": v, "bugs": v[:8]})
    await store.add_words({"bugs": v})  # written again: replaced, not duplicated
    assert await store.words(["bugs", "absent", "flaws"]) == {"bugs": v, "flaws": v}
    assert await store.words([]) == {}
    assert await store.count() == 4  # word vectors are not entries
    await store.remove("k1")
    assert await store.clear() >= 3 and await store.count() == 0
    assert await store.words(["bugs", "flaws"]) == {}
    await store.aclose()


async def test_memory_and_sqlite_vector_stores(tmp_path: Path) -> None:
    await _contract(MemoryVectorStore())
    store = SqliteVectorStore(tmp_path / "state" / "semantic.db")
    await _contract(store)
    assert await SqliteVectorStore(tmp_path / "absent.db").count() == 0
    assert await SqliteVectorStore(tmp_path / "absent.db").clear() == 0


@pytest.mark.services
async def test_redis_vector_store(redis_url: str) -> None:
    store = RedisVectorStore(redis_url, prefix="claude_force_test_i15:semantic:")
    await store.clear()
    await _contract(store)


async def run(config: Path, tasks: list[str], **opts: Any) -> tuple[list[Any], RecordingProvider]:
    provider = RecordingProvider()
    out = []
    async with AsyncAgentOrchestrator(config, provider=provider) as core:
        for task in tasks:
            out.append(await core.execute("alpha", task, RunOptions(**opts)))
    return out, provider


def test_a_paraphrase_is_a_labelled_semantic_hit(tmp_path: Path) -> None:
    real_embedder()
    config = semantic_project(tmp_path)
    (first, para, miss, exact), provider = asyncio.run(
        run(config, [TASK, PARAPHRASE, NEAR_MISS, TASK])
    )
    assert len(provider.requests) == 2  # the task and the near-miss
    assert para.cached and para.output == first.output and para.cost_usd == 0
    meta = para.to_agent_result().metadata
    assert meta["cache_match"] == "semantic" and meta["semantic_similarity"] >= 0.8
    assert not miss.cached and exact.cached
    assert exact.to_agent_result().metadata["cache_match"] == "exact"
    assert first.to_agent_result().metadata["cache_match"] is None

    result = runner.invoke(app, ["--config", str(config), "cache", "stats", "--json"])
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    sem = data["semantic"]
    assert sem["enabled"] and sem["threshold"] == 0.8 and sem["hits"] == 1
    assert sem["entries"] == 2 and sem["refusals"] >= 1 and float(sem["cost_saved_usd"]) >= 0
    assert data["hits"] == 2 and data["misses"] == 2  # one lookup per request, no double count
    text = runner.invoke(app, ["--config", str(config), "cache", "stats"])
    assert "semantic hits (of hits)" in text.stdout and "threshold 0.8" in text.stdout
    cleared = runner.invoke(app, ["--config", str(config), "cache", "clear", "--yes"])
    assert cleared.exit_code == 0
    after = json.loads(
        runner.invoke(app, ["--config", str(config), "cache", "stats", "--json"]).stdout
    )
    assert after["semantic"]["entries"] == 0


async def test_refresh_no_cache_and_agent_opt_out_bypass_it(tmp_path: Path) -> None:
    real_embedder()
    config = semantic_project(tmp_path)
    (_, refreshed), provider = await run(config, [TASK, PARAPHRASE], refresh=True)
    assert not refreshed.cached and len(provider.requests) == 2
    (_, uncached), provider = await run(config, [TASK, PARAPHRASE], use_cache=False)
    assert not uncached.cached and len(provider.requests) == 2

    data = json.loads(config.read_text())
    data["agents"]["alpha"]["semantic_cache"] = False
    config.write_text(json.dumps(data))
    (_, opted_out), provider = await run(
        config, ["Summarise the README", "Give a summary of the README"]
    )
    assert not opted_out.cached and len(provider.requests) == 2


async def test_off_by_default_and_without_the_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    config = minimal_project(tmp_path / "default")
    (_, para), provider = await run(config, [TASK, PARAPHRASE])
    assert not para.cached and len(provider.requests) == 2
    assert not (config.parent / "state" / "semantic.db").exists()  # nothing extra on the path

    monkeypatch.setenv("CLAUDE_FORCE_EMBEDDINGS", "off")
    config = semantic_project(tmp_path / "nomodel")
    with caplog.at_level(logging.WARNING, logger="claude_force"):
        (first, para), provider = await run(config, [TASK, PARAPHRASE])
    assert first.success and not para.cached and len(provider.requests) == 2
    assert "semantic cache is off" in caplog.text


async def test_a_failing_lookup_falls_through_to_the_provider(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    real_embedder()

    async def broken(self: SemanticCache, *a: Any, **k: Any) -> None:
        raise RuntimeError("index on fire")

    monkeypatch.setattr(SemanticCache, "lookup", broken)
    config = semantic_project(tmp_path)
    with caplog.at_level(logging.ERROR, logger="claude_force"):
        (_, para), provider = await run(config, [TASK, PARAPHRASE])
    assert para.success and not para.cached and len(provider.requests) == 2
    assert "semantic cache lookup failed" in caplog.text


async def test_an_evicted_answer_is_not_served_and_its_vector_is_dropped(tmp_path: Path) -> None:
    fake = FakeEmbedder()
    cache = SemanticCache(MemoryVectorStore(), 0.5, embedder=fake)
    vec = await cache.embed("alpha beta gamma")
    await cache.remember("p", "k1", "alpha beta gamma", vec, expires_at=100.0)
    await cache.remember("p", "k2", "alpha beta delta", None, expires_at=1.0)
    found = await cache.lookup("p", "alpha beta gamma", now=10.0)
    assert found is not None and found.match is not None and found.match.key == "k1"
    expired = await cache.lookup("p", "alpha beta delta", now=10.0)
    assert expired is not None and (expired.match is None or expired.match.key != "k2")
    cache.forget("p", "k1")
    cache.forget("nope", "k1")
    gone = await cache.lookup("p", "alpha beta gamma", now=10.0)
    assert gone is not None and (gone.match is None or gone.match.key != "k1")
    assert fake.embedded >= 4
    await cache.aclose()


async def test_unavailable_embedder_is_reported_once(tmp_path: Path) -> None:
    from claude_force.embeddings import EmbeddingsUnavailable

    def missing() -> Any:
        raise EmbeddingsUnavailable("no model here")

    cache = SemanticCache(MemoryVectorStore(), 0.8, loader=missing)
    assert await cache.lookup("p", "task", now=0.0) is None
    assert cache.unavailable == "no model here"
    await cache.remember("p", "k", "task", None, 1.0)  # nothing to index without a model
    assert await cache.store.count() == 0
    assert layer_module.NEIGHBOURS >= 1


def test_word_vectors_are_bounded_and_name_what_they_lack() -> None:
    words = layer_module.WordVectors(size=3)
    fake = FakeEmbedder()
    assert words.missing(["flaws", "bugs", "flaws"]) == ["flaws", "bugs"]
    words.add(["flaws", "bugs"], fake.embed(["flaws", "bugs"]))
    words.add(["defects", "errors"], fake.embed(["defects", "errors"]))  # the oldest goes
    assert words.missing(["flaws", "bugs", "errors"]) == ["flaws"]
    assert set(words.known(["bugs", "flaws"])) == {"bugs"}
    sims = words.similarity(["bugs"], ["bugs", "errors"])
    assert sims[0][0] == pytest.approx(1.0) and sims[0][1] < 0.99


CACHED_SYN = "Review the PR for the billing vulnerabilities"
NEW_SYN = "Review the PR for the billing flaws"


async def test_a_lookup_embeds_the_task_then_at_most_one_batch_of_its_own_words(
    tmp_path: Path,
) -> None:
    """The guard's synonym rule needs single-word vectors: the written entry's words are
    embedded and stored when it is written; a lookup embeds its task (one call) and, when the
    rule is reached, the new task's missing words (one more call, never the entry's words)."""
    fake = FakeEmbedder()
    store = SqliteVectorStore(tmp_path / "semantic.db")
    cache = SemanticCache(store, 0.3, embedder=fake)
    await cache.remember("p", "k1", CACHED_SYN, None, expires_at=100.0)
    needed = guards.words_needed(guards.facts(NEW_SYN), guards.facts(CACHED_SYN))
    assert needed == ["flaws", "vulnerabilities"]  # the pair reaches the synonym rule
    stored_words = list(guards.facts(CACHED_SYN).specific)
    assert fake.calls == [[CACHED_SYN], stored_words]  # the entry, then its words, once each
    assert set(await store.words(stored_words)) == set(stored_words)

    # another process: the entry's words come from the store, only the new word is embedded
    fake2 = FakeEmbedder()
    other = SemanticCache(SqliteVectorStore(tmp_path / "semantic.db"), 0.3, embedder=fake2)
    found = await other.lookup("p", NEW_SYN, now=0.0)
    assert found is not None and (found.match is None or found.match.key == "k1")
    assert fake2.calls == [[NEW_SYN], ["flaws"]]
    await other.lookup("p", NEW_SYN, now=0.0)  # its words are known now: the task only
    assert fake2.calls[2:] == [[NEW_SYN]]
    await other.remember("p", "k2", NEW_SYN, found.vector, expires_at=100.0)
    assert len(fake2.calls) == 3  # its words were embedded at the lookup: stored, not re-run
    assert "flaws" in await store.words(["flaws"])
    await other.aclose()
    await cache.aclose()


async def test_an_entry_without_stored_words_costs_one_batch_call_at_the_lookup() -> None:
    fake = FakeEmbedder()
    store = MemoryVectorStore()  # an entry written before word vectors were stored
    await store.add(VectorRow("p", "k1", CACHED_SYN, fake.embed([CACHED_SYN])[0].tobytes(), 9.0))
    fake.calls.clear()
    cache = SemanticCache(store, 0.3, embedder=fake)
    found = await cache.lookup("p", NEW_SYN, now=0.0)
    assert found is not None and found.refused + (found.match is not None) == 1
    assert fake.calls == [[NEW_SYN], ["flaws", "vulnerabilities"]]  # both sides, one call


async def test_the_guard_decides_alike_with_words_from_the_store_or_the_model(
    tmp_path: Path,
) -> None:
    embedder = real_embedder()
    results = []
    for prefill in (False, True):
        store = MemoryVectorStore()
        if prefill:  # an entry written before word vectors were stored: embedded at lookup
            vector = embedder.embed([CACHED_SYN])[0]
            await store.add(VectorRow("p", "k1", CACHED_SYN, vector.tobytes(), 100.0))
        cache = SemanticCache(store, 0.5, embedder=embedder)
        if not prefill:
            await cache.remember("p", "k1", CACHED_SYN, None, expires_at=100.0)
        found = await cache.lookup("p", NEW_SYN, now=0.0)
        assert found is not None
        results.append((found.match, found.refused))
    assert results[0] == results[1]
    expected = guards.check(NEW_SYN, CACHED_SYN, _word_similarity(embedder))
    assert (results[0][0] is None) == (expected is not None)


def _word_similarity(embedder: Any) -> Any:
    def sim(a: list[str], b: list[str]) -> list[list[float]]:
        v = embedder.embed(a + b)
        out: list[list[float]] = (v[: len(a)] @ v[len(a) :].T).tolist()
        return out

    return sim


async def test_a_loaded_store_is_indexed_in_one_piece(tmp_path: Path) -> None:
    fake = FakeEmbedder()
    store = SqliteVectorStore(tmp_path / "semantic.db")
    tasks = [f"summarise report number{i} for finance" for i in range(40)]
    vectors = fake.embed(tasks)
    pairs = enumerate(zip(tasks, vectors, strict=True))
    await store.add_many([VectorRow("p", f"k{i}", t, v.tobytes(), 100.0) for i, (t, v) in pairs])
    cache = SemanticCache(store, 0.5, embedder=fake)
    found = await cache.match("p", tasks[7], vectors[7], now=0.0)
    assert found.match is not None and found.match.key == "k7"
    await store.add(VectorRow("p", "k40", "a later row", vectors[3].tobytes(), 100.0))
    again = await cache.match("p", tasks[3], vectors[3], now=0.0)  # reads only the new row
    assert again.match is not None and again.match.key in {"k3", "k40"}
    assert len(cache._indexes["p"]) == 41
    await cache.aclose()


async def test_a_store_written_before_word_vectors_gains_the_words_table(tmp_path: Path) -> None:
    from dataclasses import replace

    from claude_force.cache.semantic import store as store_module
    from claude_force.state.sqlite import open_database

    path = tmp_path / "semantic.db"
    v1 = replace(store_module.SCHEMA, migrations=store_module.SCHEMA.migrations[:1])
    open_database(path, v1).conn.close()  # a version-1 file: vectors only
    store = SqliteVectorStore(path)
    v = np.ones(4, dtype=np.float32).tobytes()
    await store.add_words({"flaws": v})
    assert await store.words(["flaws"]) == {"flaws": v}
    await store.aclose()
