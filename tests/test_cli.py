"""The command line: each command's happy path, JSON purity, concurrency of ``execute --async``."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from claude_force import __version__
from claude_force.cli.app import app, main
from claude_force.messages import MessageRequest, MessageResponse
from claude_force.providers.simulated import SIMULATED_BANNER, SimulatedProvider
from claude_force.testing import EmulatorThread

runner = CliRunner()


@pytest.fixture(autouse=True)
def _instant(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAUDE_FORCE_LATENCY", "instant")


def cli(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> Result:
    return runner.invoke(app, list(args), input=input, env=env)


def as_json(result: Result) -> Any:
    """stdout must be exactly one JSON document."""
    return json.loads(result.stdout)


# --- root ----------------------------------------------------------------------------------------


def test_help_lists_every_command() -> None:
    result = cli("--help")
    assert result.exit_code == 0
    for command in ("init", "list", "info", "execute", "run", "emulator"):
        assert command in result.stdout


def test_version() -> None:
    result = cli("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"claude-force {__version__}"


def test_main_returns_exit_code_in_process(
    in_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["list", "workflows", "--json"]) == 0
    assert "code-quality-check" in json.loads(capsys.readouterr().out)
    assert main(["info", "nobody"]) == 2


def test_bare_group_prints_help_without_an_error_line() -> None:
    result = cli("run")
    assert result.exit_code == 2  # click: a group needs a command
    assert "agent" in result.stdout and "workflow" in result.stdout
    assert result.stderr == ""


# --- init ----------------------------------------------------------------------------------------


def test_init_writes_the_sample_project(tmp_path: Path) -> None:
    result = cli("init", str(tmp_path / "proj"))
    assert result.exit_code == 0, result.stderr
    claude = tmp_path / "proj" / ".claude"
    config = json.loads((claude / "claude.json").read_text())
    assert len(list((claude / "agents").glob("*.md"))) == len(config["agents"]) >= 10
    assert len(list((claude / "contracts").glob("*.contract"))) >= 10
    assert "code-quality-check" in config["workflows"]
    assert "Next steps" in result.stdout and "cd " in result.stdout
    listed = cli("--config", str(claude / "claude.json"), "list", "agents", "--json")
    assert listed.exit_code == 0


def test_init_refuses_to_overwrite_then_force_keeps_other_files(tmp_path: Path) -> None:
    assert cli("init", str(tmp_path)).exit_code == 0
    config = tmp_path / ".claude" / "claude.json"
    config.write_text('{"agents": {}}')
    mine = tmp_path / ".claude" / "agents" / "mine.md"
    mine.write_text("# Mine\n")

    refused = cli("init", str(tmp_path))
    assert refused.exit_code == 2
    assert refused.stderr.count("\n") == 1
    assert str(config) in refused.stderr and "--force" in refused.stderr
    assert config.read_text() == '{"agents": {}}'

    forced = cli("init", str(tmp_path), "--force")
    assert forced.exit_code == 0
    assert "python-expert" in json.loads(config.read_text())["agents"]
    assert mine.read_text() == "# Mine\n"


def test_init_defaults_to_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = cli("init")
    assert result.exit_code == 0
    assert (tmp_path / ".claude" / "claude.json").is_file()
    assert "cd " not in result.stdout


# --- list / info -----------------------------------------------------------------------------------


def test_list_agents_json_sorted_by_priority(in_project: Path) -> None:
    result = cli("list", "agents", "--json")
    assert result.exit_code == 0
    rows = as_json(result)
    assert [r["priority"] for r in rows] == sorted(r["priority"] for r in rows)
    expert = next(r for r in rows if r["name"] == "python-expert")
    assert expert["file"] == "agents/python-expert.md"
    assert expert["model"] == "claude-sonnet-5-5"
    assert "python" in expert["domains"]


def test_list_agents_table(in_project: Path) -> None:
    result = cli("list", "agents")
    assert result.exit_code == 0
    assert "python-expert" in result.stdout and "12 agents" in result.stdout


def test_list_workflows(in_project: Path) -> None:
    data = as_json(cli("list", "workflows", "--json"))
    assert data["code-quality-check"][0] == "python-expert"
    table = cli("list", "workflows")
    assert table.exit_code == 0
    assert "code-quality-check" in table.stdout and "→" in table.stdout


def test_info(in_project: Path) -> None:
    data = as_json(cli("info", "python-expert", "--json"))
    assert data["name"] == "python-expert"
    assert data["contract"] == "contracts/python-expert.contract"
    assert "code-quality-check" in data["workflows"]
    assert data["description"]
    text = cli("info", "code-reviewer")
    assert text.exit_code == 0
    assert "contracts/code-reviewer.contract" in text.stdout


def test_config_option_accepts_the_project_folder(sample_config: Path) -> None:
    result = cli("--config", str(sample_config.parent), "list", "agents", "--json")
    assert result.exit_code == 0
    assert len(as_json(result)) == 12


# --- execute -----------------------------------------------------------------------------------------


def test_execute_roadmap_spelling(in_project: Path) -> None:
    result = cli("execute", "python-expert", "Review utils.py", "--async")
    assert result.exit_code == 0, result.stderr
    assert SIMULATED_BANNER in result.stdout
    summary = result.stdout.strip().splitlines()[-1]
    assert summary.startswith("SIMULATED — 1 task · 1 ok · 0 failed")
    assert "tokens" in summary and "simulated cost $" in summary


def test_execute_json_is_the_only_stdout(in_project: Path) -> None:
    result = cli("execute", "python-expert", "one", "two", "three", "--async", "--json")
    assert result.exit_code == 0
    data = as_json(result)
    assert [r["task"] for r in data["results"]] == ["one", "two", "three"]
    assert all(r["success"] and r["metadata"]["simulated"] for r in data["results"])
    summary = data["summary"]
    assert summary["tasks"] == 3 and summary["succeeded"] == 3 and summary["failed"] == 0
    assert summary["mode"] == "async"
    assert summary["total_tokens"] == sum(r["metadata"]["tokens_used"] for r in data["results"])
    assert summary["cost_usd"] > 0
    assert summary["simulated"] is True
    assert "[1/3]" in result.stderr  # progress goes to stderr


def test_execute_single_task_json_has_the_same_shape(in_project: Path) -> None:
    data = as_json(cli("execute", "code-reviewer", "Review it", "--json"))
    assert len(data["results"]) == 1
    assert data["results"][0]["agent_name"] == "code-reviewer"
    assert data["summary"]["mode"] == "sequential"
    assert data["summary"]["speedup"] is None


def test_execute_quiet_prints_only_outputs(in_project: Path) -> None:
    result = cli("execute", "python-expert", "a", "b", "--quiet")
    assert result.exit_code == 0
    assert result.stdout.count(SIMULATED_BANNER) == 2
    assert result.stdout.startswith(SIMULATED_BANNER)
    assert "tasks ·" not in result.stdout
    assert "[1/2]" not in result.stderr


def test_execute_task_file_is_one_task(in_project: Path, tmp_path: Path) -> None:
    task = tmp_path / "task.md"
    task.write_text("Line one\nline two\n")
    data = as_json(cli("execute", "python-expert", "--task-file", str(task), "--json"))
    assert [r["task"] for r in data["results"]] == ["Line one\nline two\n"]


def test_execute_task_file_from_stdin(in_project: Path) -> None:
    data = as_json(
        cli("execute", "python-expert", "--task-file", "-", "--json", input="from stdin")
    )
    assert data["results"][0]["task"] == "from stdin"


def test_execute_tasks_file_lines_and_json_lines(in_project: Path, tmp_path: Path) -> None:
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text(
        "plain task for the default agent\n"
        "\n"
        '{"agent": "security-specialist", "task": "audit login"}\n'
        '{"task": "json without agent"}\n'
    )
    result = cli("execute", "python-expert", "first", "--tasks-file", str(tasks), "--json")
    assert result.exit_code == 0, result.stderr
    pairs = [(r["agent_name"], r["task"]) for r in as_json(result)["results"]]
    assert pairs == [
        ("python-expert", "first"),
        ("python-expert", "plain task for the default agent"),
        ("security-specialist", "audit login"),
        ("python-expert", "json without agent"),
    ]


def test_execute_options_reach_the_request(
    in_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[MessageRequest] = []
    original = SimulatedProvider.send

    async def spy(self: SimulatedProvider, request: MessageRequest) -> MessageResponse:
        seen.append(request)
        return await original(self, request)

    monkeypatch.setattr(SimulatedProvider, "send", spy)
    result = cli(
        "execute",
        "python-expert",
        "t",
        "--model",
        "haiku",
        "--max-tokens",
        "50",
        "--temperature",
        "0.3",
        "--json",
    )
    assert result.exit_code == 0, result.stderr
    assert seen[0].model == "claude-haiku-5-5"
    assert seen[0].max_tokens == 50
    assert seen[0].temperature == 0.3
    assert as_json(result)["results"][0]["metadata"]["stop_reason"] == "max_tokens"


def test_global_demo_flag_forces_the_simulated_model(
    in_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-never-used")
    result = cli("--demo", "execute", "python-expert", "t", "--json")
    assert as_json(result)["results"][0]["metadata"]["provider"] == "simulated"
    assert "sk-ant-never-used" not in result.stdout + result.stderr


def _inflight_probe(monkeypatch: pytest.MonkeyPatch, wait_for: int) -> Callable[[], int]:
    """Patch the simulated model so each call waits until ``wait_for`` calls are in flight.

    Returns a function giving the peak number of calls in flight. The wait has a 5 s safety
    timeout so that broken concurrency fails the assertion instead of hanging.
    """
    state = {"now": 0, "peak": 0}
    gate: dict[str, asyncio.Event] = {}
    original = SimulatedProvider.send

    async def probe(self: SimulatedProvider, request: MessageRequest) -> MessageResponse:
        event = gate.setdefault("e", asyncio.Event())
        state["now"] += 1
        state["peak"] = max(state["peak"], state["now"])
        if state["now"] >= wait_for:
            event.set()
        try:
            await asyncio.wait_for(event.wait(), timeout=5)
        except TimeoutError:
            pass
        finally:
            state["now"] -= 1
        return await original(self, request)

    monkeypatch.setattr(SimulatedProvider, "send", probe)
    return lambda: state["peak"]


def test_execute_async_runs_tasks_concurrently(
    in_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    peak = _inflight_probe(monkeypatch, wait_for=3)
    result = cli("execute", "python-expert", "a", "b", "c", "--async", "--json")
    assert result.exit_code == 0
    assert peak() == 3


def test_execute_max_concurrent_bounds_the_run(
    in_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    peak = _inflight_probe(monkeypatch, wait_for=2)
    result = cli(
        "execute", "python-expert", "a", "b", "c", "--async", "--max-concurrent", "2", "--json"
    )
    assert result.exit_code == 0
    assert peak() == 2
    assert as_json(result)["summary"]["max_concurrent"] == 2


def test_execute_without_async_runs_one_after_another(
    in_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    peak = _inflight_probe(monkeypatch, wait_for=1)
    result = cli("execute", "python-expert", "a", "b", "c", "--json")
    assert result.exit_code == 0
    assert peak() == 1
    assert as_json(result)["summary"]["mode"] == "sequential"


def test_async_disabled_in_config_runs_sequentially(sample_config: Path) -> None:
    raw = json.loads(sample_config.read_text())
    raw["features"]["async_enabled"] = False
    sample_config.write_text(json.dumps(raw))
    result = cli(
        "--config", str(sample_config), "execute", "python-expert", "a", "b", "--async", "--json"
    )
    assert result.exit_code == 0
    assert as_json(result)["summary"]["mode"] == "sequential"
    assert "async execution is disabled" in result.stderr


def test_execute_no_cache_and_refresh_reach_the_call_context(
    in_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from claude_force import callctx

    seen: list[tuple[bool, bool]] = []
    original = SimulatedProvider.send

    async def spy(self: SimulatedProvider, request: MessageRequest) -> MessageResponse:
        ctx = callctx.current()
        seen.append((ctx.use_cache, ctx.refresh))
        return await original(self, request)

    monkeypatch.setattr(SimulatedProvider, "send", spy)
    assert cli("execute", "python-expert", "t", "--no-cache", "--json").exit_code == 0
    assert cli("execute", "python-expert", "t", "--refresh", "--json").exit_code == 0
    assert seen == [(False, False), (True, True)]


# --- failed runs against the emulator (real SDK path over 127.0.0.1) ---------------------------------


@pytest.fixture
def failing_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], Any]]:
    """Start an emulator with a fault spec; the CLI uses it through the real Anthropic provider."""
    stack: list[EmulatorThread] = []

    def start(faults: str) -> Any:
        thread = EmulatorThread(faults=faults)
        emu = thread.__enter__()
        stack.append(thread)
        monkeypatch.setenv("ANTHROPIC_BASE_URL", emu.base_url)
        return emu

    yield start
    for thread in stack:
        thread.__exit__(None, None, None)


def test_failed_run_exits_1_and_keeps_the_other_results(
    in_project: Path, failing_api: Callable[[str], Any]
) -> None:
    failing_api("script:ok,400")
    result = cli("--api-key", "sk-ant-secret-value", "execute", "python-expert", "a", "b", "--json")
    assert result.exit_code == 1
    data = as_json(result)
    assert [r["success"] for r in data["results"]] == [True, False]
    assert data["results"][0]["metadata"]["provider"] == "anthropic"
    assert data["summary"]["failed"] == 1
    assert "error: task 2 (python-expert) failed:" in result.stderr
    assert "sk-ant-secret-value" not in result.stdout + result.stderr


def test_failed_run_text_mode(in_project: Path, failing_api: Callable[[str], Any]) -> None:
    failing_api("400:1")
    result = cli("--api-key", "k", "execute", "python-expert", "a")
    assert result.exit_code == 1
    assert "FAILED" in result.stdout
    assert "1 failed" in result.stdout


# --- run agent / run workflow (2.2 spellings) -----------------------------------------------------------


def test_run_agent_json_and_format_json(in_project: Path) -> None:
    for flag in (["--json"], ["--format", "json"]):
        result = cli("run", "agent", "python-expert", "--task", "Explain GIL", *flag)
        assert result.exit_code == 0
        data = as_json(result)
        assert data["agent_name"] == "python-expert" and data["success"] is True
        assert data["metadata"]["simulated"] is True


def test_run_agent_text_quiet_and_output(in_project: Path, tmp_path: Path) -> None:
    text = cli("run", "agent", "python-expert", "--task", "t")
    assert text.exit_code == 0 and "SIMULATED —" in text.stdout
    quiet = cli("run", "agent", "python-expert", "--task", "t", "--quiet")
    assert (
        quiet.stdout.startswith(SIMULATED_BANNER) and "tokens" not in quiet.stdout.splitlines()[-1]
    )
    out = tmp_path / "sub" / "answer.md"
    written = cli("run", "agent", "python-expert", "--task", "t", "--output", str(out))
    assert written.exit_code == 0 and written.stdout == ""
    assert out.read_text().startswith(SIMULATED_BANNER)
    out_json = tmp_path / "answer.json"
    cli("run", "agent", "python-expert", "--task", "t", "--json", "-o", str(out_json))
    assert json.loads(out_json.read_text())["success"] is True


def test_run_agent_task_file(in_project: Path, tmp_path: Path) -> None:
    task = tmp_path / "t.md"
    task.write_text("from a file")
    data = as_json(cli("run", "agent", "python-expert", "--task-file", str(task), "--json"))
    assert data["task"] == "from a file"


@pytest.mark.parametrize(
    "args",
    [[], ["--task", "a", "--task-file", "x"], ["--task", "  "]],
    ids=["none", "both", "empty"],
)
def test_run_agent_needs_exactly_one_task(in_project: Path, args: list[str]) -> None:
    result = cli("run", "agent", "python-expert", *args)
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ")


def test_run_agent_failure_exits_1(in_project: Path, failing_api: Callable[[str], Any]) -> None:
    failing_api("400:1")
    result = cli("--api-key", "k", "run", "agent", "python-expert", "--task", "t", "--json")
    assert result.exit_code == 1
    assert as_json(result)["success"] is False


@pytest.fixture
def agent_requests(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """(agent, user message) of every request the simulated model receives."""
    from claude_force import callctx

    seen: list[tuple[str, str]] = []
    original = SimulatedProvider.send

    async def spy(self: SimulatedProvider, request: MessageRequest) -> MessageResponse:
        seen.append((callctx.current().agent or "", request.messages[-1].content))
        return await original(self, request)

    monkeypatch.setattr(SimulatedProvider, "send", spy)
    return seen


def _add_chain(config: Path) -> None:
    raw = json.loads(config.read_text())
    raw["workflows"]["chain"] = ["python-expert", "code-reviewer"]
    config.write_text(json.dumps(raw))


def test_run_workflow_json(in_project: Path, agent_requests: list[tuple[str, str]]) -> None:
    result = cli("run", "workflow", "code-quality-check", "--task", "Review payments", "--json")
    assert result.exit_code == 0, result.stderr
    data = as_json(result)
    assert data["success"] is True
    assert {r["agent_name"] for r in data["agent_results"]} == {
        "python-expert",
        "code-reviewer",
        "security-specialist",
        "document-writer",
    }
    summary = dict(agent_requests)["document-writer"]
    assert summary.count(SIMULATED_BANNER) == 3  # the summary step got the three reviews


def test_run_workflow_list_form_chains_outputs(
    in_project: Path, agent_requests: list[tuple[str, str]]
) -> None:
    _add_chain(in_project)
    assert cli("run", "workflow", "chain", "--task", "t", "--json").exit_code == 0
    assert [a for a, _ in agent_requests] == ["python-expert", "code-reviewer"]
    assert SIMULATED_BANNER not in agent_requests[0][1]
    assert SIMULATED_BANNER in agent_requests[1][1]

    agent_requests.clear()
    plain = cli("run", "workflow", "chain", "--task", "t2", "--no-pass-output", "--quiet")
    assert plain.exit_code == 0
    assert len(agent_requests) == 2
    assert not any(SIMULATED_BANNER in text for _, text in agent_requests)
    assert plain.stdout.startswith(SIMULATED_BANNER)


def test_run_workflow_is_run_workflow_under_its_22_name(
    in_project: Path, agent_requests: list[tuple[str, str]]
) -> None:
    """One command, two names: the 2.2 spelling takes the newer options too."""
    _add_chain(in_project)
    result = cli("run", "workflow", "chain", "--task", "t", "--sequential", "-j", "1", "--json")
    assert result.exit_code == 0, result.stderr
    assert as_json(result)["parallel"] is False
    assert [a for a, _ in agent_requests] == ["python-expert", "code-reviewer"]


def test_run_workflow_text_and_output_file(in_project: Path, tmp_path: Path) -> None:
    text = cli("run", "workflow", "refactor", "--task", "t")
    assert text.exit_code == 0
    assert SIMULATED_BANNER in text.stdout
    out = tmp_path / "report.md"
    assert cli("run", "workflow", "refactor", "--task", "t", "-o", str(out)).exit_code == 0
    assert out.read_text().count(SIMULATED_BANNER) >= 3


def test_run_workflow_stops_at_the_failed_step(
    in_project: Path, failing_api: Callable[[str], Any]
) -> None:
    _add_chain(in_project)
    failing_api("script:400")
    result = cli("--api-key", "k", "run", "workflow", "chain", "--task", "t", "--json")
    assert result.exit_code == 1
    data = as_json(result)
    assert data["success"] is False
    assert [r["success"] for r in data["agent_results"]] == [False]


# --- emulator -------------------------------------------------------------------------------------------


def test_emulator_command_passes_its_options(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, Any]] = []

    async def fake_serve(port: int, latency: str, faults: Any, **kw: Any) -> None:
        calls.append({"port": port, "latency": latency, "faults": faults.text, **kw})

    monkeypatch.setattr("claude_force.testing.serve", fake_serve)
    result = cli(
        "emulator", "--port", "0", "--latency", "fast", "--faults", "429:0.5", "--seed", "7"
    )
    assert result.exit_code == 0, result.stderr
    assert calls == [
        {"port": 0, "latency": "fast", "faults": "429:0.5", "host": "127.0.0.1", "seed": 7}
    ]


def test_emulator_rejects_a_bad_fault_spec() -> None:
    result = cli("emulator", "--faults", "429")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: --faults:") and "rate" in result.stderr


def test_emulator_port_in_use_exits_1(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        result = cli("emulator", "--port", str(port), "--latency", "instant")
    assert result.exit_code == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
