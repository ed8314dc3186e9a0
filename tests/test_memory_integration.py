"""Agent memory in use: the orchestrator's context injection and storing, the response cache key,
opting out, failure isolation, the 2.2 ``AgentMemory`` face, and the ``memory`` commands."""

from __future__ import annotations

import json
import logging
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from blockbuster import blockbuster_ctx
from typer.testing import CliRunner

from _core_helpers import RecordingProvider, write_project
from claude_force.agent_memory import (
    DEFAULT_DB_PATH,
    AgentMemory,
    SessionMemory,
    get_memory,
    resolve_db_path,
)
from claude_force.async_orchestrator import AsyncAgentOrchestrator
from claude_force.cli.app import app
from claude_force.clock import VirtualClock
from claude_force.config import load_project
from claude_force.errors import InvalidRequestError
from claude_force.memory import MemorySettings, MemoryStore, SearchQuery, memory_path
from claude_force.memory.context import HEADER
from claude_force.messages import MessageRequest, MessageResponse
from claude_force.orchestrator import AgentOrchestrator
from claude_force.runner import RunOptions


def project(root: Path, memory: dict[str, Any] | None = None) -> Path:
    config: dict[str, Any] = {
        "agents": {
            "alpha": {"file": "agents/alpha.md"},
            "beta": {"file": "agents/beta.md", "memory": False},
        },
    }
    if memory is not None:
        config["memory"] = memory
    return write_project(
        root,
        config,
        {"agents/alpha.md": "# Alpha\n\nAlpha answers.\n", "agents/beta.md": "# Beta\n\nBeta.\n"},
    )


def core(config: Path, provider: RecordingProvider, **kw: Any) -> AsyncAgentOrchestrator:
    return AsyncAgentOrchestrator(config, provider=provider, enable_tracking=False, **kw)


def sent(provider: RecordingProvider, i: int = -1) -> str:
    return provider.requests[i].messages[0].content


def _finished(i: int, task: str) -> Any:
    """A successful run of agent ``alpha`` (for the memory write tests)."""
    from claude_force.runner import Execution

    return Execution(
        execution_id=f"e{i}",
        agent="alpha",
        task=task,
        model="claude-sonnet-5-5",
        provider="test",
        success=True,
        output=f"answer {i}",
        started_at=datetime.now(UTC),
        duration_ms=1.0,
    )


def _count_writes(monkeypatch: pytest.MonkeyPatch, store: MemoryStore) -> list[int]:
    """The sizes of the batches ``store`` is asked to write, in order (each still written)."""
    batches: list[int] = []
    add_prepared = store.add_prepared

    def counting(sessions: Any) -> None:
        sessions = list(sessions)
        batches.append(len(sessions))
        add_prepared(sessions)

    monkeypatch.setattr(store, "add_prepared", counting)
    return batches


def sessions(config: Path) -> int:
    path = memory_path(load_project(config))
    if not path.exists():
        return 0
    store = MemoryStore(path, MemorySettings(retention_days=0))
    try:
        return store.stats().sessions
    finally:
        store.close()


# --- the orchestrator ----------------------------------------------------------------------------


async def test_relevant_past_sessions_are_injected_before_the_task(tmp_path: Path) -> None:
    config = project(tmp_path)
    provider = RecordingProvider()
    orch = core(config, provider)
    first = await orch.execute("alpha", "Review the OAuth token refresh flow")
    assert first.success and sent(provider) == "Review the OAuth token refresh flow"
    await orch.execute("alpha", "Check the OAuth token refresh for races")
    content = sent(provider)
    assert content.startswith(HEADER)
    assert "Task: Review the OAuth token refresh flow" in content
    assert "Outcome: answer to: Review the OAuth token refresh flow" in content
    assert content.endswith("# Task\n\nCheck the OAuth token refresh for races")
    await orch.close()
    assert sessions(config) == 2


async def test_a_repeat_after_related_tasks_is_a_cache_hit_on_the_defaults(
    tmp_path: Path,
) -> None:
    config = project(tmp_path)
    provider = RecordingProvider()
    orch = core(config, provider)
    await orch.execute("alpha", "Tune the postgres index for the orders table")
    second = await orch.execute("alpha", "Tune the postgres index for invoices")
    assert not second.cached and len(provider.requests) == 2
    assert HEADER in sent(provider)  # it was sent with memory context
    again = await orch.execute("alpha", "Tune the postgres index for invoices")
    assert again.cached and len(provider.requests) == 2
    await orch.memory.flush()  # (a hit searches no memory: nothing waits for the writes)
    assert sessions(config) == 2  # an answer from the cache is not stored again
    # related tasks run in between: the memory context of the task changes …
    await orch.execute("alpha", "Tune the postgres vacuum for invoices")
    await orch.execute("alpha", "Tune the postgres autovacuum for the orders table")
    assert len(provider.requests) == 4
    # … and the repeat is still a hit: the key leaves the memory context out
    repeat = await orch.execute("alpha", "Tune the postgres index for invoices")
    assert repeat.cached and repeat.output == second.output and len(provider.requests) == 4
    first_again = await orch.execute("alpha", "Tune the postgres index for the orders table")
    assert first_again.cached and len(provider.requests) == 4
    # the entry records the memory sessions its answer was produced with
    store = orch.pipeline.store  # type: ignore[attr-defined]
    recorded = []
    for info in await store.entries():
        found = await store.inspect(info.key)
        recorded.append(found.entry.memory_sessions)
    assert sorted(len(r) for r in recorded) == [0, 1, 2, 3]
    await orch.close()


async def test_strict_keying_makes_a_repeat_after_related_tasks_a_miss(tmp_path: Path) -> None:
    config = write_project(
        tmp_path,
        {"agents": {"alpha": {"file": "agents/alpha.md"}}, "cache": {"key_includes_memory": True}},
        {"agents/alpha.md": "# Alpha\n\nAlpha answers.\n"},
    )
    provider = RecordingProvider()
    orch = core(config, provider)
    await orch.execute("alpha", "Tune the postgres index for the orders table")
    await orch.execute("alpha", "Tune the postgres index for invoices")
    again = await orch.execute("alpha", "Tune the postgres index for invoices")
    assert again.cached and len(provider.requests) == 2  # same context, same request: a hit
    await orch.execute("alpha", "Tune the postgres vacuum for invoices")  # new related session
    changed = await orch.execute("alpha", "Tune the postgres index for invoices")
    assert not changed.cached and len(provider.requests) == 4  # the context is in the key
    assert "Tune the postgres vacuum for invoices" in sent(provider)
    await orch.close()


async def test_memory_off_and_on_share_cache_entries_on_the_defaults(tmp_path: Path) -> None:
    # the key is the request without memory: a run with memory answers a run without it
    config = project(tmp_path)
    provider = RecordingProvider()
    orch = core(config, provider)
    await orch.execute("alpha", "Review the login rate limiter")
    with_ctx = await orch.execute("alpha", "Review the login rate limiter for bursts")
    assert HEADER in sent(provider)
    plain = await orch.execute(
        "alpha", "Review the login rate limiter for bursts", RunOptions(use_memory=False)
    )
    assert plain.cached and plain.output == with_ctx.output and len(provider.requests) == 2
    await orch.close()


async def test_failed_runs_are_not_remembered(tmp_path: Path) -> None:
    config = project(tmp_path)

    def fail(request: MessageRequest) -> MessageResponse:
        raise InvalidRequestError("bad request", status=400)

    orch = core(config, RecordingProvider(fail))
    ex = await orch.execute("alpha", "Review the payment webhook")
    assert not ex.success
    await orch.close()
    assert sessions(config) == 0


async def test_an_agent_can_opt_out(tmp_path: Path) -> None:
    config = project(tmp_path)
    provider = RecordingProvider()
    orch = core(config, provider)
    assert orch.memory is not None and not orch.memory.allows("beta")
    await orch.memory.store_session("beta", "Plan the kafka migration", "done", True)
    await orch.execute("beta", "Plan the kafka migration rollback")
    assert sent(provider) == "Plan the kafka migration rollback"  # no context for beta
    assert await orch.memory.context_for("beta", "kafka migration") == ""
    await orch.close()
    assert sessions(config) == 1  # and its run was not remembered


@pytest.mark.parametrize("how", ["config", "argument"])
async def test_memory_can_be_switched_off(tmp_path: Path, how: str) -> None:
    config = project(tmp_path, {"enabled": False} if how == "config" else None)
    provider = RecordingProvider()
    orch = core(config, provider, enable_memory=how != "argument")
    assert orch.memory is None
    for task in ("Audit the CSRF tokens", "Audit the CSRF tokens again"):
        await orch.execute("alpha", task)
        assert sent(provider) == task
    await orch.close()
    assert not memory_path(load_project(config)).exists()


async def test_use_memory_false_skips_the_context_but_the_run_is_remembered(
    tmp_path: Path,
) -> None:
    config = project(tmp_path)
    provider = RecordingProvider()
    orch = core(config, provider)
    await orch.execute("alpha", "Shard the job queue by tenant")
    result = await orch.execute_agent("alpha", "Shard the job queue by region", use_memory=False)
    assert result.success and sent(provider) == "Shard the job queue by region"
    await orch.execute("alpha", "Shard the job queue", RunOptions(context="Extra notes."))
    content = sent(provider)
    assert content.startswith(HEADER) and "Extra notes.\n\n# Task" in content  # both kept
    await orch.close()
    assert sessions(config) == 3


async def test_real_runs_get_no_simulated_sessions_as_context(tmp_path: Path) -> None:
    config = project(tmp_path)
    provider = RecordingProvider()
    orch = core(config, provider)
    assert orch.memory is not None
    await orch.memory.store_session("alpha", "Profile the render loop", "sim", True, simulated=True)
    await orch.execute("alpha", "Profile the render loop for jank")
    assert sent(provider) == "Profile the render loop for jank"
    provider.simulated = True  # type: ignore[misc]
    await orch.execute("alpha", "Profile the render loop for stutter")
    assert "Task: Profile the render loop\n" in sent(provider)
    await orch.close()


async def test_a_broken_memory_never_fails_a_run(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = project(tmp_path, {"path": "taken"})
    (config.parent / "state" / "taken").mkdir(parents=True)  # a folder where the file should be
    provider = RecordingProvider()
    orch = core(config, provider)
    with caplog.at_level(logging.WARNING, logger="claude_force.memory"):
        ex = await orch.execute("alpha", "Write the incident report")
        assert orch.memory is not None
        await orch.memory.flush()  # sessions are written in the background
    assert ex.success and sent(provider) == "Write the incident report"
    messages = [r.getMessage() for r in caplog.records]
    assert any("no context for agent alpha" in m for m in messages)
    assert any("not stored" in m for m in messages)
    await orch.close()


async def test_memory_never_blocks_the_event_loop(tmp_path: Path) -> None:
    config = project(tmp_path)
    provider = RecordingProvider()
    orch = core(config, provider)
    await orch.execute("alpha", "warm up the imports")
    with blockbuster_ctx(["claude_force"], excluded_modules=["claude_force.testing"]):
        for task in ("Review the retry policy", "Review the retry policy for uploads"):
            ex = await orch.execute("alpha", task)
            assert ex.success, ex.errors
        assert orch.memory is not None
        hits = await orch.memory.search(SearchQuery("retry policy", agent="alpha"))
        assert len(hits) == 2
        assert (await orch.memory.stats()).sessions == 3
        assert await orch.memory.prune(1000) == 0
        assert (await orch.memory.get(hits[0].session.id)) is not None
        await orch.close()
    assert HEADER in sent(provider)


def test_the_sync_facade_remembers_too(tmp_path: Path) -> None:
    config = project(tmp_path)
    provider = RecordingProvider()
    with AgentOrchestrator(config, provider=provider, enable_tracking=False) as orch:
        orch.run_agent("alpha", "Migrate the cron jobs to the scheduler")
        orch.run_agent("alpha", "Migrate the cron jobs to kubernetes")
    assert "Migrate the cron jobs to the scheduler" in sent(provider)


async def test_the_sessions_of_a_2_2_orchestrator_are_imported_once(tmp_path: Path) -> None:
    config = project(tmp_path)
    with sqlite3.connect(config.parent / "sessions.db") as old:  # where 2.2 kept them
        old.execute(
            "CREATE TABLE sessions (session_id TEXT PRIMARY KEY, agent_name TEXT, task TEXT, "
            "task_hash TEXT, output TEXT, success INTEGER, execution_time_ms REAL, model TEXT, "
            "input_tokens INTEGER, output_tokens INTEGER, timestamp TEXT, metadata TEXT)"
        )
        when = datetime.now().isoformat()  # 2.2 wrote naive local times
        old.execute(
            "INSERT INTO sessions VALUES ('alpha_x_1', 'alpha', 'Design the rate limiter', 'h', "
            "'Token bucket per key.', 1, 5.0, 'm', 1, 1, ?, '{}')",
            (when,),
        )
    provider = RecordingProvider()
    orch = core(config, provider)
    await orch.execute("alpha", "Design the rate limiter for the API")
    assert "Outcome: Token bucket per key." in sent(provider)
    await orch.close()
    orch = core(config, provider)
    assert orch.memory is not None
    assert (await orch.memory.get("alpha_x_1")) is not None
    assert (await orch.memory.stats()).sessions == 2  # imported once, plus the new run
    await orch.close()


# --- the 2.2 AgentMemory face --------------------------------------------------------------------


def test_agent_memory_finds_by_relevance(tmp_path: Path) -> None:
    with AgentMemory(tmp_path / "s.db") as mem:
        sid = mem.store_session(
            "rev", "Review the login rate limiter", "Use a token bucket.", True, 120.0, "m", 10, 20
        )
        for i in range(3):
            mem.store_session("rev", f"Update the changelog {i}", "ok", True)
        mem.store_session("rev", "Review the login form", "failed", False)
        found = mem.find_similar_sessions("rate limiter on login", agent_name="rev")
        assert isinstance(found[0], SessionMemory)
        assert found[0].session_id == sid and found[0].similarity_score == 1.0
        assert all(f.success for f in found)
        assert all(0 <= f.similarity_score <= 1 for f in found)
        assert found[0].output == "Use a token bucket." and found[0].input_tokens == 10
        with_failures = mem.find_similar_sessions("login", success_only=False, limit=10)
        assert "Review the login form" in [f.task for f in with_failures]
        assert mem.find_similar_sessions("login", days=0) == []
        got = mem.get_session(sid)
        assert got is not None and got.to_dict()["agent_name"] == "rev"
        assert got.task_hash == found[0].task_hash and len(got.task_hash) == 64
        assert mem.get_session("missing") is None
        context = mem.get_context_for_task("Tune the login rate limiter", "rev", max_sessions=1)
        assert "Review the login rate limiter" in context and "changelog" not in context
        stats = mem.get_statistics()
        assert stats["total_sessions"] == 5 and stats["success_rate"] == 80.0
        assert stats["avg_execution_time_ms"] == pytest.approx(24.0)
        assert mem.get_statistics("nobody")["total_sessions"] == 0
        mem.clear_all()
        assert mem.get_statistics()["total_sessions"] == 0


def test_agent_memory_prunes_only_when_asked(tmp_path: Path) -> None:
    clock = VirtualClock(datetime(2026, 3, 1, tzinfo=UTC))
    mem = AgentMemory(tmp_path / "s.db", clock=clock)
    mem.store_session("rev", "old task", "x", True)
    clock.advance(timedelta(days=400).total_seconds())
    mem.store_session("rev", "new task", "y", True)
    assert mem.get_statistics()["total_sessions"] == 2  # no automatic retention here
    assert mem.prune_old_sessions(90) == 1
    assert mem.get_statistics()["total_sessions"] == 1
    mem.close()


def test_a_relative_db_path_resolves_against_the_project(
    in_project: Path, monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    root = in_project.parent.parent
    sub = root / "src" / "deep"
    sub.mkdir(parents=True)
    monkeypatch.chdir(sub)
    mem = get_memory()
    assert mem.db_path == root / DEFAULT_DB_PATH
    mem.store_session("rev", "t", "o", True)
    mem.close()
    assert (root / ".claude" / "sessions.db").exists() and not (sub / ".claude").exists()
    outside = tmp_path_factory.mktemp("outside")
    assert resolve_db_path("x.db", start=outside) == outside.resolve() / "x.db"
    assert resolve_db_path(outside / "abs.db") == outside / "abs.db"


# --- the command line ----------------------------------------------------------------------------

runner = CliRunner()


def cli(config: Path, *args: str) -> Any:
    return runner.invoke(app, ["--config", str(config), "memory", *args])


def seeded(tmp_path: Path) -> Path:
    config = project(tmp_path)
    store = MemoryStore(memory_path(load_project(config)), MemorySettings(retention_days=0))
    store.add("alpha", "Review the OAuth token refresh flow", "Use rotation.", True, model="m")
    store.add("beta", "Document the OAuth scopes", "Listed them.", True, model="m")
    store.add(
        "alpha",
        "Old OAuth audit",
        "Stale.",
        True,
        model="m",
        created_at=datetime.now(UTC) - timedelta(days=60),
    )
    store.close()
    return config


def test_cli_search(tmp_path: Path) -> None:
    config = seeded(tmp_path)
    result = cli(config, "search", "oauth token", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert rows[0]["task"] == "Review the OAuth token refresh flow" and rows[0]["score"] > 0
    only_beta = json.loads(cli(config, "search", "oauth", "--agent", "beta", "--json").stdout)
    assert [r["agent"] for r in only_beta] == ["beta"]
    recent = json.loads(cli(config, "search", "oauth", "--days", "30", "--json").stdout)
    assert "Old OAuth audit" not in [r["task"] for r in recent]
    text = cli(config, "search", "oauth token", "--failures", "--limit", "2")
    assert text.exit_code == 0 and "Review the OAuth" in text.stdout
    none = cli(config, "search", "zebra")
    assert none.exit_code == 0 and "no matching sessions" in none.stderr and none.stdout == ""


def test_cli_stats_prune_and_clear(tmp_path: Path) -> None:
    config = seeded(tmp_path)
    data = json.loads(cli(config, "stats", "--json").stdout)
    assert data["sessions"] == 3 and data["agents"] == {"alpha": 2, "beta": 1}
    assert data["retention_days"] == 90
    text = cli(config, "stats")
    assert text.exit_code == 0 and "sessions" in text.stdout and "alpha" in text.stdout
    pruned = json.loads(cli(config, "prune", "--days", "30", "--json").stdout)
    assert pruned == {"removed": 1, "days": 30.0}
    assert "removed 0 sessions" in cli(config, "prune").stdout
    refused = cli(config, "clear")
    assert refused.exit_code == 2 and "pass --yes" in refused.stderr
    cleared = json.loads(cli(config, "clear", "--agent", "beta", "--yes", "--json").stdout)
    assert cleared == {"removed": 1, "agent": "beta"}
    assert "removed 1 session" in cli(config, "clear", "--yes").stdout


def test_cli_on_a_project_without_memory_creates_nothing(tmp_path: Path) -> None:
    config = project(tmp_path)
    data = json.loads(cli(config, "stats", "--json").stdout)
    assert data["sessions"] == 0 and data["location"].endswith("memory.db")
    assert "kept forever" not in cli(config, "stats").stdout
    assert json.loads(cli(config, "search", "x", "--json").stdout) == []
    assert json.loads(cli(config, "clear", "--yes", "--json").stdout)["removed"] == 0
    assert not memory_path(load_project(config)).exists()
    assert "memory" in runner.invoke(app, ["--help"]).stdout


async def test_runs_finishing_together_are_stored_in_one_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Sessions handed over while a write is still queued join it: one job, one transaction;
    a lookup queued after them sees them all; one session that cannot be prepared is reported
    and the others are still stored."""
    import asyncio
    import threading

    from claude_force.memory import MemoryService

    store = MemoryStore(tmp_path / "m.db", MemorySettings(retention_days=0))
    service = MemoryService(store)
    batches = _count_writes(monkeypatch, store)
    prepare = store.prepare

    def picky(agent: str, task: str, *args: Any, **kw: Any) -> Any:
        if task == "unpreparable":
            raise ValueError("cannot redact")
        return prepare(agent, task, *args, **kw)

    monkeypatch.setattr(store, "prepare", picky)
    blocker = threading.Event()
    # hold the worker thread so that the sessions below queue up behind one scheduled write
    gate = service._submit(blocker.wait, 30)

    tasks = [f"Tune the kafka consumer {i}" for i in range(5)]
    with caplog.at_level(logging.WARNING, logger="claude_force.memory"):
        for i, task in enumerate([*tasks, "unpreparable"]):
            service.remember_soon(_finished(i, task))
        lookup = asyncio.ensure_future(
            service.search(SearchQuery("kafka consumer", agent="alpha", limit=10))
        )
        await asyncio.sleep(0)  # the lookup is queued behind the write
        blocker.set()
        await gate
        hits = await lookup
    assert batches == [5]  # one write job for the six sessions, five of them stored
    assert sorted(h.session.task for h in hits) == tasks
    assert any("session of agent alpha not stored" in r.getMessage() for r in caplog.records)
    service.remember_soon(_finished(9, "Tune the kafka producer"))
    await service.flush()
    assert batches == [5, 1]
    await service.aclose()


@pytest.mark.parametrize(
    ("cache", "thread"), [(False, "claude-force-memory"), (True, "claude-force-cache")]
)
async def test_the_definition_is_read_in_the_memory_searchs_job(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cache: bool, thread: str
) -> None:
    """With memory on and the project's own files, the agent's definition is read on the
    memory's worker thread, in the job that searches (one hop) — or, with the response cache
    on, in the cache's lookup job unless the miss is sure; an agent file that
    cannot be read still fails that run with its own error, and the next run reads it again."""
    import threading

    from claude_force.config.project import Project

    config = project(tmp_path)
    provider = RecordingProvider()
    orch = core(config, provider, enable_cache=cache)
    threads: list[str] = []
    read_agent = Project.read_agent

    def reading(self: Project, name: str) -> Any:
        threads.append(threading.current_thread().name)
        return read_agent(self, name)

    monkeypatch.setattr(Project, "read_agent", reading)
    first = await orch.execute("alpha", "Plan the kafka migration")
    second = await orch.execute("alpha", "Plan the kafka rollback")
    assert first.success and second.success
    assert HEADER in sent(provider)  # the second run got the first as context
    # with the cache: the first run's read is in the lookup's job; the second, a sure miss
    # (its key absent from the cache's key filter), reads in the memory search's job — or,
    # with the cache, on the loop when memory has no job queued (the first run's session waits
    # for its write job; its search job may not have settled yet), its search then going to
    # the worker after that write (they share words)
    second = ("MainThread", "claude-force-memory") if cache else ("claude-force-memory",)
    assert len(threads) == 2 and threads[0].startswith(thread) and threads[1] in second
    agent_file = config.parent / "agents" / "alpha.md"
    agent_file.unlink()
    failed = await orch.execute("alpha", "Plan the kafka upgrade")
    assert not failed.success and "alpha.md" in failed.errors[0]
    agent_file.write_text("# Alpha\n\nAlpha answers again.\n", encoding="utf-8")
    again = await orch.execute("alpha", "Plan the kafka upgrade")
    assert again.success
    assert provider.requests[-1].system[0].text.startswith("# Alpha\n\nAlpha answers again.")
    await orch.close()


async def test_a_failing_memory_worker_still_reads_the_definition(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """If the memory's worker cannot run the job at all, the run goes on without context, its
    definition read on its own (and an unreadable definition is still that run's error)."""
    from claude_force.memory import MemoryService

    store = MemoryStore(tmp_path / "m.db", MemorySettings(retention_days=0))
    service = MemoryService(store)

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("cannot schedule new futures after shutdown")

    monkeypatch.setattr(service._worker, "submit", broken)
    with caplog.at_level(logging.WARNING, logger="claude_force.memory"):
        text, (context, ids) = await service.context_along("alpha", "a task", lambda: "# Alpha")
        assert (await text, context, ids) == ("# Alpha", "", ())

        def unreadable() -> str:
            raise InvalidRequestError("agent file missing")

        failed, found = await service.context_along("alpha", "a task", unreadable)
        with pytest.raises(InvalidRequestError):
            await failed
        assert found == ("", ())
    assert any("no context for agent alpha" in r.getMessage() for r in caplog.records)
    store.close()


async def test_a_burst_of_sessions_is_written_in_bounded_transactions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sessions queued behind one write are still one job, but never more than
    ``SESSIONS_PER_WRITE`` are prepared and written at once (the peak memory of a burst of
    1,000 finished runs); every one is stored."""
    import threading

    from claude_force.memory import MemoryService
    from claude_force.memory import service as memory_service

    monkeypatch.setattr(memory_service, "SESSIONS_PER_WRITE", 4)
    store = MemoryStore(tmp_path / "m.db", MemorySettings(retention_days=0))
    service = MemoryService(store)
    batches = _count_writes(monkeypatch, store)
    blocker = threading.Event()
    gate = service._submit(blocker.wait, 30)
    for i in range(10):
        service.remember_soon(_finished(i, f"Tune the kafka consumer {i}"))
    blocker.set()
    await gate
    await service.flush()
    assert batches == [4, 4, 2]
    hits = await service.search(SearchQuery("kafka consumer", agent="alpha", limit=20))
    assert len(hits) == 10
    await service.aclose()


async def test_a_written_chunk_of_sessions_is_let_go_before_the_next(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the runs queued for memory (their fields) is dropped chunk by chunk, not kept until
    the whole burst is written."""
    import threading
    import weakref
    from dataclasses import replace

    from claude_force.memory import MemoryService
    from claude_force.memory import service as memory_service

    class When(datetime):  # a datetime a weak reference can follow (what a queued run holds)
        pass

    monkeypatch.setattr(memory_service, "SESSIONS_PER_WRITE", 4)
    store = MemoryStore(tmp_path / "m.db", MemorySettings(retention_days=0))
    service = MemoryService(store)
    refs: list[weakref.ref[When]] = []
    alive_at_write: list[list[bool]] = []
    add_prepared = store.add_prepared

    def checking(sessions: Any) -> None:
        alive_at_write.append([r() is not None for r in refs])
        add_prepared(sessions)

    monkeypatch.setattr(store, "add_prepared", checking)
    blocker = threading.Event()
    gate = service._submit(blocker.wait, 30)
    for i in range(8):
        when = When.now(UTC)
        refs.append(weakref.ref(when))
        service.remember_soon(
            replace(_finished(i, f"Tune the kafka consumer {i}"), started_at=when)
        )
    del when
    blocker.set()
    await gate
    await service.flush()
    assert alive_at_write == [[True] * 8, [False] * 4 + [True] * 4]
    await service.aclose()
