"""The SQLite cache's key filter: a sure miss skips the lookup job on the cache's thread, a key
another process stored is found once the filter is refreshed, skipped lookups count as misses,
false positives look up, and the filter stays bounded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from _cache_helpers import ok_judge, record
from _core_helpers import RecordingProvider, write_project
from claude_force.async_orchestrator import AsyncAgentOrchestrator
from claude_force.cache import sqlite_backend
from claude_force.cache.policy import CachePolicy
from claude_force.cache.records import Counters
from claude_force.cache.secret import SecretSource
from claude_force.cache.sqlite_backend import SqliteBackend
from claude_force.cache.store import ResponseStore
from claude_force.messages import MessageRequest, MessageResponse

K1, K2, K3 = ("a" * 64, "b" * 64, "c" * 64)


def project(root: Path, cache: dict[str, Any] | None = None) -> Path:
    config: dict[str, Any] = {"agents": {"alpha": {"file": "agents/alpha.md"}}}
    if cache is not None:
        config["cache"] = cache
    return write_project(root, config, {"agents/alpha.md": "# Alpha\n\nAlpha answers.\n"})


class JobsAtCall(RecordingProvider):
    """Records, at each call, how many jobs the cache's thread ran until then."""

    def __init__(self, jobs: list[str]) -> None:
        super().__init__()
        self.jobs = jobs
        self.seen: list[int] = []

    async def send(self, request: MessageRequest) -> MessageResponse:
        self.seen.append(len(self.jobs))
        return await super().send(request)


def count_jobs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    jobs: list[str] = []
    real_guarded, real_along = SqliteBackend._guarded, SqliteBackend._lookup_along

    def guarded(self: SqliteBackend, fn: Any, args: Any) -> Any:
        jobs.append(getattr(fn, "__name__", "job"))
        return real_guarded(self, fn, args)

    def along(self: SqliteBackend, *args: Any) -> Any:
        jobs.append("_lookup_along")
        return real_along(self, *args)

    monkeypatch.setattr(SqliteBackend, "_guarded", guarded)
    monkeypatch.setattr(SqliteBackend, "_lookup_along", along)
    return jobs


async def sure_miss_then_hit(root: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Runs a task, then a new one (a sure miss: no cache job may run before its call), then
    the new one again (stored: looked up, a hit); returns the orchestrator, still open."""
    jobs = count_jobs(monkeypatch)
    provider = JobsAtCall(jobs)
    orch = AsyncAgentOrchestrator(root, provider=provider, enable_tracking=False)
    await orch.execute("alpha", "Plan the kafka migration")  # first: the prompt is not known yet
    await orch.pipeline.store.flush()  # type: ignore[attr-defined]
    before = len(jobs)
    second = await orch.execute("alpha", "Plan the kafka rollback")
    assert not second.cached and provider.seen[-1] == before  # nothing ran on the cache's thread
    await orch.pipeline.store.flush()  # type: ignore[attr-defined]
    again = await orch.execute("alpha", "Plan the kafka rollback")  # stored: maybe present
    assert again.cached and "_lookup_along" in jobs[before:]
    return orch


async def test_a_sure_miss_runs_no_cache_job_before_its_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    orch = await sure_miss_then_hit(project(tmp_path), monkeypatch)
    stats = await orch.pipeline.store.stats()
    assert (stats.counters.hits, stats.counters.misses) == (1, 2)  # the skipped one counted
    await orch.close()


@pytest.mark.parametrize("off", ["project", "agent"])
async def test_a_sure_miss_without_memory_runs_no_cache_job_before_its_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, off: str
) -> None:
    """With no memory to search (off for the project, or for the agent), a sure miss reads the
    prompt and takes the miss on the loop too: no lookup job before the call."""
    config: dict[str, Any] = {"agents": {"alpha": {"file": "agents/alpha.md"}}}
    if off == "project":
        config["memory"] = {"enabled": False}
    else:
        config["agents"]["alpha"]["memory"] = False
    root = write_project(tmp_path, config, {"agents/alpha.md": "# Alpha\n\nAlpha answers.\n"})
    orch = await sure_miss_then_hit(root, monkeypatch)
    await orch.close()


async def test_a_changed_definition_is_keyed_again(tmp_path: Path) -> None:
    """The key a sure miss was decided with came from the prompt as last read; an edited
    definition is read, keyed and checked again (its answer, stored, is found)."""
    root = project(tmp_path)
    provider = RecordingProvider()
    orch = AsyncAgentOrchestrator(root, provider=provider, enable_tracking=False)
    await orch.execute("alpha", "Plan the kafka migration")
    (tmp_path / ".claude" / "agents" / "alpha.md").write_text("# Alpha\n\nAlpha answers briefly.\n")
    edited = await orch.execute("alpha", "Plan the kafka rollback")
    assert not edited.cached and "briefly" in provider.requests[-1].system[0].text
    (tmp_path / ".claude" / "agents" / "alpha.md").write_text("# Alpha\n\nAlpha answers.\n")
    await orch.pipeline.store.flush()  # type: ignore[attr-defined]
    again = await orch.execute("alpha", "Plan the kafka migration")  # the old prompt: stored
    assert again.cached and len(provider.requests) == 2
    await orch.close()


def store_on(path: Path, max_bytes: int = 1_000_000) -> ResponseStore:
    return ResponseStore(
        SqliteBackend(path),
        CachePolicy(ttl_seconds=3600, max_bytes=max_bytes),
        SecretSource(b"0123456789abcdef0123456789abcdef"),
    )


async def test_a_key_another_process_stored_is_found_after_the_refresh(tmp_path: Path) -> None:
    ours, theirs = SqliteBackend(tmp_path / "c.db"), SqliteBackend(tmp_path / "c.db")
    await ours.open()
    await theirs.open()
    assert ours.surely_absent(K1)
    await theirs.put(record(K1), 1_000_000, 1_000_000.0, Counters(stores=1))
    assert ours.surely_absent(K1)  # not refreshed yet: the bounded window
    await ours.stats()  # any job on our cache's thread refreshes (data_version changed)
    assert not ours.surely_absent(K1)
    assert (await ours.lookup(K1, 1_000_001.0, ok_judge, Counters(misses=1))) is not None
    await theirs.aclose()
    await ours.aclose()


async def test_an_old_filter_answers_maybe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    backend = SqliteBackend(tmp_path / "c.db")
    await backend.open()
    assert backend.surely_absent(K1)
    monkeypatch.setattr(sqlite_backend, "FILTER_FRESH_S", 0.0)  # past the refresh window
    assert not backend.surely_absent(K1)
    await backend.aclose()
    assert not backend.surely_absent(K1)  # closed: no filter


async def test_skipped_lookups_count_as_misses(tmp_path: Path) -> None:
    store = store_on(tmp_path / "c.db")
    await store.open()
    assert store.surely_absent(K1)
    found = store.skipped("value", K1, store.writes())
    assert found.looked_up and found.hit is None and found.key == K1
    assert (await store.stats()).counters.misses == 1
    await store.aclose()


async def test_false_positives_look_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlite_backend, "key_prefix", lambda key: 0)  # every key collides
    backend = SqliteBackend(tmp_path / "c.db")
    await backend.open()
    await backend.put(record(K1), 1_000_000, 1_000_000.0, Counters(stores=1))
    assert not backend.surely_absent(K2)  # maybe: a lookup says
    assert (await backend.lookup(K2, 1_000_001.0, ok_judge, Counters(misses=1))) is None
    await backend.aclose()


async def test_the_filter_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ours, theirs = SqliteBackend(tmp_path / "c.db"), SqliteBackend(tmp_path / "c.db")
    await ours.open()
    for i in range(20):  # room for 5: evicted keys leave the filter
        await ours.put(record(f"{i:064x}"), 500, 1_000_000.0 + i, Counters(stores=1))
    assert ours.filter_size == (await ours.stats()).entries == 5
    await ours.remove(f"{19:064x}", Counters())
    assert ours.filter_size == 4
    await theirs.open()
    await theirs.clear()  # another process: our prefixes are stale, reloaded past the slack
    monkeypatch.setattr(sqlite_backend, "FILTER_SLACK", 0)
    await ours.stats()
    assert ours.filter_size == 0 and ours.surely_absent(f"{18:064x}")
    await ours.put(record(K3), 500, 1_000_100.0, Counters(stores=1))
    await ours.clear()
    await ours.stats()
    assert ours.filter_size == 0
    await theirs.aclose()
    await ours.aclose()


def test_a_read_only_stats_loads_no_filter(tmp_path: Path) -> None:
    backend = SqliteBackend(tmp_path / "c.db")
    backend.stats_now()
    assert backend.filter_size == 0 and not backend.surely_absent(K1)
