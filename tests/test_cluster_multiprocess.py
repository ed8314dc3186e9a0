"""Cluster mode across processes, on real PostgreSQL and Redis and the emulator.

One cluster for the whole module (a database, an emulator, three worker processes), so the
workers start once: the tests run in file order and the last one kills a worker. Bounded:
every wait has a timeout; the workers are stopped (or killed) and the database dropped.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from _cluster_helpers import (
    CHAIN,
    Workers,
    cluster_project,
    pg_database,
    redis_or_skip,
    system_text,
    user_text,
    wait_until,
)
from claude_force.async_orchestrator import AsyncAgentOrchestrator
from claude_force.cluster.client import RunsClient
from claude_force.cluster.config import Cluster, cluster_of
from claude_force.cluster.specs import TaskSpec, WorkflowSpec
from claude_force.config import load_project
from claude_force.providers.anthropic import AnthropicProvider
from claude_force.providers.simulated import LatencyModel
from claude_force.testing import Emulator, EmulatorThread
from claude_force.workflows.result import WorkflowResult

pytestmark = [pytest.mark.services, pytest.mark.timeout(240)]

RPM = 12  # the shared limit of the rate-limit test's model


@dataclass
class Cl:
    config: Path
    cluster: Cluster
    emu: Emulator
    workers: Workers
    client: RunsClient
    limited: str  # a model with a requests-per-minute limit
    breakable: str  # the model whose breaker one process opens
    worker_breakable: str  # the model whose breaker a worker opens

    def messages(self, since: int = 0) -> list[object]:
        return [r for r in self.emu.requests[since:] if r.path == "/v1/messages"]


@pytest.fixture(scope="module")
def cl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cl]:
    redis_url = redis_or_skip()
    tmp = tmp_path_factory.mktemp("cluster")
    with pg_database() as url, EmulatorThread(latency="instant") as emu:
        config = cluster_project(tmp, url, redis_url=redis_url, dead_after_s=6)
        catalog = load_project(config).catalog
        limited, breakable = catalog.resolve("haiku"), catalog.resolve("opus")
        worker_breakable = catalog.resolve("claude-opus-5")
        data = json.loads(config.read_text())
        data["resilience"] = {
            "retry": {"enabled": False},
            "breaker": {"minimum_calls": 3, "failure_rate_threshold": 0.5, "cooldown_seconds": 120},
            "rate_limits": {"models": {limited: {"requests_per_minute": RPM}}},
        }
        config.write_text(json.dumps(data, indent=1))
        cluster = cluster_of(load_project(config))
        assert cluster is not None
        with Workers(config, emu.base_url) as workers, RunsClient(cluster) as client:
            workers.start("w1", "w2", "w3")
            yield Cl(config, cluster, emu, workers, client, limited, breakable, worker_breakable)


def test_three_workers_run_sixty_tasks_each_exactly_once(cl: Cl) -> None:
    since = len(cl.emu.requests)
    tasks = [f"queued task number {i:02d}: check the parser" for i in range(60)]
    ids = [cl.client.submit_task(TaskSpec("python-expert", t, use_cache=False)) for t in tasks]
    done = cl.client.wait(ids, poll_s=0.2, timeout_s=150)
    assert all(done[r].status == "SUCCESS" for r in ids), Counter(d.status for d in done.values())
    assert all(done[r].outcome == "succeeded" for r in ids)
    executors = Counter(done[r].executor for r in ids)
    assert set(executors) <= {"w1", "w2", "w3"}
    assert len(executors) >= 2, executors  # the queue spread the work
    seen = Counter(user_text(r.body) for r in cl.messages(since))  # type: ignore[attr-defined]
    assert [seen[t] for t in tasks] == [1] * 60  # every task reached the model exactly once
    assert sum(seen.values()) == 60


def test_metrics_and_memory_of_the_workers_are_visible_from_another_process(cl: Cl) -> None:
    ids = [
        cl.client.submit_task(TaskSpec("bug-investigator", f"flamingo crash in module {i}"))
        for i in range(3)
    ]
    done = cl.client.wait(ids, timeout_s=60)
    assert all(d.outcome == "succeeded" for d in done.values())
    env = cl.workers.env()
    cf = [sys.executable, "-m", "claude_force"]
    out = subprocess.run(
        [*cf, "analytics", "summary", "--agent", "bug-investigator", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert json.loads(out)["executions"] == 3
    out = subprocess.run(
        [*cf, "memory", "search", "flamingo", "--agent", "bug-investigator", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    found = json.loads(out)
    hits = found["hits"] if isinstance(found, dict) else found
    assert len(hits) == 3


def test_one_requests_per_minute_limit_holds_across_three_workers(cl: Cl) -> None:
    since = len(cl.emu.requests)
    ids = [
        cl.client.submit_task(TaskSpec("python-expert", f"limited {i}", model=cl.limited))
        for i in range(3 * RPM)
    ]
    wait_until(lambda: len(cl.messages(since)) >= 1, 60, "the first limited request")
    t0 = time.monotonic()
    time.sleep(5)
    window = time.monotonic() - t0
    seen = len(cl.messages(since))
    # one shared bucket: a burst of RPM, then RPM/60 per second. Limits per process would have
    # let all 3 × RPM through at once.
    assert RPM <= seen <= RPM + RPM * window / 60 + 1, seen
    infos = cl.client.statuses(ids)
    assert len({i.executor for i in infos.values() if i.executor}) >= 2  # several workers
    for rid in ids:
        cl.client.cancel(rid)
    # the calls already waiting for capacity finish their step: refill the shared buckets
    # (delete them) until every run is final, so that nothing is left in flight
    import redis

    from claude_force.cluster.shared import namespace

    r = redis.Redis.from_url(cl.cluster.redis_url or "")
    pattern = f"{namespace(cl.cluster.database_url)}rl:*"

    def settled() -> bool:
        for key in r.scan_iter(pattern):
            r.delete(key)
        return all(i.finished for i in cl.client.statuses(ids).values())

    wait_until(settled, 60, "the limited runs to finish or be cancelled")
    # a cancelled run's step that was already waiting still makes its call: wait for quiet
    last = [-1, time.monotonic()]

    def quiet() -> bool:
        settled()
        n = len(cl.emu.requests)
        if n != last[0]:
            last[:] = [n, time.monotonic()]
        return time.monotonic() - last[1] > 2.0

    wait_until(quiet, 60, "no limited call in flight")
    r.close()


def test_a_breaker_opened_by_a_worker_stops_the_other_workers(cl: Cl) -> None:
    # Failing runs, one at a time, go to whichever worker the queue picks; each worker counts its
    # own failures. The first to see three opens its breaker and publishes it: from then on no
    # worker sends a request for that model. At most 2 + 2 + 3 requests fail before that.
    model = cl.worker_breakable
    sent_before = len(cl.messages())
    opened_by: str | None = None
    failed = 0
    for i in range(10):
        cl.emu.enqueue("500")
        rid = cl.client.submit_task(TaskSpec("python-expert", f"worker fails {i}", model=model))
        done = cl.client.wait([rid], timeout_s=60)[rid]
        error = done.result.error_type
        if error == "CircuitOpenError":
            break
        assert done.outcome != "succeeded" and error is not None, done
        failed += 1
        opened_by = done.executor
    else:
        pytest.fail("no worker opened its breaker after 10 failing runs")
    cl.emu.faults.reset()  # the 500 queued for the refused run was never used
    assert 3 <= failed <= 7, failed
    assert len(cl.messages()) == sent_before + failed  # every failure was one real request
    assert opened_by in ("w1", "w2", "w3")
    sent = len(cl.messages())
    results = refused_everywhere(cl, model, "after")
    assert all(r.error_type == "CircuitOpenError" for r in results), results
    assert len(cl.messages()) == sent  # none of them reached the model


def refused_everywhere(cl: Cl, model: str, label: str, batches: int = 5) -> list[Any]:
    """Batches of 6 runs of ``model`` until at least two workers have run some (one worker may
    take a whole batch of runs that fail at once, on a loaded machine); their results."""
    results: list[Any] = []
    executors: set[str | None] = set()
    for b in range(batches):
        ids = [
            cl.client.submit_task(TaskSpec("python-expert", f"{label} {b}.{i}", model=model))
            for i in range(6)
        ]
        done = cl.client.wait(ids, timeout_s=60)
        results += [d.result for d in done.values()]
        executors |= {d.executor for d in done.values()}
        if len(executors) >= 2:
            return results
    pytest.fail(f"{batches} batches of runs all went to one worker: {executors}")


async def test_a_breaker_opened_by_one_process_stops_the_workers(cl: Cl) -> None:
    # One member of the cluster — this process, running the same pipeline as a worker — sees
    # three failures of the model and opens its breaker …
    project = load_project(cl.config)
    provider = AnthropicProvider("test-key", base_url=cl.emu.base_url)
    cl.emu.enqueue("500", "500", "500")
    async with AsyncAgentOrchestrator(project=project, provider=provider) as orch:
        for i in range(3):
            ex = await orch.execute("python-expert", f"fails {i}", _opts(cl.breakable))
            assert not ex.success
        assert (await orch.execute("python-expert", "x", _opts(cl.breakable))).error_type == (
            "CircuitOpenError"
        )
    sent = len(cl.messages())
    # … and no worker calls that model any more (two of them, at least, are asked).
    results = refused_everywhere(cl, cl.breakable, "later")
    assert all(r.error_type == "CircuitOpenError" for r in results), results
    assert len(cl.messages()) == sent  # none of them reached the model


def _opts(model: str) -> object:
    from claude_force.runner import RunOptions

    return RunOptions(model=model, use_cache=False, use_memory=False)


def test_the_workers_carry_on_after_postgresql_drops_every_connection(cl: Cl) -> None:
    # What a PostgreSQL restart looks like from the workers: every connection to the database
    # is cut (the shared server cannot be restarted under a test suite). They reconnect, and
    # the runs submitted afterwards — and their metrics — complete.
    import psycopg

    from _cluster_helpers import PG_ADMIN

    def executions() -> int:
        out = subprocess.run(
            [sys.executable, "-m", "claude_force", "analytics", "summary", "--json"],
            env=cl.workers.env(),
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
        return int(json.loads(out)["executions"])

    before = executions()
    db = cl.cluster.database_url.rsplit("/", 1)[-1]
    with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3) as admin:
        cut = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            (db,),
        ).fetchone()
    assert cut is not None and cut[0] >= 3  # at least one connection per worker was cut
    since = len(cl.messages())
    tasks = [f"after the restart {i}" for i in range(6)]
    ids = [cl.client.submit_task(TaskSpec("python-expert", t, use_cache=False)) for t in tasks]
    done = cl.client.wait(ids, poll_s=0.2, timeout_s=120)
    assert all(d.outcome == "succeeded" for d in done.values()), done
    assert len({d.executor for d in done.values()}) >= 2
    seen = Counter(user_text(r.body) for r in cl.messages(since))  # type: ignore[attr-defined]
    assert [seen[t] for t in tasks] == [1] * 6
    assert executions() == before + 6  # the metrics backends reconnected too


def test_kill_9_mid_workflow_completes_on_another_worker(cl: Cl) -> None:
    # ~1 s per request from now on: the kill lands inside step 2
    cl.emu.latency = LatencyModel(first_token_s=1.0)
    since = len(cl.emu.requests)
    rid = cl.client.submit_workflow(WorkflowSpec("chain4", "tidy up utils.py"))
    wait_until(lambda: len(cl.messages(since)) >= 2, 60, "step 2 to reach the model")
    first = cl.client.get(rid).executor
    assert first in ("w1", "w2", "w3")
    killed_at = time.monotonic()
    cl.workers.kill(first)
    done = cl.client.wait([rid], poll_s=0.2, timeout_s=120)[rid]
    assert done.status == "SUCCESS", done
    assert done.executor not in (first, None)
    result = done.result
    assert isinstance(result, WorkflowResult) and result.status == "succeeded"
    assert [result.steps[s].agent for s in result.steps] == CHAIN
    per_agent = Counter(
        next(a for a in CHAIN if a.replace("-", " ") in system_text(r.body).lower())  # type: ignore[attr-defined]
        for r in cl.messages(since)
    )
    # step 1 had finished before the kill: never sent again; the interrupted step 2 ran again
    # (at-least-once); steps 3 and 4 ran once
    assert per_agent["python-expert"] == 1
    assert per_agent["code-reviewer"] in (1, 2)
    assert per_agent["test-engineer"] == 1
    assert per_agent["document-writer"] == 1
    assert time.monotonic() - killed_at < 90
