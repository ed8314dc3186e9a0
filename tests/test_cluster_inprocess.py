"""Cluster mode with a worker in this process (a thread with its own event loop): the CLI's
cluster paths, ``runs``, the durable workflows, heartbeats and the sweep, on real PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from _cluster_helpers import cluster_project, pg_database
from claude_force.cli.app import main
from claude_force.cluster.client import RunsClient
from claude_force.cluster.config import Cluster, cluster_of
from claude_force.cluster.liveness import Heartbeats, PendingRun, WorkerInfo, orphans, sweep
from claude_force.cluster.specs import TaskSpec
from claude_force.cluster.worker import WorkerOptions, run_worker
from claude_force.config import load_project

pytestmark = [pytest.mark.services, pytest.mark.timeout(180)]


class InProcessWorker:
    def __init__(self, config: Path) -> None:
        self.project = load_project(config)
        cluster = cluster_of(self.project)
        assert cluster is not None
        self.cluster: Cluster = cluster
        self.ready = threading.Event()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.stop_event: asyncio.Event | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        async def go() -> None:
            self.loop = asyncio.get_running_loop()
            self.stop_event = asyncio.Event()
            opts = WorkerOptions(worker_id="inproc-1", concurrency=4, simulate=True)
            await run_worker(
                self.project, self.cluster, opts, stop=self.stop_event, on_ready=self.ready.set
            )

        try:
            asyncio.run(go())
        except BaseException as exc:
            self.error = exc
            self.ready.set()

    def __enter__(self) -> InProcessWorker:
        import logging

        # DBOS flushes the handler it attached at its first launch in this process; under pytest
        # that handler's stream is an earlier test's captured stderr, closed since
        dbos_log = logging.getLogger("dbos")
        for handler in list(dbos_log.handlers):
            if getattr(getattr(handler, "stream", None), "closed", False):
                dbos_log.removeHandler(handler)
        self.thread.start()
        assert self.ready.wait(60), "worker not ready"
        if self.error is not None:
            raise self.error
        return self

    def __exit__(self, *exc: object) -> None:
        if self.loop is not None and self.stop_event is not None:
            self.loop.call_soon_threadsafe(self.stop_event.set)
        self.thread.join(30)
        assert not self.thread.is_alive()


@pytest.fixture
def cluster_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    with pg_database() as url:
        config = cluster_project(tmp_path, url, provider={"latency": "instant", "simulate": True})
        monkeypatch.setenv("CLAUDE_FORCE_CONFIG", str(config))
        yield config


def _json(capsys: pytest.CaptureFixture[str]) -> Any:
    return json.loads(capsys.readouterr().out)


def test_cli_cluster_paths_with_an_in_process_worker(
    cluster_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with InProcessWorker(cluster_config) as worker:
        # --submit prints the run id; runs show reports it
        assert main(["execute", "python-expert", "submitted task", "--submit", "--json"]) == 0
        rid = _json(capsys)["runs"][0]
        assert rid.startswith("run-")
        # without --submit: enqueue and wait, same JSON as an embedded run
        assert main(["execute", "code-reviewer", "task one", "task two", "--json"]) == 0
        out = _json(capsys)
        assert [r["task"] for r in out["results"]] == ["task one", "task two"]
        assert out["summary"]["mode"] == "cluster"
        assert all(r["metadata"]["simulated"] for r in out["results"])
        # a workflow: each step durable, the result is the WorkflowResult
        assert main(["run-workflow", "chain4", "--task", "tidy utils.py", "--json"]) == 0
        wf = _json(capsys)
        assert wf["status"] == "succeeded" and len(wf["steps"]) == 4
        assert main(["runs", "list", "--json"]) == 0
        runs = _json(capsys)["runs"]
        assert {r["kind"] for r in runs} == {"task", "workflow"}
        assert all(r["executor"] == "inproc-1" for r in runs if r["status"] == "SUCCESS")
        with RunsClient(worker.cluster) as client:
            client.wait([rid], timeout_s=30)
        assert main(["runs", "show", rid, "--json"]) == 0
        shown = _json(capsys)
        assert shown["status"] == "SUCCESS" and shown["outcome"] == "succeeded"
        assert shown["result"]["task"] == "submitted task"
        assert [s["name"] for s in shown["steps"]] == ["claude_force.agent"]
        assert main(["runs", "show", wf["run_id"]]) == 0
        text = capsys.readouterr().out
        assert "kind: workflow" in text and "step" in text
        assert main(["runs", "list"]) == 0
        assert rid[:8] in capsys.readouterr().out
        assert main(["runs", "cancel", rid, "--json"]) == 0
        assert _json(capsys)["run_id"] == rid
        assert main(["runs", "show", "run-doesnotexist"]) == 2
        assert "no run with id" in capsys.readouterr().err
        # the server's run endpoints queue the run and answer as in embedded mode
        from fastapi.testclient import TestClient

        from claude_force.server import create_app

        app = create_app(cluster_config, simulate=True)
        with TestClient(app, base_url="http://127.0.0.1") as http:
            got = http.post("/api/v1/execute", json={"agent": "code-reviewer", "task": "via http"})
            assert got.status_code == 200 and got.json()["success"]
            got = http.post("/api/v1/workflows/chain4/run", json={"task": "via http"})
            assert got.status_code == 200 and got.json()["status"] == "succeeded"
            # streamed in cluster mode: a worker runs it, the answer arrives as one delta
            got = http.post(
                "/api/v1/execute/stream", json={"agent": "code-reviewer", "task": "streamed"}
            )
            assert got.status_code == 200, got.text
            kinds = [ln[6:].strip() for ln in got.text.splitlines() if ln.startswith("event:")]
            assert kinds == ["delta", "end"]
            end = json.loads([ln for ln in got.text.splitlines() if ln.startswith("data:")][-1][5:])
            assert end["success"] and end["agent"] == "code-reviewer" and end["execution_id"]
        assert main(["runs", "list", "--json"]) == 0
        labels = [r["label"] for r in _json(capsys)["runs"][:3]]
        assert labels == ["code-reviewer", "chain4", "code-reviewer"]  # queued: newest first


def test_cluster_commands_need_cluster_mode(
    in_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["execute", "python-expert", "x", "--submit"]) == 2
    err = capsys.readouterr().err
    assert "cluster.database_url" in err and "CLAUDE_FORCE_DATABASE_URL" in err
    assert main(["runs", "list"]) == 2
    assert main(["worker"]) == 2
    assert main(["run-workflow", "bug-fix", "--task", "x", "--submit"]) == 2


def test_a_bad_database_url_is_refused_with_the_key(
    in_project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CLAUDE_FORCE_DATABASE_URL", "mysql://x")
    assert main(["runs", "list"]) == 2
    err = capsys.readouterr().err
    assert "cluster.database_url" in err and "CLAUDE_FORCE_DATABASE_URL" in err


def test_unreachable_database_is_one_line(
    in_project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CLAUDE_FORCE_DATABASE_URL", "postgresql://postgres@127.0.0.1:1/none")
    assert main(["runs", "list"]) == 1
    err = capsys.readouterr().err
    assert "cannot reach the cluster database" in err and "Traceback" not in err


# --- liveness: the pure decision and the sweep against PostgreSQL -------------------------------

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def _worker(wid: str, seen_s_ago: float, stopped: bool = False) -> WorkerInfo:
    last = NOW - timedelta(seconds=seen_s_ago)
    return WorkerInfo(wid, "h", 1, 4, "v", last, last, stopped)


def test_orphans_are_runs_of_dead_or_stopped_or_long_unknown_executors() -> None:
    workers = [_worker("live", 1), _worker("dead", 60), _worker("gone", 1, stopped=True)]
    ms = NOW.timestamp() * 1000
    pending = [
        PendingRun("a", "live", int(ms)),
        PendingRun("b", "dead", int(ms)),
        PendingRun("c", "gone", int(ms)),
        PendingRun("d", "never-beat", int(ms - 1000)),  # too recent to judge
        PendingRun("e", "never-beat", int(ms - 60_000)),
        PendingRun("f", None, None),
    ]
    chosen = [r.run_id for r in orphans(pending, workers, NOW, dead_after_s=15)]
    assert chosen == ["b", "c", "e", "f"]


async def test_sweep_resumes_orphans_once_under_the_lock(tmp_path: Path) -> None:
    with pg_database() as url:
        beats = Heartbeats(url)
        await beats.ensure_schema()
        await beats.ensure_schema()  # idempotent, versioned
        await beats.beat("alive", concurrency=2, app_version="v")
        await beats.beat("dead", concurrency=2, app_version="v", stopped=True)
        _, rows = await beats.workers()
        assert {w.executor_id for w in rows} == {"alive", "dead"}
        resumed: list[str] = []

        async def pending() -> list[PendingRun]:
            return [PendingRun("r1", "dead", None), PendingRun("r2", "alive", None)]

        async def resume(run_id: str) -> None:
            resumed.append(run_id)

        assert await sweep(beats, pending, resume, 15) == ["r1"]
        # while another sweeper holds the lock, a sweep does nothing
        async with await beats._connect() as holder:
            assert await beats.try_sweep_lock(holder)
            assert await sweep(beats, pending, resume, 15) == []
        assert resumed == ["r1"]


def test_client_lists_and_labels_queued_runs_without_workers(cluster_config: Path) -> None:
    cluster = cluster_of(load_project(cluster_config))
    assert cluster is not None
    with RunsClient(cluster) as client:
        rid = client.submit_task(TaskSpec("python-expert", "never executed"), run_id="run-fixed")
        assert rid == "run-fixed"
        info = client.get(rid)
        assert (info.status, info.kind, info.label, info.outcome) == (
            "ENQUEUED",
            "task",
            "python-expert",
            None,
        )
        assert not info.finished
        assert client.wait([rid], timeout_s=0.3, poll_s=0.1)[rid].status == "ENQUEUED"
        assert client.cancel(rid).status == "CANCELLED"


def test_finished_runs_past_the_history_are_pruned_and_queued_ones_kept(
    cluster_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from claude_force.cluster import worker as worker_module
    from claude_force.cluster.liveness import prune_history

    calls: list[float] = []

    async def recorded(beats: Heartbeats, admin: Any, history_days: float) -> int:
        calls.append(history_days)
        return 0

    monkeypatch.setattr(worker_module, "prune_history", recorded)
    with InProcessWorker(cluster_config) as worker, RunsClient(worker.cluster) as client:
        done = [client.submit_task(TaskSpec("python-expert", f"old {i}")) for i in range(2)]
        assert all(i.finished for i in client.wait(done, timeout_s=60).values())
    assert calls == [30.0]  # the worker pruned once, at start, with the default history
    cluster = worker.cluster
    with RunsClient(cluster) as client:
        queued = client.submit_task(TaskSpec("python-expert", "still queued"))  # no worker now

        async def prune_now(days: float) -> int:
            beats = Heartbeats(cluster.database_url)
            try:
                return await prune_history(beats, client._client, days)
            finally:
                await beats.aclose()

        assert asyncio.run(prune_now(0)) == 0  # 0 days: keep everything
        assert {r.run_id for r in client.list(limit=10)} >= {*done, queued}
        assert asyncio.run(prune_now(1e-9)) == 2  # finished and older than ~0 s: gone
        left = {r.run_id for r in client.list(limit=10)}
        assert queued in left and not left & set(done)
        client.cancel(queued)


def test_history_cutoff_is_days_before_now() -> None:
    from claude_force.cluster.retention import cutoff

    now = datetime(2026, 12, 7, tzinfo=UTC)
    assert cutoff(now, 0) is None
    assert cutoff(now, 30) == now - timedelta(days=30)


def test_waiting_reads_each_result_once_and_polls_only_statuses(cluster_config: Path) -> None:
    with InProcessWorker(cluster_config) as worker, RunsClient(worker.cluster) as client:
        ids = [client.submit_task(TaskSpec("python-expert", f"wait {i}")) for i in range(4)]
        calls: list[tuple[list[str], bool]] = []
        inner = client._client
        original = inner.list_workflows

        def recorded(**kwargs: Any) -> Any:
            found = original(**kwargs)
            loads = kwargs.get("load_output", True) is not False
            calls.append(([s.workflow_id for s in found], loads))
            if loads:  # a full read is only ever of finished runs
                assert all(s.status in ("SUCCESS", "ERROR", "CANCELLED") for s in found)
            return found

        inner.list_workflows = recorded  # type: ignore[method-assign]
        infos = client.wait(ids, poll_s=0.05, timeout_s=60)
        assert all(infos[r].outcome == "succeeded" for r in ids)
        full = [rid for got, loads in calls if loads for rid in got]
        assert sorted(full) == sorted(ids)  # each result read once
        assert any(not loads for _, loads in calls)
