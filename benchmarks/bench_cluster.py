"""Cluster mode (DBOS on PostgreSQL): throughput of N workers, durable-step overhead, recovery
after ``kill -9``, and the queue's dispatch ceiling. Needs PostgreSQL on 127.0.0.1:5432 (skipped
with a note otherwise); every figure is ``info`` (no target: the machine is shared and the
figures are what they are). Worker start-up is excluded from every timing.

1. Throughput: 300 tasks (60 with ``--quick``) against the emulator at 1 s per request, workers
   with ``--concurrency 20``; 1, 2 and 3 workers. Ideal = tasks / (20 × workers) seconds;
   the figure is ideal / measured.
2. Overhead per durable step: the 4-step ``chain4`` workflow at zero latency (simulated,
   ``instant``), run in-process vs as a durable run on one worker; (durable wall − in-process
   wall) / 4, each the median of 5 runs, both measured by the workflow engine itself.
3. Recovery after ``kill -9``: a worker killed in step 2 of a 1-s-per-step workflow; time from the
   kill to the interrupted step's request reaching the emulator again (``dead_after_seconds`` 3,
   heartbeat 0.5 s), and to the run's completion.
4. Dispatch ceiling: 600 zero-latency tasks (200 with ``--quick``) on 3 workers of concurrency 50
   (simulated, instant): runs per second end to end.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _harness import Result

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

TITLE = "Cluster mode (DBOS workers on PostgreSQL)"


def _available() -> str | None:
    try:
        import psycopg

        psycopg.connect("postgresql://postgres@127.0.0.1:5432/test", connect_timeout=2).close()
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def _throughput(n_workers: int, tasks: int) -> tuple[float, float, float]:
    from _cluster_helpers import Workers, cluster_project, pg_database
    from claude_force.cluster.client import RunsClient
    from claude_force.cluster.config import cluster_of
    from claude_force.cluster.specs import TaskSpec
    from claude_force.config import load_project
    from claude_force.providers.simulated import LatencyModel
    from claude_force.testing import EmulatorThread

    with (
        tempfile.TemporaryDirectory() as tmp,
        pg_database("cf_bench") as url,
        EmulatorThread(latency=LatencyModel(first_token_s=1.0)) as emu,
    ):
        config = cluster_project(Path(tmp), url)
        cluster = cluster_of(load_project(config))
        assert cluster is not None
        with Workers(config, emu.base_url, concurrency=20) as workers, RunsClient(cluster) as c:
            workers.start(*[f"b{i}" for i in range(1, n_workers + 1)])
            t0 = time.perf_counter()
            ids = [
                c.submit_task(TaskSpec("python-expert", f"bench {i}", use_cache=False))
                for i in range(tasks)
            ]
            submitted = time.perf_counter() - t0
            done = c.wait(ids, poll_s=0.1, timeout_s=600)
            wall = time.perf_counter() - t0
            assert all(d.status == "SUCCESS" for d in done.values())
    ideal = tasks / (20 * n_workers) * 1.0
    return wall, ideal / wall, submitted


def _step_overhead() -> tuple[float, float, float]:
    from _cluster_helpers import Workers, cluster_project, pg_database
    from claude_force.async_orchestrator import AsyncAgentOrchestrator
    from claude_force.cluster.client import RunsClient
    from claude_force.cluster.config import cluster_of
    from claude_force.cluster.specs import WorkflowSpec
    from claude_force.config import load_project
    from claude_force.workflows.result import WorkflowResult

    provider = {"simulate": True, "latency": "instant"}
    with tempfile.TemporaryDirectory() as tmp, pg_database("cf_bench") as url:
        config = cluster_project(Path(tmp), url, provider=provider)
        data = json.loads(config.read_text())
        data["cache"] = {"enabled": False}
        config.write_text(json.dumps(data))
        project = load_project(config)

        async def local() -> list[float]:
            walls = []
            # the same project without the cluster section: the in-process engine
            p = project.settings.model_copy(
                update={
                    "cluster": project.settings.cluster.model_copy(update={"database_url": None})
                }
            )
            proj = type(project)(project.config_path, p, project.catalog, project.text)
            async with AsyncAgentOrchestrator(project=proj, simulate=True) as orch:
                for _ in range(6):
                    r = await orch.execute_workflow("chain4", "tidy up", use_cache=False)
                    walls.append(r.wall_s)
            return walls[1:]

        inproc = statistics.median(asyncio.run(local()))
        cluster = cluster_of(project)
        assert cluster is not None
        with Workers(config, None, concurrency=4) as workers, RunsClient(cluster) as c:
            workers.start("s1", simulate=True)
            walls = []
            for _ in range(6):
                rid = c.submit_workflow(WorkflowSpec("chain4", "tidy up", use_cache=False))
                res = c.wait([rid], poll_s=0.05, timeout_s=120)[rid].result
                assert isinstance(res, WorkflowResult)
                walls.append(res.wall_s)
        durable = statistics.median(walls[1:])
    return inproc / 4, durable / 4, (durable - inproc) / 4


def _recovery() -> tuple[float, float]:
    from _cluster_helpers import Workers, cluster_project, pg_database, wait_until
    from claude_force.cluster.client import RunsClient
    from claude_force.cluster.config import cluster_of
    from claude_force.cluster.specs import WorkflowSpec
    from claude_force.config import load_project
    from claude_force.providers.simulated import LatencyModel
    from claude_force.testing import EmulatorThread

    with (
        tempfile.TemporaryDirectory() as tmp,
        pg_database("cf_bench") as url,
        EmulatorThread(latency=LatencyModel(first_token_s=1.0)) as emu,
    ):
        config = cluster_project(Path(tmp), url, dead_after_s=3)
        cluster = cluster_of(load_project(config))
        assert cluster is not None
        with Workers(config, emu.base_url) as workers, RunsClient(cluster) as c:
            workers.start("r1", "r2")
            rid = c.submit_workflow(WorkflowSpec("chain4", "tidy up", use_cache=False))
            wait_until(lambda: len(emu.requests) >= 2, 60, "step 2")
            victim = c.get(rid).executor or "r1"
            n = len(emu.requests)
            t0 = time.perf_counter()
            workers.kill(victim)
            wait_until(lambda: len(emu.requests) > n, 120, "the resumed step")
            resumed = time.perf_counter() - t0
            c.wait([rid], poll_s=0.05, timeout_s=120)
            completed = time.perf_counter() - t0
    return resumed, completed


def _dispatch(tasks: int) -> float:
    from _cluster_helpers import Workers, cluster_project, pg_database
    from claude_force.cluster.client import RunsClient
    from claude_force.cluster.config import cluster_of
    from claude_force.cluster.specs import TaskSpec
    from claude_force.config import load_project

    provider = {"simulate": True, "latency": "instant"}
    with tempfile.TemporaryDirectory() as tmp, pg_database("cf_bench") as url:
        config = cluster_project(Path(tmp), url, provider=provider)
        cluster = cluster_of(load_project(config))
        assert cluster is not None
        with Workers(config, None, concurrency=50) as workers, RunsClient(cluster) as c:
            workers.start("d1", "d2", "d3", simulate=True)
            t0 = time.perf_counter()
            ids = [
                c.submit_task(TaskSpec("python-expert", f"z {i}", use_cache=False))
                for i in range(tasks)
            ]
            c.wait(ids, poll_s=0.05, timeout_s=600)
            wall = time.perf_counter() - t0
    return tasks / wall


def run(quick: bool) -> list[Result]:
    why = _available()
    if why is not None:
        return [Result("cluster benchmarks", 0, "", "", None, f"skipped: no PostgreSQL ({why})")]
    out: list[Result] = []
    tasks = 60 if quick else 300
    for n in (1, 2, 3):
        wall, ratio, submitted = _throughput(n, tasks)
        out.append(
            Result(
                f"throughput, {n} worker(s) × 20, {tasks} tasks at 1 s",
                ratio,
                "× ideal",
                detail=f"{wall:.1f} s wall vs ideal {tasks / (20 * n):.1f} s ({tasks / wall:.1f} "
                f"tasks/s); one client submitted them one by one in {submitted:.1f} s",
            )
        )
    local, durable, overhead = _step_overhead()
    out.append(
        Result(
            "overhead per durable step (zero-latency step)",
            overhead * 1000,
            "ms",
            detail=f"in-process {local * 1000:.1f} ms/step, durable {durable * 1000:.1f} ms/step "
            "(median of 5 chain4 runs each)",
        )
    )
    resumed, completed = _recovery()
    out.append(
        Result(
            "recovery after kill -9 (dead_after 3 s)",
            resumed,
            "s",
            detail=f"kill → interrupted step re-sent; run completed {completed:.1f} s after the kill",
        )
    )
    rate = _dispatch(200 if quick else 600)
    out.append(
        Result(
            "dispatch ceiling (3 workers × 50, zero-latency tasks)",
            rate,
            "runs/s",
            detail="end to end: enqueue, dequeue, one durable step, result; one PostgreSQL",
        )
    )
    return out
