"""CLI errors: one line on stderr, exit 2 for usage/configuration, 1 for failures, --debug."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from claude_force.cli.app import app

runner = CliRunner()
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _instant(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAUDE_FORCE_LATENCY", "instant")


def cli(*args: str) -> Result:
    return runner.invoke(app, list(args))


def one_error_line(result: Result) -> str:
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def error_after_warnings(result: Result) -> str:
    """The one ``error:`` line of a run that used a broken agent (it was warned about first)."""
    lines = result.stderr.splitlines()
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1 and lines[-1] == errors[0], result.stderr
    assert all(line.startswith("warning: ") for line in lines[:-1]), result.stderr
    return errors[0]


def edit(config: Path, change: dict[str, object]) -> None:
    raw = json.loads(config.read_text())
    raw.update(change)
    config.write_text(json.dumps(raw, indent=2))


# --- configuration errors: exit 2, one line naming the file ---------------------------------------


def test_invalid_json_names_file_and_line(sample_config: Path) -> None:
    sample_config.write_text('{\n  "agents": {\n    "a": {"file": "agents/a.md",}\n  }\n}\n')
    result = cli("--config", str(sample_config), "list", "agents")
    assert result.exit_code == 2
    line = one_error_line(result)
    assert f"{sample_config}:3:" in line and "invalid JSON" in line


def test_wrong_type_names_key_and_line(sample_config: Path) -> None:
    raw = json.loads(sample_config.read_text())
    raw["agents"]["python-expert"]["priority"] = "high"
    sample_config.write_text(json.dumps(raw, indent=2))
    result = cli("--config", str(sample_config), "execute", "python-expert", "t")
    assert result.exit_code == 2
    line = error_after_warnings(result)
    assert str(sample_config) in line
    assert "agents.python-expert.priority" in line
    assert re.search(r"claude\.json:\d+:", line)
    # the broken agent, with the workflows it blocks, is one warning
    warned = [w for w in result.stderr.splitlines() if w.startswith("warning: ")]
    assert len(warned) == 1 and "so are the workflows using it: code-quality-check" in warned[0]


def test_missing_agent_file(sample_config: Path) -> None:
    (sample_config.parent / "agents" / "code-reviewer.md").unlink()
    assert (
        cli("--config", str(sample_config), "info", "python-expert").exit_code == 0
    )  # others work
    result = cli("--config", str(sample_config), "info", "code-reviewer")
    assert result.exit_code == 2
    line = error_after_warnings(result)
    assert "code-reviewer.md" in line and "does not exist" in line and str(sample_config) in line
    assert re.search(r"claude\.json:\d+: agents\.code-reviewer\.file: ", line)  # file, line, key


def test_path_escaping_claude_dir_is_refused(sample_config: Path) -> None:
    raw = json.loads(sample_config.read_text())
    raw["agents"]["python-expert"]["file"] = "../../outside.md"
    sample_config.write_text(json.dumps(raw))
    listed = cli("--config", str(sample_config), "list", "agents", "--json")
    assert listed.exit_code == 0 and "escapes" in listed.stderr
    assert "python-expert" not in [a["name"] for a in json.loads(listed.stdout)]
    result = cli("--config", str(sample_config), "execute", "python-expert", "t", "--json")
    assert result.exit_code == 2
    assert result.stdout == ""
    line = error_after_warnings(result)
    assert "escapes" in line and "agents.python-expert.file" in line
    assert re.search(r"claude\.json:\d+: agents\.python-expert\.file: ", line)


def test_empty_agent_file(sample_config: Path) -> None:
    (sample_config.parent / "agents" / "test-engineer.md").write_text("  \n")
    assert cli("--config", str(sample_config), "list", "workflows").exit_code == 0
    result = cli("--config", str(sample_config), "run", "agent", "test-engineer", "--task", "t")
    assert result.exit_code == 2
    line = error_after_warnings(result)
    assert "is empty" in line
    assert re.search(r"claude\.json:\d+: agents\.test-engineer\.file: ", line)


def test_unknown_agent_with_suggestion(in_project: Path) -> None:
    for args in (("execute", "python-expret", "t"), ("info", "python-expret")):
        result = cli(*args)
        assert result.exit_code == 2
        line = one_error_line(result)
        assert "'python-expret'" in line and "did you mean 'python-expert'" in line


def test_unknown_agent_in_a_tasks_file_fails_before_anything_runs(
    in_project: Path, tmp_path: Path
) -> None:
    tasks = tmp_path / "t.jsonl"
    tasks.write_text('ok task\n{"agent": "nobody", "task": "x"}\n')
    result = cli("execute", "python-expert", "--tasks-file", str(tasks), "--json")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "agent 'nobody'" in one_error_line(result)


def test_unknown_workflow_with_suggestion(in_project: Path) -> None:
    result = cli("run", "workflow", "code-quality-chek", "--task", "t")
    assert result.exit_code == 2
    assert "did you mean 'code-quality-check'" in one_error_line(result)


def test_retired_model(in_project: Path) -> None:
    result = cli("execute", "python-expert", "t", "--model", "claude-3-opus-20240229")
    assert result.exit_code == 2
    line = one_error_line(result)
    assert "retired" in line and "claude-opus-5-5" in line


def test_missing_config_says_how_to_create_one(tmp_path: Path) -> None:
    result = cli("--config", str(tmp_path / "nope.json"), "list", "agents")
    assert result.exit_code == 2
    assert "claude-force init" in one_error_line(result)


def test_config_found_from_environment(
    sample_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLAUDE_FORCE_CONFIG", str(sample_config))
    result = cli("list", "agents", "--json")
    assert result.exit_code == 0
    assert len(json.loads(result.stdout)) == 12


def test_unknown_key_is_a_one_line_warning_not_a_failure(sample_config: Path) -> None:
    edit(sample_config, {"perfromance": {"max_concurrent_agents": 3}})
    result = cli("--config", str(sample_config), "list", "agents", "--json")
    assert result.exit_code == 0
    json.loads(result.stdout)
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "perfromance" in warnings[0]


# --- task input errors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"task": "ok"}\n{"agent": "x", "task": \n', ":2:"),
        ('{"agent": "python-expert"}\n', "no 'task'"),
        ('{"task": "t", "agent": 3}\n', "'agent' must be"),
        ("\n\n", "has no tasks"),
    ],
    ids=["bad-json", "no-task", "bad-agent", "empty"],
)
def test_bad_tasks_file(in_project: Path, tmp_path: Path, content: str, expected: str) -> None:
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text(content)
    result = cli("execute", "python-expert", "--tasks-file", str(tasks))
    assert result.exit_code == 2
    line = one_error_line(result)
    assert expected in line and str(tasks) in line


def test_missing_empty_and_folder_task_files(in_project: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty.md"
    empty.write_text("\n")
    cases = {
        str(tmp_path / "missing.md"): "file not found",
        str(empty): "is empty",
        str(tmp_path): "is a folder",
    }
    for path, expected in cases.items():
        result = cli("execute", "python-expert", "--task-file", path)
        assert result.exit_code == 2
        assert expected in one_error_line(result)
    latin = tmp_path / "latin.txt"
    latin.write_bytes("caf\xe9".encode("latin-1"))
    result = cli("execute", "python-expert", "--tasks-file", str(latin))
    assert "UTF-8" in one_error_line(result)


def test_no_task_or_empty_task(in_project: Path) -> None:
    assert "no task given" in one_error_line(cli("execute", "python-expert"))
    assert "empty task" in one_error_line(cli("execute", "python-expert", " "))


# --- usage errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["execute"], "Missing argument"),
        (["execute", "python-expert", "t", "--temperature", "3"], "--temperature"),
        (["execute", "python-expert", "t", "--max-tokens", "0"], "--max-tokens"),
        (["--bogus"], "No such option"),
        (["lst"], "No such command"),
        (["run", "agent", "x", "--format", "xml"], "--format"),
    ],
)
def test_usage_errors_exit_2_with_one_line(args: list[str], expected: str) -> None:
    result = cli(*args)
    assert result.exit_code == 2
    line = one_error_line(result)
    assert expected in line and "--help" in line


# --- unexpected errors and --debug ---------------------------------------------------------------------


def test_unexpected_error_is_one_line_exit_1(
    in_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*_: object) -> None:
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr("claude_force.cli.listing.project_agent_rows", boom)
    result = cli("list", "agents")
    assert result.exit_code == 1
    line = one_error_line(result)
    assert "RuntimeError: boom second line" in line and "--debug" in line

    debug = cli("--debug", "list", "agents")
    assert debug.exit_code == 1
    assert "Traceback (most recent call last)" in debug.stderr
    assert debug.stderr.splitlines()[-1] == "error: RuntimeError: boom second line"


def test_debug_shows_the_traceback_of_configuration_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = cli("--config", str(tmp_path / "x.json"), "list", "agents")
    assert "Traceback" not in plain.stderr
    debug = cli("--debug", "--config", str(tmp_path / "x.json"), "list", "agents")
    assert debug.exit_code == 2
    assert "Traceback (most recent call last)" in debug.stderr
    assert "ProjectNotFoundError" in debug.stderr
    monkeypatch.setenv("CLAUDE_FORCE_DEBUG", "1")
    env = cli("--config", str(tmp_path / "x.json"), "list", "agents")
    assert "Traceback" in env.stderr


def test_library_warnings_become_one_line(in_project: Path) -> None:
    result = cli(
        "execute", "python-expert", "t", "--model", "claude-sonnet-5", "--temperature", "0.5"
    )
    assert result.exit_code == 0
    assert "warning: model claude-sonnet-5 rejects non-default temperature" in result.stderr


def test_log_records_hide_tracebacks_unless_debug(capsys: pytest.CaptureFixture[str]) -> None:
    import logging

    from claude_force.cli.app import _LogFormatter

    try:
        raise ValueError("inner")
    except ValueError:
        record = logging.getLogger("claude_force.x").makeRecord(
            "claude_force.x", logging.ERROR, __file__, 1, "failed %s", ("x",), sys.exc_info()
        )
    assert _LogFormatter(debug=False).format(record) == "error: failed x"
    assert "Traceback" in _LogFormatter(debug=True).format(record)
    assert record.levelname == "ERROR"  # the original record is untouched


# --- subprocesses: the real entry points ---------------------------------------------------------------


def _run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "CLAUDE_FORCE_"))
    }
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env={**clean, "CLAUDE_FORCE_LATENCY": "instant", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_python_m_help_and_exit_codes(in_project: Path) -> None:
    root = in_project.parent.parent
    helped = _run(["-m", "claude_force", "--help"], root)
    assert helped.returncode == 0 and "execute" in helped.stdout
    ran = _run(["-m", "claude_force", "execute", "python-expert", "task", "--async"], root)
    assert ran.returncode == 0, ran.stderr
    assert "SIMULATED" in ran.stdout and "SIMULATED model" in ran.stderr
    bad = _run(["-m", "claude_force", "info", "nobody"], root)
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines()[-1].startswith("error: ")
    assert "Traceback" not in bad.stderr


_IMPORT_PROBE = """
import sys, traceback
HEAVY = ("anthropic", "pydantic", "httpx", "aiosqlite", "redis", "asyncio",
         "claude_force.config", "claude_force.async_orchestrator")
culprits = {}

class Probe:
    def find_spec(self, name, path=None, target=None):
        if name.startswith(HEAVY) and name.split(".")[0] not in culprits:
            ours = [f"{f.filename.rsplit('/src/', 1)[-1]}:{f.lineno}"
                    for f in traceback.extract_stack() if "/claude_force/" in f.filename]
            culprits[name.split(".")[0] if not name.startswith("claude_force") else name] = ours[-1:]
        return None

sys.meta_path.insert(0, Probe())
from claude_force.cli.app import main
try:
    main(["--help"])
except SystemExit:
    pass
print(culprits)
"""


def test_help_imports_nothing_heavy(tmp_path: Path) -> None:
    """``claude-force --help`` must not import the engine, the SDK, pydantic or asyncio.

    On failure the message names the module (and the claude_force line) that imported it.
    """
    result = _run(["-c", _IMPORT_PROBE], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "{}"


def test_demo_runs_offline(tmp_path: Path) -> None:
    result = _run([str(ROOT / "scripts" / "demo.py"), "--latency", "instant"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "SIMULATED" in result.stdout
    assert "speedup" in result.stdout and "simulated cost" in result.stdout
    assert "[3/3]" in result.stderr  # the progress display (line mode when not a terminal)


def test_emulator_command_serves_the_sdk_until_interrupted(tmp_path: Path) -> None:
    import signal

    import anthropic

    clean = {
        k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "CLAUDE_FORCE_"))
    }
    with subprocess.Popen(
        [sys.executable, "-m", "claude_force", "emulator", "--port", "0", "--latency", "instant"],
        cwd=tmp_path,
        env=clean,
        # a suite started in the background by a non-interactive shell ignores SIGINT, and the
        # child would inherit that (Python then never installs its Ctrl-C handler): restore it
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.default_int_handler),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        try:
            assert proc.stdout is not None
            first = proc.stdout.readline()
            match = re.search(r"http://127\.0\.0\.1:\d+", first)
            assert match, first
            client = anthropic.Anthropic(base_url=match.group(0), api_key="test", max_retries=0)
            message = client.messages.create(
                model="claude-sonnet-5-5",
                max_tokens=100,
                messages=[{"role": "user", "content": "hello"}],
            )
            client.close()
            assert "SIMULATED" in message.content[0].text  # type: ignore[union-attr]
            proc.send_signal(signal.SIGINT)
            try:
                code = proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                _, err = proc.communicate()
                pytest.fail(f"the emulator did not exit 60 s after SIGINT; stderr: {err[-2000:]}")
            assert code == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
