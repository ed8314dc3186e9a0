"""Re-running a ``--tasks-file`` after a partial failure calls the model only for the tasks that
failed, on the defaults (agent memory on, response cache on)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from claude_force.cli.app import app
from claude_force.errors import ServerError
from claude_force.messages import MessageRequest, MessageResponse
from claude_force.providers.simulated import SimulatedProvider

cli = CliRunner()


def test_rerun_of_a_tasks_file_calls_the_model_only_for_failed_tasks(
    in_project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLAUDE_FORCE_LATENCY", "instant")
    sent: list[str] = []
    failing = {"Review the retry logic of the payments client"}
    original = SimulatedProvider.send

    async def send(self: SimulatedProvider, request: MessageRequest) -> MessageResponse:
        task = request.messages[-1].content.rsplit("# Task\n\n", 1)[-1]
        sent.append(task)
        if task in failing:
            raise ServerError("upstream unavailable", status=500)
        return await original(self, request)

    monkeypatch.setattr(SimulatedProvider, "send", send)
    tasks = [
        "Review the retry logic of the payments client",
        "Review the retry budget of the payments client",
        "Review the timeout handling of the payments client",
        "Review the logging of the payments client",
    ]
    path = tmp_path / "tasks.txt"
    path.write_text("\n".join(tasks) + "\n", encoding="utf-8")
    args = ["execute", "python-expert", "--tasks-file", str(path), "--json"]
    first = cli.invoke(app, args)
    assert first.exit_code == 1
    assert [r["success"] for r in json.loads(first.stdout)["results"]] == [False, True, True, True]
    # memory now holds sessions related to every task, so each task's context changed …
    failing.clear()
    sent.clear()
    second = cli.invoke(app, args)
    assert second.exit_code == 0, second.stderr
    results = json.loads(second.stdout)["results"]
    # … and still only the failed task reached the model; the others came from the cache
    assert set(sent) == {tasks[0]}
    assert [r["metadata"]["cached"] for r in results] == [False, True, True, True]
