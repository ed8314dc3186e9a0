"""Batch mode: limits and splitting, the emulator's Batches API through the real SDK, the service,
the simulated backend and the CLI."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from claude_force.async_orchestrator import AsyncAgentOrchestrator
from claude_force.batch import (
    MAX_REQUESTS,
    AnthropicBatchBackend,
    BatchNotEndedError,
    BatchNotFoundError,
    BatchRequest,
    BatchService,
    BatchTask,
    BatchTimeoutError,
    JobStore,
    PollPolicy,
    SimulatedBatchBackend,
    custom_id,
    split,
)
from claude_force.batch.limits import ENVELOPE_BYTES, request_bytes
from claude_force.batch.types import BatchJob, RawResult, response_from_dict, response_to_dict
from claude_force.cli.app import app
from claude_force.errors import InvalidRequestError
from claude_force.events import ExecutionFinished
from claude_force.hybrid_orchestrator import AsyncHybridOrchestrator
from claude_force.messages import ChatMessage, MessageRequest, MessageResponse, Usage
from claude_force.providers.simulated import SIMULATED_BANNER
from claude_force.testing import Emulator, EmulatorThread
from claude_force.testing._batches import batch_route

SONNET, HAIKU, OPUS = "claude-sonnet-5-5", "claude-haiku-5-5", "claude-opus-5-5"


def req(cid: str, text: str = "hello", model: str = SONNET) -> BatchRequest:
    return BatchRequest(cid, MessageRequest(model, (ChatMessage("user", text),), max_tokens=64))


# --- pure: limits, ids, polling ---------------------------------------------------------------------


def test_split_by_count_keeps_order() -> None:
    items = [req(f"r{i}") for i in range(7)]
    chunks = split(items, max_requests=3)
    assert [len(c) for c in chunks] == [3, 3, 1]
    assert [r.custom_id for c in chunks for r in c] == [f"r{i}" for i in range(7)]
    assert split([]) == []
    assert MAX_REQUESTS == 100_000


def test_split_by_bytes() -> None:
    items = [req(f"r{i}", "x" * 1000) for i in range(10)]
    size = request_bytes(items[0])
    budget_for_three = ENVELOPE_BYTES + 3 * size
    chunks = split(items, max_bytes=budget_for_three)
    assert [len(c) for c in chunks] == [3, 3, 3, 1]
    for c in chunks:
        assert sum(request_bytes(r) for r in c) <= budget_for_three - ENVELOPE_BYTES


def test_split_refuses_what_cannot_fit() -> None:
    with pytest.raises(ValueError, match="larger than a batch"):
        split([req("big", "x" * 5000)], max_bytes=ENVELOPE_BYTES + 100)
    with pytest.raises(ValueError, match="max_requests"):
        split([req("a")], max_requests=0)


def test_custom_ids_are_valid_and_unique() -> None:
    assert custom_id("code-reviewer", 3) == "code-reviewer-3"
    odd = custom_id("weird agent/näme" + "x" * 80, 12)
    assert len(odd) <= 64 and odd.endswith("-12")
    assert all(c.isascii() and (c.isalnum() or c in "-_") for c in odd)
    assert custom_id("", 1) == "agent-1"


def test_poll_policy_backs_off_to_a_ceiling() -> None:
    d = PollPolicy(initial_s=2, factor=2, max_s=10).delays()
    assert [next(d) for _ in range(5)] == [2, 4, 8, 10, 10]
    with pytest.raises(ValueError):
        PollPolicy(initial_s=0)
    with pytest.raises(ValueError):
        PollPolicy(initial_s=5, max_s=1)


@pytest.mark.parametrize(
    ("method", "path", "route"),
    [
        ("POST", "/v1/messages/batches", "batch_create"),
        ("GET", "/v1/messages/batches", None),
        ("GET", "/v1/messages/batches/msgbatch_1", "batch_get"),
        ("GET", "/v1/messages/batches/msgbatch_1/results", "batch_results"),
        ("POST", "/v1/messages/batches/msgbatch_1/cancel", "batch_cancel"),
        ("DELETE", "/v1/messages/batches/msgbatch_1", None),
        ("GET", "/v1/messages/batches/a/b/c", None),
        ("POST", "/v1/messages", None),
    ],
)
def test_emulator_batch_routes(method: str, path: str, route: str | None) -> None:
    assert batch_route(method, path) == route


def test_results_round_trip_through_json() -> None:
    r = MessageResponse("hi", SONNET, "end_turn", Usage(1, 2, 3, 4), message_id="m", simulated=True)
    assert response_from_dict(json.loads(json.dumps(response_to_dict(r)))) == r
    raw = RawResult("c-1", "errored", error_type="invalid_request_error", error="bad")
    assert RawResult.from_dict(json.loads(json.dumps(raw.to_dict()))) == raw


# --- the Batches API of the emulator, through the official SDK --------------------------------------


@dataclass
class VirtualTime:
    now: float = 0.0
    sleeps: list[float] = field(default_factory=list)

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


@dataclass
class Rig:
    emu: Emulator
    time: VirtualTime
    core: AsyncAgentOrchestrator
    backend: AnthropicBatchBackend
    service: BatchService
    events: list[ExecutionFinished]


async def make_rig(
    config: Path, emu: Emulator, vt: VirtualTime, *, hybrid: bool = False, **svc: Any
) -> Rig:
    cls = AsyncHybridOrchestrator if hybrid else AsyncAgentOrchestrator
    core = cls(
        config, api_key="sk-test", simulate=False, enable_memory=False, enable_tracking=False
    )
    events: list[ExecutionFinished] = []
    core.bus.subscribe(lambda e: events.append(e) if isinstance(e, ExecutionFinished) else None)
    backend = AnthropicBatchBackend("sk-test", base_url=emu.base_url)
    jobs = JobStore(core.project.state_dir / "batches")
    service = BatchService(
        core,
        backend,
        jobs,
        poll=PollPolicy(initial_s=10, factor=2, max_s=40),
        sleep=vt.sleep,
        clock=vt.clock,
        **svc,
    )
    return Rig(emu, vt, core, backend, service, events)


@pytest.fixture
async def rig(sample_config: Path) -> AsyncIterator[Rig]:
    vt = VirtualTime()
    async with Emulator(batch_delay_s=60, batch_clock=vt.clock) as emu:
        r = await make_rig(sample_config, emu, vt)
        try:
            yield r
        finally:
            await r.backend.aclose()
            await r.core.close()


TASKS = [
    BatchTask("code-reviewer", "Review module a", "tasks.txt:1"),
    BatchTask("document-writer", "Fix typo in README", "tasks.txt:2"),
    BatchTask("security-specialist", "Audit the login flow", "tasks.txt:3"),
]


async def test_submit_poll_and_results_end_to_end(rig: Rig) -> None:
    job = await rig.service.submit(TASKS)
    assert len(job.batch_ids) == 1 and job.batch_ids[0].startswith("msgbatch_emu")
    assert [i.custom_id for i in job.items] == [
        "code-reviewer-1",
        "document-writer-2",
        "security-specialist-3",
    ]
    sent = rig.emu.requests[-1]
    assert sent.path == "/v1/messages/batches" and len(sent.body["requests"]) == 3
    params = sent.body["requests"][0]["params"]
    assert params["system"][0]["cache_control"] == {"type": "ephemeral"}
    assert params["model"] == SONNET and params["messages"][0]["content"] == "Review module a"
    status = await rig.service.status(job.id)
    assert status.processing_status == "in_progress" and status.counts["processing"] == 3
    with pytest.raises(BatchNotEndedError):
        await rig.service.results(job.id)
    status = await rig.service.wait(job.id)
    assert status.ended and status.counts["succeeded"] == 3
    assert rig.time.sleeps == [10, 20, 40]  # backoff until 60 s had passed on the virtual clock
    results = await rig.service.results(job.id)
    assert [r.custom_id for r in results] == [i.custom_id for i in job.items]
    assert [r.agent for r in results] == [t.agent for t in TASKS]
    day = status.batches[0].created_at
    assert day is not None
    prices = rig.core.project.catalog.prices
    for r in results:
        assert r.status == "succeeded" and r.output.startswith(SIMULATED_BANNER)
        full = prices.cost(r.model, r.usage, rig_day(job))
        assert full is not None and r.cost_usd is not None and r.saved_usd is not None
        # the 50% discount applies to input and output; cache writes keep their price
        assert r.cost_usd < full and r.cost_usd + r.saved_usd == full
    assert results[0].usage.cache_creation_input_tokens > 0
    assert rig.emu.batches.processed == 3


def rig_day(job: BatchJob) -> Any:
    from datetime import datetime

    return datetime.fromisoformat(job.created_at).date()


async def test_results_are_recorded_once_and_stored_in_the_response_cache(rig: Rig) -> None:
    job = await rig.service.submit(TASKS[:2])
    await rig.service.wait(job.id)
    first = await rig.service.results(job.id)
    assert len(rig.events) == 2
    ev = rig.events[0]
    assert ev.provider == "anthropic-batch" and ev.cost_usd == first[0].cost_usd
    assert ev.duration_ms >= 0 and ev.success
    again = await rig.service.results(job.id)
    assert again == first and len(rig.events) == 2  # not recorded twice
    assert (await rig.service.jobs.load(job.id)).recorded
    # the answers went into the response cache: the same tasks are not submitted again
    batches_before = len(rig.emu.batches)
    job2 = await rig.service.submit(TASKS[:2])
    assert job2.batch_ids == [] and len(rig.emu.batches) == batches_before
    cached = await rig.service.results(job2.id)
    assert [r.status for r in cached] == ["cached", "cached"]
    assert [r.output for r in cached] == [r.output for r in first]
    assert all(r.cost_usd == 0 and r.saved_usd and r.saved_usd > 0 for r in cached)
    # and an online run of the same request is a cache hit too
    ex = await rig.core.execute(TASKS[0].agent, TASKS[0].task)
    assert ex.cached and ex.output == first[0].output
    nocache = await rig.service.submit(TASKS[:1], use_cache=False)
    assert len(nocache.batch_ids) == 1


async def test_a_large_submission_is_split_into_several_batches(sample_config: Path) -> None:
    vt = VirtualTime()
    async with Emulator(batch_clock=vt.clock) as emu:
        r = await make_rig(sample_config, emu, vt, max_requests=2)
        tasks = [BatchTask("code-reviewer", f"review part {i}") for i in range(5)]
        job = await r.service.submit(tasks, use_cache=False)
        assert len(job.batch_ids) == 3
        assert [i.batch_id for i in job.items] == [
            job.batch_ids[0],
            job.batch_ids[0],
            job.batch_ids[1],
            job.batch_ids[1],
            job.batch_ids[2],
        ]
        status = await r.service.wait(job.id)
        assert status.counts["succeeded"] == 5 and len(status.batches) == 3
        results = await r.service.results(job.id)
        assert [x.custom_id for x in results] == [f"code-reviewer-{i}" for i in range(1, 6)]
        assert all(x.success for x in results)
        found = await r.service.jobs.load(job.batch_ids[2])  # a provider batch id finds its job
        assert found.id == job.id
        await r.backend.aclose()
        await r.core.close()


async def test_polling_survives_a_transient_error_but_not_a_permanent_one(rig: Rig) -> None:
    job = await rig.service.submit(TASKS[:1])
    rig.emu.enqueue("500")
    status = await rig.service.wait(job.id)
    assert status.ended and rig.emu.outcomes["500"] == 1
    job = await rig.service.submit([BatchTask("code-reviewer", "another")])
    rig.emu.enqueue("400")
    with pytest.raises(InvalidRequestError):
        await rig.service.wait(job.id)


async def test_wait_times_out_on_the_virtual_clock(rig: Rig) -> None:
    job = await rig.service.submit(TASKS[:1])
    with pytest.raises(BatchTimeoutError, match="still processing"):
        await rig.service.wait(job.id, timeout_s=25)
    assert rig.time.now <= 25


async def test_cancel_ends_unprocessed_requests(rig: Rig) -> None:
    job = await rig.service.submit(TASKS[:2])
    status = await rig.service.cancel(job.id)
    assert status.ended and status.counts["canceled"] == 2
    results = await rig.service.results(job.id)
    assert [r.status for r in results] == ["canceled", "canceled"]
    assert not any(r.success for r in results) and rig.emu.batches.processed == 0


async def test_unknown_jobs_and_batches(rig: Rig) -> None:
    for bad in ("cfb_0123456789abcdef", "nonsense", "msgbatch_unknown"):
        with pytest.raises(BatchNotFoundError):
            await rig.service.status(bad)
    with pytest.raises(BatchNotFoundError):
        await rig.backend.retrieve("msgbatch_unknown")


async def test_emulator_reports_errored_requests_and_refuses_malformed_batches(rig: Rig) -> None:
    empty = BatchRequest("bad-params", MessageRequest(SONNET, (), max_tokens=10))
    remote = await rig.backend.create([req("good"), empty])
    rig.time.now += 60
    assert (await rig.backend.retrieve(remote.id)).counts == {
        "processing": 0,
        "succeeded": 1,
        "errored": 1,
        "canceled": 0,
        "expired": 0,
    }
    by_id = {r.custom_id: r for r in await rig.backend.results(remote.id)}
    assert by_id["good"].status == "succeeded" and by_id["good"].response is not None
    assert by_id["bad-params"].status == "errored"
    assert by_id["bad-params"].error_type == "invalid_request_error"
    assert "at least one message" in (by_id["bad-params"].error or "")
    with pytest.raises(InvalidRequestError, match="custom_id"):
        await rig.backend.create([req("no spaces allowed")])
    with pytest.raises(InvalidRequestError, match="not unique"):
        await rig.backend.create([req("twice"), req("twice")])
    with pytest.raises(InvalidRequestError, match="at least 1"):
        await rig.backend.create([])


async def test_routed_batches_and_budget_refusals(sample_config: Path) -> None:
    vt = VirtualTime()
    async with Emulator(batch_clock=vt.clock) as emu:
        r = await make_rig(sample_config, emu, vt, hybrid=True)
        core = r.core
        assert isinstance(core, AsyncHybridOrchestrator)
        job = await r.service.submit(
            [
                BatchTask("document-writer", "Fix typo in README"),
                BatchTask("security-specialist", "Audit auth for vulnerabilities in production"),
            ],
            auto_model=True,
            use_cache=False,
        )
        assert [(i.model, i.complexity) for i in job.items] == [
            (HAIKU, "simple"),
            (OPUS, "critical"),
        ]
        models = [q["params"]["model"] for q in emu.requests[-1].body["requests"]]
        assert models == [HAIKU, OPUS]
        core.configure_routing(cost_threshold=Decimal("0.0000001"))
        refused = await r.service.submit([BatchTask("document-writer", "x")], auto_model=True)
        assert refused.batch_ids == [] and refused.items[0].refused
        out = await r.service.results(refused.id)
        assert out[0].status == "refused" and out[0].error_type == "BudgetExceededError"
        status = await r.service.status(refused.id)
        assert status.refused == 1 and status.ended
        plain = await make_rig(sample_config, emu, vt)
        with pytest.raises(TypeError, match="routing strategy"):
            await plain.service.submit([BatchTask("document-writer", "x")], auto_model=True)
        with pytest.raises(ValueError, match="no tasks"):
            await plain.service.submit([])
        for x in (r, plain):
            await x.backend.aclose()
            await x.core.close()


# --- the simulated backend ---------------------------------------------------------------------------


async def test_simulated_backend_answers_at_once_and_persists(tmp_path: Path) -> None:
    backend = SimulatedBatchBackend(tmp_path / "sim")
    remote = await backend.create([req("a-1"), req("b-2", "other")])
    assert remote.ended and remote.counts["succeeded"] == 2
    again = SimulatedBatchBackend(tmp_path / "sim")  # another process would read the same files
    assert (await again.retrieve(remote.id)) == remote
    assert (await again.cancel(remote.id)).ended
    results = await again.results(remote.id)
    assert [r.custom_id for r in results] == ["a-1", "b-2"]
    assert all(r.response is not None and r.response.simulated for r in results)
    for bad in ("msgbatch_x", "simbatch_../../etc", "simbatch_0000"):
        with pytest.raises(BatchNotFoundError):
            await again.retrieve(bad)
    await again.aclose()


# --- the CLI ------------------------------------------------------------------------------------------

runner = CliRunner()


@pytest.fixture
def tasks_file(in_project: Path) -> Path:
    path = in_project.parent.parent / "tasks.txt"
    path.write_text(
        "Fix typo in README\n"
        '{"agent": "security-specialist", "task": "Audit auth for vulnerabilities in production"}\n'
    )
    return path


def test_cli_simulated_submit_wait_json(tasks_file: Path) -> None:
    result = runner.invoke(
        app,
        [
            *("--simulate", "batch", "submit", "document-writer"),
            *("--tasks-file", str(tasks_file), "--auto-model", "--wait", "--json"),
        ],
    )
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["simulated"] is True and doc["summary"]["succeeded"] == 2
    assert [r["model"] for r in doc["results"]] == [HAIKU, OPUS]
    assert [r["source"] for r in doc["results"]] == [f"{tasks_file}:1", f"{tasks_file}:2"]
    assert doc["summary"]["saved_usd"] > 0 and doc["summary"]["cost_usd"] > 0


def test_cli_submit_status_results_list_cancel(tasks_file: Path, tmp_path: Path) -> None:
    sub = runner.invoke(
        app, ["--simulate", "batch", "submit", "document-writer", "a task", "--no-cache"]
    )
    assert sub.exit_code == 0, sub.stderr
    job_id = sub.stdout.strip()
    assert job_id.startswith("cfb_") and "SIMULATED" in sub.stderr
    st = runner.invoke(app, ["batch", "status", job_id, "--json"])
    assert st.exit_code == 0 and json.loads(st.stdout)["processing_status"] == "ended"
    text = runner.invoke(app, ["batch", "status", job_id, "--wait"])
    assert text.exit_code == 0 and "SIMULATED" in text.stdout and "1 succeeded" in text.stdout
    res = runner.invoke(app, ["batch", "results", job_id])
    assert res.exit_code == 0 and SIMULATED_BANNER in res.stdout and "batch price" in res.stdout
    out = tmp_path / "out" / "results.json"
    res = runner.invoke(app, ["batch", "results", job_id, "--output", str(out)])
    assert res.exit_code == 0 and res.stdout == ""
    assert json.loads(out.read_text())["results"][0]["status"] == "succeeded"
    listed = runner.invoke(app, ["batch", "list", "--json"])
    assert [j["id"] for j in json.loads(listed.stdout)["jobs"]] == [job_id]
    assert job_id[:12] in runner.invoke(app, ["batch", "list"]).stdout
    cancel = runner.invoke(app, ["batch", "cancel", job_id, "--json"])
    assert cancel.exit_code == 0 and json.loads(cancel.stdout)["processing_status"] == "ended"
    assert runner.invoke(app, ["batch", "cancel", job_id]).exit_code == 0
    # --no-cache neither read nor wrote the response cache …
    again = ["--simulate", "batch", "submit", "document-writer", "a task", "--json"]
    second = json.loads(runner.invoke(app, again).stdout)
    assert second["answered_from_cache"] == 0 and second["requests_submitted"] == 1
    # … a normal submission stores its answers when its results are read; the next one hits
    assert runner.invoke(app, ["batch", "results", second["id"]]).exit_code == 0
    third = json.loads(runner.invoke(app, again).stdout)
    assert third["answered_from_cache"] == 1 and third["requests_submitted"] == 0


def test_cli_errors(in_project: Path) -> None:
    missing = runner.invoke(app, ["batch", "status", "cfb_0123456789abcdef"])
    assert missing.exit_code == 2 and "no batch job" in missing.stderr
    assert runner.invoke(app, ["batch", "results", "nope"]).exit_code == 2
    unknown = runner.invoke(app, ["--simulate", "batch", "submit", "nobody", "x"])
    assert unknown.exit_code == 2 and "agent 'nobody' not found" in unknown.stderr
    empty = runner.invoke(app, ["batch", "list"])
    assert empty.exit_code == 0 and "no batch jobs yet" in empty.stderr


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    thread = EmulatorThread()
    emu = thread.__enter__()
    monkeypatch.setenv("ANTHROPIC_BASE_URL", emu.base_url)
    try:
        yield emu
    finally:
        thread.__exit__(None, None, None)


def test_cli_against_the_emulator_through_the_sdk(tasks_file: Path, api: Emulator) -> None:
    args = ["--api-key", "sk-ant-secret-value", "batch", "submit", "document-writer"]
    result = runner.invoke(app, [*args, "--tasks-file", str(tasks_file), "--json"])
    assert result.exit_code == 0, result.stderr
    job = json.loads(result.stdout)
    assert job["backend"] == "anthropic" and job["simulated"] is False
    assert job["batch_ids"][0].startswith("msgbatch_emu")
    res = runner.invoke(
        app, ["--api-key", "sk-ant-secret-value", "batch", "results", job["id"], "--json"]
    )
    assert res.exit_code == 0, res.stderr
    doc = json.loads(res.stdout)
    assert [r["status"] for r in doc["results"]] == ["succeeded", "succeeded"]
    assert "sk-ant-secret-value" not in result.stdout + result.stderr + res.stdout + res.stderr
    record = (tasks_file.parent / ".claude" / "state" / "batches" / f"{job['id']}.json").read_text()
    assert "Fix typo" not in record  # the job record never holds task text
