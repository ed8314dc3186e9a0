"""The CLI process's start-up and exit: the garbage collector is off while it starts and the heap is
frozen at exit (cli/_gc.py); read-only commands import only what they use.

Checked in fresh processes (the console script's entry point, ``claude_force.cli.main``), by the
state they leave, never by the clock.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from claude_force.cli import _gc
from claude_force.cli import app as app_module
from claude_force.cli._common import CliState
from claude_force.providers import preload

# Run the console script's entry point with ARGS; an exit handler registered before it (so run
# after all of its own) prints the collector's state and the modules loaded.
PROBE = """
import atexit, gc, json, sys
def report():
    sys.stdout.flush()
    sys.stderr.write("PROBE " + json.dumps({
        "enabled": gc.isenabled(), "frozen": gc.get_freeze_count(),
        "modules": sorted(sys.modules)}) + "\\n")
atexit.register(report)
sys.argv = ["claude-force", *sys.argv[1:]]
from claude_force.cli import main
main()
"""


def probe(cwd: Path, *args: str, env: dict[str, str] | None = None) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    line = next(x for x in done.stderr.splitlines() if x.startswith("PROBE "))
    report: dict[str, object] = json.loads(line[len("PROBE ") :])
    return report


@pytest.mark.parametrize(
    "args",
    [["list", "agents"], ["cache", "stats"], ["analytics", "summary"], ["memory", "stats"]],
)
def test_a_short_read_only_command_runs_without_the_collector_and_exits_frozen(
    in_project: Path, args: list[str]
) -> None:
    report = probe(in_project.parent.parent, *args)
    assert report["enabled"] is False  # never turned back on: a short command
    assert isinstance(report["frozen"], int) and report["frozen"] > 1000  # the heap, at exit


@pytest.mark.parametrize(
    ("args", "absent"),
    [
        (["list", "agents"], {"asyncio", "claude_force.messages", "anthropic"}),
        (["memory", "stats"], {"asyncio", "claude_force.memory.service", "anthropic"}),
        (
            ["analytics", "summary"],
            {"asyncio", "anthropic", "claude_force.events", "claude_force.metrics.tracker"},
        ),
        (["cache", "stats"], {"anthropic", "numpy"}),
    ],
)
def test_a_read_only_command_imports_only_what_it_uses(
    in_project: Path, args: list[str], absent: set[str]
) -> None:
    from claude_force.cli.app import main

    # leave files behind for the commands to read: a simulated run writes cache, memory, metrics
    assert main(["--simulate", "execute", "python-expert", "hello", "--json"]) == 0
    report = probe(in_project.parent.parent, *args)
    assert absent.isdisjoint(report["modules"])  # type: ignore[arg-type]


def test_another_command_gets_the_collector_back_with_start_up_frozen(in_project: Path) -> None:
    report = probe(in_project.parent.parent, "validate")
    assert report["enabled"] is True
    assert isinstance(report["frozen"], int) and report["frozen"] > 1000


def test_a_command_that_calls_claude_resumes_when_the_sdk_import_is_over(
    in_project: Path,
) -> None:
    from claude_force.testing import EmulatorThread

    with EmulatorThread() as emu:
        env = {"ANTHROPIC_API_KEY": "sk-test-not-real", "ANTHROPIC_BASE_URL": emu.base_url}
        report = probe(
            in_project.parent.parent, "execute", "python-expert", "hi", "--json", env=env
        )
    assert "anthropic" in report["modules"]  # type: ignore[operator]
    assert report["enabled"] is True  # the SDK's import thread turned it back on


def test_a_simulated_run_resumes_as_it_starts(in_project: Path) -> None:
    env = {"ANTHROPIC_API_KEY": "sk-test-not-real"}
    report = probe(
        in_project.parent.parent, "--simulate", "execute", "python-expert", "hi", env=env
    )
    assert report["enabled"] is True and "anthropic" not in report["modules"]  # type: ignore[operator]


def test_the_in_process_entry_point_leaves_the_collector_alone(in_project: Path) -> None:
    import gc

    assert gc.isenabled()
    assert app_module.main(["list", "agents", "--json"]) == 0
    assert gc.isenabled()  # only the console script pauses it


def test_pause_hold_resume_in_a_fresh_process() -> None:
    code = """
import gc
from claude_force.cli import _gc
assert gc.isenabled() and not _gc.paused()
_gc.resume()                      # not paused: nothing happens
assert gc.get_freeze_count() == 0
_gc.pause(); _gc.pause()          # once
assert not gc.isenabled() and _gc.paused()
_gc.hold(True); _gc.startup_over()
assert not gc.isenabled()         # held: a short command
_gc.hold(False); _gc.startup_over()
assert gc.isenabled() and not _gc.paused() and gc.get_freeze_count() > 0
print("ok")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "ok", out.stderr


def test_pause_does_nothing_when_the_collector_is_already_off() -> None:
    code = """
import gc
gc.disable()
from claude_force.cli import _gc
_gc.pause()
assert not _gc.paused()           # someone else turned it off: theirs to turn back on
_gc.resume()
assert not gc.isenabled()
print("ok")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "ok", out.stderr


@pytest.mark.parametrize(
    ("args", "short"),
    [
        (["list", "agents"], True),
        (["list", "workflows", "--json"], True),
        (["--config", "cache", "cache", "stats"], True),  # an option's value is no command
        (["-c", "x.json", "--debug", "analytics", "summary"], True),
        (["--config=x.json", "memory", "stats"], True),
        (["info", "python-expert"], True),
        (["cache", "clear"], False),
        (["analytics", "--json"], False),
        (["execute", "list", "agents"], False),
        (["--help"], False),
        ([], False),
    ],
)
def test_short_commands_are_found_on_the_command_line(args: list[str], short: bool) -> None:
    assert app_module.is_short(args) is short


def test_the_sdk_import_calls_then_in_its_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(preload, "_thread", None)
    seen: list[str] = []
    thread = preload.start_sdk_import(then=lambda: seen.append(threading.current_thread().name))
    thread.join(timeout=60)
    assert seen == ["claude-force-sdk-import"]
    assert preload.start_sdk_import(then=lambda: seen.append("again")) is thread
    assert seen == ["claude-force-sdk-import"]  # once per process


def test_the_cli_hands_the_end_of_start_up_to_the_sdk_import(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    handed: list[object] = []
    monkeypatch.setattr(preload, "start_sdk_import", lambda then=None: handed.append(then))
    assert app_module._preload_sdk(CliState(api_key="k"))
    assert handed == [_gc.resume]


def test_typer_coerces_only_the_values_given(in_project: Path) -> None:
    """typer's per-parameter coercion (a pydantic TypeAdapter each) is built for the options a
    command line gives, not for those left at None."""
    code = """
import json, sys
import typer.core
built = []
real = typer.core.build_runtime_param
def spy(descriptor):
    built.append(str(descriptor.annotation))
    return real(descriptor)
typer.core.build_runtime_param = spy
from claude_force.cli.app import main
code = main(sys.argv[1:])
print(json.dumps({"code": code, "built": built}))
"""

    def run(*args: str) -> dict[str, object]:
        done = subprocess.run(
            [sys.executable, "-c", code, *args],
            capture_output=True,
            text=True,
            cwd=in_project.parent.parent,
            timeout=120,
        )
        out: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
        return out

    # (click makes each command's --help option as it parses; typer coerces those itself)
    bare = run("analytics", "summary", "--json")
    assert bare["code"] == 0
    assert [b for b in bare["built"] if b != "<class 'bool'>"] == []  # type: ignore[attr-defined]
    given = run("analytics", "summary", "--since", "7d", "--json")
    assert given["code"] == 0
    # a text for a str option is that text: no adapter (nor pydantic) for it either
    assert [b for b in given["built"] if b != "<class 'bool'>"] == []  # type: ignore[attr-defined]
    number = run("cache", "list", "--limit", "3", "--json")
    assert number["code"] == 0
    assert [b for b in number["built"] if b != "<class 'bool'>"] == ["<class 'int'>"]  # type: ignore[attr-defined]


def test_a_value_given_is_still_checked(in_project: Path) -> None:
    from typer.testing import CliRunner

    bad = CliRunner().invoke(app_module.app, ["execute", "python-expert", "x", "--max-tokens", "0"])
    assert bad.exit_code == 2 and "greater than or equal to 1" in bad.output
    bad = CliRunner().invoke(app_module.app, ["execute", "python-expert", "x", "--max-tokens", "x"])
    assert bad.exit_code == 2 and "valid integer" in bad.output


def test_pause_and_resume_in_this_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same calls in-process (the fresh-process test above is the one that counts); the
    collector is left as it was found."""
    import atexit
    import gc

    registered: list[object] = []
    monkeypatch.setattr(atexit, "register", registered.append)
    monkeypatch.setattr(_gc, "_paused", False)
    monkeypatch.setattr(_gc, "_held", False)
    assert gc.isenabled()
    try:
        _gc.pause()
        assert not gc.isenabled() and _gc.paused() and registered == [_gc.freeze]
        _gc.hold(True)
        _gc.startup_over()
        assert not gc.isenabled()
        _gc.hold(False)
        _gc.startup_over()
        assert gc.isenabled() and not _gc.paused() and gc.get_freeze_count() > 0
        _gc.freeze()  # what runs at exit
    finally:
        gc.unfreeze()
        gc.enable()
