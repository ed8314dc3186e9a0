"""Where a context lookup runs (docs/memory.md, "Where a context lookup runs"): on the event
loop when memory has no job queued or running and the search is cheap, else one job on
memory's worker thread — with the same context either way, a session handed to
``remember_soon`` still seen by the lookup after it, and the query cache invalidated as ever."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from _core_helpers import RecordingProvider, default_response, write_project
from claude_force.async_orchestrator import AsyncAgentOrchestrator
from claude_force.memory import MemorySettings, MemoryStore
from claude_force.memory import service as service_mod
from claude_force.memory import sqlite_backend as memsql
from claude_force.memory.context import HEADER
from claude_force.memory.service import MemoryService
from claude_force.state import worker as worker_mod


def project(root: Path) -> Path:
    return write_project(
        root,
        {"agents": {"alpha": {"file": "agents/alpha.md"}}},
        {"agents/alpha.md": "# Alpha\n\nAlpha answers.\n"},
    )


def started(root: Path) -> tuple[RecordingProvider, AsyncAgentOrchestrator, MemoryService]:
    """An orchestrator on the project at ``root`` (metrics off), its provider and its memory."""
    provider = RecordingProvider()
    orch = AsyncAgentOrchestrator(project(root), provider=provider, enable_tracking=False)
    assert orch.memory is not None
    return provider, orch, orch.memory


class Hops:
    """Counts the jobs queued on memory's worker and the wake-ups of the loop they cause."""

    def __init__(self, memory: MemoryService, monkeypatch: pytest.MonkeyPatch) -> None:
        self.jobs = 0
        self.wakeups = 0
        worker = memory._worker
        submit, threadsafe = worker.submit, worker.submit_threadsafe

        def counted_submit(*args: Any, **kwargs: Any) -> Any:
            self.jobs += 1
            return submit(*args, **kwargs)

        def counted_threadsafe(*args: Any, **kwargs: Any) -> Any:
            self.jobs += 1
            return threadsafe(*args, **kwargs)

        monkeypatch.setattr(worker, "submit", counted_submit)
        monkeypatch.setattr(worker, "submit_threadsafe", counted_threadsafe)
        post = worker_mod._post

        def counted_post(done: dict[Any, Any]) -> None:
            if threading.current_thread().name == worker.name:
                self.wakeups += len(done)
            post(done)

        monkeypatch.setattr(worker_mod, "_post", counted_post)

    def take(self) -> tuple[int, int]:
        taken = (self.jobs, self.wakeups)
        self.jobs = self.wakeups = 0
        return taken


def loop_writes(memory: MemoryService, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The sizes of the writes memory makes on the event loop (``MemoryStore.add_now``), as
    they happen."""
    sizes: list[int] = []
    real = memory.store.add_now

    def add_now(sessions: Any) -> bool:
        sizes.append(len(sessions))
        return real(sessions)

    monkeypatch.setattr(memory.store, "add_now", add_now)
    return sizes


def context_of(provider: RecordingProvider) -> str:
    content = provider.requests[-1].messages[0].content
    assert isinstance(content, str)
    return content.split("\n\n# Task", 1)[0] if content.startswith(HEADER) else ""


async def test_a_sure_miss_on_an_idle_memory_is_looked_up_without_a_hop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    provider, orch, memory = started(tmp_path)
    hops = Hops(memory, monkeypatch)
    await orch.execute("alpha", "Plan the kafka migration")
    await memory.flush()
    hops.take()
    ex = await orch.execute("alpha", "Plan the kafka rollback")
    # no job before the call: the prompt, the key filter and the search were answered on the
    # loop; the one job is the session's write after the run
    assert hops.take() == (0, 0)  # the session waits for its write job (WRITE_DELAY_S)
    await memory.flush()
    assert hops.take() == (1, 1)  # the write and its result: the only wake-up memory caused
    assert HEADER in context_of(provider) and ex.success
    # the context is the one a lookup on the worker thread gives (the query cache emptied)
    memory.store.clear_query_cache()
    text, ids = await memory.context_with_ids("alpha", "Plan the kafka rollback", simulated=False)
    assert context_of(provider) == text and len(ids) == 1
    await orch.close()


async def test_a_lookup_right_after_a_run_writes_its_session_on_the_loop_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The session of a run that just returned is not written yet: the next lookup, sharing
    words with it, would miss it. With memory idle it writes that session on the loop first
    (without waiting for anything), then searches there, and sees it: no hop to the worker."""
    provider, orch, memory = started(tmp_path)
    await orch.execute("alpha", "Plan the kafka migration")
    await memory.flush()
    await orch.execute("alpha", "Tune the postgres indexes")  # its session waits for a write
    assert memory._waiting and memory.idle
    hops = Hops(memory, monkeypatch)
    await orch.execute("alpha", "Tuning postgres vacuum")  # "tuning" stems as "tunes" does
    assert hops.take() == (0, 0)  # no job: written and searched on the loop
    assert "Tune the postgres indexes" in context_of(provider)
    # only the latest run's session waits now, and every session is stored once
    assert len(memory._waiting) == 1
    await memory.flush()
    assert (await memory.stats()).sessions == 3
    await orch.close()


async def test_a_lookup_on_the_loop_writes_only_the_waiting_sessions_it_may_find(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sessions that share no searched word with the task go on waiting for their write job:
    the lookup writes only the one it may find (its write is cheap whatever else waits)."""
    provider, orch, memory = started(tmp_path)
    await orch.execute("alpha", "Plan the kafka migration")
    await memory.flush()
    for task in ("Tune the postgres indexes", "Audit the billing service", "Size the redis pool"):
        await orch.execute("alpha", task)  # their sessions wait for a write
    assert len(memory._waiting) == 3
    written = loop_writes(memory, monkeypatch)
    hops = Hops(memory, monkeypatch)
    await orch.execute("alpha", "Tuning postgres vacuum")
    assert hops.take() == (0, 0) and written == [1]  # on the loop, the one it may find
    assert "Tune the postgres indexes" in context_of(provider)
    assert len(memory._waiting) == 3  # the two others, and this run's
    await memory.flush()
    assert (await memory.stats()).sessions == 5  # each stored once
    await orch.close()


async def test_a_lookup_that_cannot_write_on_the_loop_at_once_writes_on_the_worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another connection holds the memory file's write lock: the loop does not wait for it.
    The waiting session's write job is queued and the lookup runs on the worker after it
    (which waits for the lock as every write does), and sees the session."""
    provider, orch, memory = started(tmp_path)
    await orch.execute("alpha", "Plan the kafka migration")
    await memory.flush()
    await orch.execute("alpha", "Tune the postgres indexes")  # its session waits for a write
    holder = sqlite3.connect(memory.store.path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    threading.Timer(0.3, holder.execute, ("COMMIT",)).start()  # (the worker waits meanwhile)
    hops = Hops(memory, monkeypatch)
    await orch.execute("alpha", "Tuning postgres vacuum")
    assert hops.take()[0] == 2  # the session's write job, then the lookup behind it
    assert "Tune the postgres indexes" in context_of(provider)
    assert memory.store._db.conn.execute("PRAGMA busy_timeout").fetchone()[0] == 30_000
    await memory.flush()
    assert (await memory.stats()).sessions == 3
    holder.close()
    await orch.close()


async def test_a_lookup_ranking_a_few_hundred_sessions_is_answered_on_the_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run alone in flight waits for its ranking wherever it runs: up to
    ``INLINE_MAX_SCORED`` (1,000) sessions ranked, the loop answers — 250 here, which went to
    the worker under the old bound of 200 (issue #10, ninth pass)."""
    provider, orch, memory = started(tmp_path)
    await orch.execute("alpha", "Plan the kafka migration")  # the prompt is known, memory open
    store = memory.store
    store.add_prepared(
        store.prepare("alpha", f"Tune the postgres index {i}", f"answer {i}", True)
        if i % 12 < 5  # 250 of 600: "postgres" is not a common word (under half)
        else store.prepare("alpha", f"Review the billing report {i}", f"answer {i}", True)
        for i in range(600)
    )
    await memory.flush()
    hops = Hops(memory, monkeypatch)
    await orch.execute("alpha", "Tuning postgres")
    assert hops.take() == (0, 0)  # ranked on the loop: no job before the call
    assert "Tune the postgres index" in context_of(provider)
    await orch.close()


async def test_a_lookup_too_costly_for_the_loop_writes_what_it_may_find_then_hops(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A search that ranks more sessions than the loop ranks: the waiting session it may find
    is written on the loop first (measured: cheaper than writing it in the worker's job), and
    the search is the one job on the worker."""
    provider, orch, memory = started(tmp_path)
    await orch.execute("alpha", "Tune the postgres indexes")
    await orch.execute("alpha", "Tune the postgres vacuum")
    await memory.flush()
    await orch.execute("alpha", "Tune the postgres planner")  # its session waits for a write
    monkeypatch.setattr(service_mod, "INLINE_MAX_SCORED", 1)  # the stored ones are more
    written_here = loop_writes(memory, monkeypatch)
    hops = Hops(memory, monkeypatch)
    await orch.execute("alpha", "Tuning postgres")
    assert written_here == [1] and hops.take()[0] == 1  # written here; searched there
    assert "Tune the postgres planner" in context_of(provider)
    await memory.flush()
    assert (await memory.stats()).sessions == 4
    await orch.close()


@pytest.mark.parametrize("why", ["too-many-waiting", "write-fails", "prune-due"])
async def test_a_lookup_that_does_not_write_on_the_loop_loses_no_session(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, why: str
) -> None:
    """More sessions waiting than a lookup writes on the loop, a write there that fails, an
    automatic prune due (the worker's): the lookup goes to the worker, which sees the session
    (written by its job), and nothing is lost."""
    provider, orch, memory = started(tmp_path)
    await orch.execute("alpha", "Plan the kafka migration")
    await memory.flush()
    await orch.execute("alpha", "Tune the postgres indexes")  # its session waits for a write
    if why == "too-many-waiting":
        monkeypatch.setattr(service_mod, "INLINE_MAX_WRITE", 0)
    elif why == "prune-due":
        monkeypatch.setattr(memory.store, "_last_prune", None)
    else:
        db = memory.store._db
        real_add = db.add

        def add(sessions: Any, *, wait: bool = True) -> Any:
            if not wait:
                raise sqlite3.OperationalError("disk I/O error")
            return real_add(sessions, wait=wait)

        monkeypatch.setattr(db, "add", add)
    hops = Hops(memory, monkeypatch)
    await orch.execute("alpha", "Tuning postgres vacuum")
    jobs, _ = hops.take()
    assert jobs == (1 if why == "too-many-waiting" else 2)  # (+ the session's write job)
    assert "Tune the postgres indexes" in context_of(provider)
    await memory.flush()
    assert (await memory.stats()).sessions == 3
    await orch.close()


async def test_a_lookup_no_waiting_session_can_answer_is_made_on_the_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A session waiting for its write that shares no searched word with the next task cannot
    be in its context: that lookup is answered on the loop, without waiting for the write,
    and gives the context the worker gives once the write is done."""
    provider, orch, memory = started(tmp_path)
    await orch.execute("alpha", "Plan the kafka migration")
    await memory.flush()
    await orch.execute("alpha", "Tune the postgres index")  # waits for its write job
    hops = Hops(memory, monkeypatch)
    ex = await orch.execute("alpha", "Plan the kafka rollback")
    assert ex.success and hops.take() == (0, 0)  # no job: answered on the loop
    assert len(memory._waiting) == 2  # both sessions still wait
    shown = context_of(provider)
    assert "Plan the kafka migration" in shown and "postgres" not in shown
    await memory.flush()
    memory.store.clear_query_cache()
    text, _ = await memory.context_with_ids("alpha", "Plan the kafka rollback", simulated=False)
    # the worker, after the writes, shows the same sessions (the waiting ones matched nothing)
    assert "Plan the kafka migration" in text and "postgres" not in text
    await orch.close()


async def test_a_lookup_on_the_worker_leaves_waiting_sessions_it_cannot_match_waiting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue #10: a lookup on the worker (here: asked for directly) that no waiting session can
    match does not write them first — they keep waiting for their own write job — and gives
    the context it gives once they are written."""
    _, orch, memory = started(tmp_path)
    await orch.execute("alpha", "Plan the kafka migration")
    await memory.flush()
    await orch.execute("alpha", "Tune the postgres index")  # waits for its write job
    hops = Hops(memory, monkeypatch)
    text, ids = await memory.context_with_ids("alpha", "Plan the kafka rollback", simulated=False)
    assert hops.take()[0] == 1 and len(memory._waiting) == 1  # the lookup only: still waiting
    assert "Plan the kafka migration" in text and "postgres" not in text and len(ids) == 1
    await memory.flush()
    memory.store.clear_query_cache()
    after = await memory.context_with_ids("alpha", "Plan the kafka rollback", simulated=False)
    assert after == (text, ids)
    await orch.close()


async def test_a_lookup_on_the_worker_writes_only_the_waiting_sessions_it_may_find(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, orch, memory = started(tmp_path)
    await orch.execute("alpha", "Plan the kafka migration")
    await memory.flush()
    await orch.execute("alpha", "Tune the postgres index")
    await orch.execute("alpha", "Plan the kafka rollback")  # both wait for their write job
    text, _ = await memory.context_with_ids("alpha", "kafka lag", simulated=False)
    assert "Plan the kafka rollback" in text  # written by the lookup, and found
    assert len(memory._waiting) == 1  # the postgres one waits on for its own write job
    await memory.flush()
    assert (await memory.stats()).sessions == 3  # each stored once
    await orch.close()


@pytest.mark.parametrize("how", ["context_with_ids", "search_soon"])
async def test_flush_waits_for_sessions_a_lookup_on_the_worker_is_writing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    """Either way a lookup reaches the worker (asked for, or started by the cache's lookup)."""
    _, orch, memory = started(tmp_path)
    await orch.execute("alpha", "Plan the kafka migration")  # waits for its write job
    written = threading.Event()
    real = memory.store.add_prepared

    def slow_add(sessions: Any) -> None:
        threading.Event().wait(0.2)  # (on the worker thread)
        real(sessions)
        written.set()

    monkeypatch.setattr(memory.store, "add_prepared", slow_add)
    lookup: asyncio.Future[tuple[str, tuple[str, ...]]]
    if how == "search_soon":
        lookup, start = memory.search_soon("alpha", "Plan the kafka rollback")
        start()
    else:
        lookup = asyncio.ensure_future(memory.context_with_ids("alpha", "Plan the kafka rollback"))
    for _ in range(2000):  # until the lookup on the worker has taken the waiting session
        await asyncio.sleep(0.001)
        if not memory._waiting:
            break
    assert not memory._waiting and not memory._writes and not written.is_set()
    await memory.flush()
    assert written.is_set()  # flush returned only once the lookup's write was done
    assert "Plan the kafka migration" in (await lookup)[0]
    await orch.close()


async def test_waiting_sessions_are_written_after_the_delay_or_at_a_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from claude_force.memory import service as service_mod

    _, orch, memory = started(tmp_path)
    monkeypatch.setattr(service_mod, "WRITE_DELAY_S", 0.01)
    await orch.execute("alpha", "Plan the kafka migration")
    assert len(memory._waiting) == 1
    for _ in range(2000):  # the timer queues the write; then it settles (bounded wait)
        await asyncio.sleep(0.005)
        if not memory._waiting and not memory._writes:
            break
    assert not memory._waiting and (await memory.stats()).sessions == 1
    monkeypatch.setattr(service_mod, "WRITE_DELAY_S", 3600.0)
    monkeypatch.setattr(service_mod, "SESSIONS_PER_WRITE", 3)
    for task in ("Audit the billing logs", "Sketch a cache layout", "Review vendor contracts"):
        await orch.execute("alpha", task)  # no words in common: none queues a write by lookup
    assert not memory._waiting and memory._writes  # the third queued the batch's write at once
    await memory.flush()
    assert (await memory.stats()).sessions == 4
    await orch.execute("alpha", "Benchmark the gateway")
    assert memory._waiting
    memory.write_at_exit()  # what the exit handler does for a loop that is gone
    assert not memory._waiting
    assert memory.store.stats().sessions == 5
    await orch.close()


async def test_a_lookup_is_answered_on_the_loop_only_when_memory_is_idle(
    tmp_path: Path,
) -> None:
    store = MemoryStore(tmp_path / "m.db", MemorySettings(retention_days=0))
    memory = MemoryService(store)
    assert memory.context_now("rev", "kafka lag") is None  # not opened: the worker opens it
    await memory.open()
    await memory.store_session("rev", "kafka consumer lag", "raise the partitions", True)
    assert memory.idle
    now = memory.context_now("rev", "kafka lag alerts")
    assert now is not None and "kafka consumer lag" in now[0]
    write = asyncio.ensure_future(
        memory.store_session("rev", "kafka lag alerts", "page on lag", True)
    )
    await asyncio.sleep(0)
    assert not memory.idle and memory.context_now("rev", "kafka lag") is None
    await write
    assert memory.idle
    now = memory.context_now("rev", "kafka lag")
    assert now is not None and "kafka lag alerts" in now[0]  # the write invalidated the cache
    await memory.aclose()


def test_the_store_answers_now_only_when_cheap_and_unlocked(tmp_path: Path) -> None:
    store = MemoryStore(tmp_path / "m.db", MemorySettings(retention_days=0))
    store.open()
    assert store.context_now("rev", "kafka lag", max_scored=0) == ("", ())  # no sessions
    for i in range(30):
        store.add("rev", f"kafka topic t{i} lag", "ok", True)
    store.add("rev", "postgres vacuum", "ok", True)
    task = "postgres vacuum tuning"
    assert store.context_now("rev", task, max_scored=0) is None  # needs ranking
    assert store.context_now("rev", "do it again", max_scored=0) == ("", ())  # no words
    # "kafka", "lag": in every kafka session (common, dropped); "t3" in one: 1 session ranked
    assert store.context_now("rev", "kafka lag t3 t4 t5", max_scored=2) is None  # 3 ranked
    assert store.context_now("rev", "kafka lag t3 t4", max_scored=2) is not None
    held = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with store._lock:
            held.set()
            release.wait(5)

    other = threading.Thread(target=hold)
    other.start()
    held.wait(5)
    assert store.context_now("rev", task) is None  # another thread's job holds the store
    release.set()
    other.join()
    fresh = MemoryStore(tmp_path / "m.db", MemorySettings(retention_days=0))
    assert store.context_now("rev", task) == fresh.context_with_ids("rev", task)
    assert store.context_now("rev", task, max_scored=0) is not None  # now a cache hit
    fresh.close()
    store.close()


def test_a_large_index_is_never_searched_on_the_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(memsql, "INLINE_MAX_SESSIONS", 5)
    store = MemoryStore(tmp_path / "m.db", MemorySettings(retention_days=0))
    for i in range(6):
        store.add("rev", f"task number n{i}", "ok", True)
    assert store.context_now("rev", "n3 please") is None
    assert store.context_with_ids("rev", "n3 please")[1]  # the worker's way finds it
    assert store.context_now("rev", "n4 please") is None  # its size now known: still too large
    store.close()


class Elsewhere:
    """A backend that is not the local SQLite file (as the cluster's PostgreSQL memory)."""

    def __init__(self, db: memsql.SessionDB) -> None:
        self._db = db

    def __getattr__(self, name: str) -> Any:
        return getattr(self._db, name)


def test_a_memory_elsewhere_is_never_searched_on_the_loop(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    store = MemoryStore(
        path, MemorySettings(retention_days=0), db=Elsewhere(memsql.SessionDB(path))
    )  # type: ignore[arg-type]
    store.add("rev", "kafka consumer lag", "ok", True)
    assert store.context_now("rev", "kafka lag") is None
    assert store.context_with_ids("rev", "kafka lag")[1]
    store.close()


async def test_a_cancelled_run_queues_no_memory_job(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run cancelled while the lookup's job waits behind a write: the job does not run."""
    _, orch, memory = started(tmp_path)
    await orch.execute("alpha", "Plan the kafka migration")
    await memory.flush()
    searched: list[str] = []
    real = MemoryStore.context_with_ids

    def counted(self: MemoryStore, agent: str, task: str, **kw: Any) -> Any:
        searched.append(task)
        return real(self, agent, task, **kw)

    monkeypatch.setattr(MemoryStore, "context_with_ids", counted)
    gate = threading.Event()
    blocker = asyncio.ensure_future(memory._run(gate.wait, 5))  # the worker is busy
    run = asyncio.ensure_future(orch.execute("alpha", "Plan the kafka rollback"))
    await asyncio.sleep(0.05)
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    gate.set()
    await blocker
    await memory.flush()
    assert searched == []
    await orch.close()


def test_a_lookup_splits_its_task_into_terms_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from claude_force.memory import records

    store = MemoryStore(tmp_path / "m.db", MemorySettings(retention_days=0))
    store.add("rev", "kafka consumer lag", "ok", True)
    split: list[str] = []
    real = records.query_terms

    def counted(text: str) -> tuple[str, ...]:
        split.append(text)
        return real(text)

    monkeypatch.setattr(records, "query_terms", counted)
    assert store.context_with_ids("rev", "kafka lag alerts")[1]
    assert split == ["kafka lag alerts"]  # the rule, the cache key and the search share them
    store.close()


async def test_among_concurrent_runs_a_lookup_is_a_job_on_the_worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A burst of runs: the first, alone in flight when it looks up, is answered on the loop;
    the others, started while it is in flight, are jobs on memory's thread (the loop stays
    free for the burst), and each gets the context a lookup on the worker gives."""

    async def respond(request: Any) -> Any:
        await asyncio.sleep(0.01)  # in flight while the next runs start
        return default_response(request)

    provider = RecordingProvider(respond)
    orch = AsyncAgentOrchestrator(project(tmp_path), provider=provider, enable_tracking=False)
    memory = orch.memory
    assert memory is not None
    await orch.execute("alpha", "Plan the kafka migration")
    await memory.flush()
    searched: list[str] = []
    real = MemoryService._context_or_nothing

    def counted(self: MemoryService, agent: str, task: str, simulated: Any) -> Any:
        searched.append(task)
        return real(self, agent, task, simulated)

    monkeypatch.setattr(MemoryService, "_context_or_nothing", counted)
    tasks = ["Plan the kafka rollback", "Plan the kafka upgrade", "Plan the kafka audit"]
    results = await asyncio.gather(*(orch.execute("alpha", t) for t in tasks))
    assert all(r.success and not r.cached for r in results)
    assert searched == tasks[1:]
    for request in provider.requests[1:]:
        assert "Plan the kafka migration" in str(request.messages[0].content)
    await orch.close()
