"""The validated-settings snapshot (config/snapshot.py): read-only commands without pydantic.

Checked by what a process imports and what it prints, never by the clock.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from claude_force.cli.app import main
from claude_force.config import load_project, snapshot
from claude_force.config.snapshot import SNAPSHOT_FILE, MemoryView, MetricsView

READ_ONLY = [["list", "agents"], ["cache", "stats"], ["analytics", "summary"], ["memory", "stats"]]

# Run the console script's entry point; an exit handler prints the modules the command loaded.
PROBE = """
import atexit, json, sys
atexit.register(lambda: sys.stderr.write("PROBE " + json.dumps(sorted(sys.modules)) + "\\n"))
sys.argv = ["claude-force", *sys.argv[1:]]
from claude_force.cli import main
main()
"""


def run(
    root: Path, *args: str, env: dict[str, str] | None = None
) -> tuple[int, str, str, set[str]]:
    """Exit code, stdout, stderr (without the probe's line) and modules of a fresh process."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        capture_output=True,
        text=True,
        cwd=root,
        env={**os.environ, **(env or {})},
        timeout=120,
    )
    lines = done.stderr.splitlines()
    probe = next((x for x in lines if x.startswith("PROBE ")), "PROBE []")
    err = "\n".join(x for x in lines if not x.startswith("PROBE "))
    return done.returncode, done.stdout, err, set(json.loads(probe[len("PROBE ") :]))


def snapshot_file(config: Path) -> Path:
    return config.parent / "state" / SNAPSHOT_FILE


def snap(config: Path) -> dict[str, Any]:
    """The snapshot: its first line (format, digest, …) and the rest, as one object."""
    head, body = snapshot_file(config).read_text().split("\n", 1)
    doc: dict[str, Any] = {**json.loads(body), **json.loads(head)}
    return doc


@pytest.fixture
def used(in_project: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A sample project after one simulated run (cache, memory and metrics files exist) and a
    listing (which checks the agents' files): its snapshot is written."""
    monkeypatch.setenv("CLAUDE_FORCE_LATENCY", "instant")  # (the run, not its latency, matters)
    assert main(["--simulate", "execute", "python-expert", "hello", "--json"]) == 0
    assert main(["list", "agents", "--json"]) == 0
    assert snap(in_project)["files_checked"] is True
    return in_project


@pytest.mark.parametrize("args", READ_ONLY)
def test_a_read_only_command_on_a_matching_snapshot_does_not_import_pydantic(
    used: Path, args: list[str]
) -> None:
    code, _, err, modules = run(used.parent.parent, *args)
    assert code == 0, err
    assert "pydantic" not in modules and "claude_force.config.schema" not in modules
    assert "asyncio" not in modules  # cache stats reads SQLite on this thread (no store)


@pytest.mark.parametrize(
    "args",
    [
        ["analytics", "summary", "--since", "7d", "--agent", "python-expert", "--json"],
        ["--log-format", "text", "memory", "stats", "--agent", "python-expert"],
    ],
)
def test_text_options_given_do_not_import_pydantic_either(used: Path, args: list[str]) -> None:
    code, _, err, modules = run(used.parent.parent, *args)
    assert code == 0, err
    assert "pydantic" not in modules


@pytest.mark.parametrize("args", READ_ONLY)
def test_the_json_output_is_the_same_with_and_without_the_snapshot(
    used: Path, args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    def output() -> Any:
        capsys.readouterr()
        assert main([*args, "--json"]) == 0
        data = json.loads(capsys.readouterr().out)
        if isinstance(data, dict):
            data.pop("since", None), data.pop("until", None)
        return data

    fast = output()
    assert snapshot.read(None) is not None
    snapshot_file(used).unlink()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(snapshot, "read", lambda config: None)
        slow = output()
    assert fast == slow


def test_an_edited_claude_json_invalidates_the_snapshot(used: Path) -> None:
    root = used.parent.parent
    before = snap(used)["digest"]
    used.write_text(used.read_text() + " \n")  # one byte more, same settings
    code, _, err, modules = run(root, "list", "agents", "--json")
    assert code == 0, err
    assert "pydantic" in modules  # validated again
    after = snap(used)["digest"]
    assert after != before  # and written again, for the new bytes
    code, _, err, modules = run(root, "list", "agents", "--json")
    assert code == 0 and "pydantic" not in modules


def test_a_setting_from_the_environment_invalidates_it(used: Path) -> None:
    before = snap(used)["digest"]
    env = {"CLAUDE_FORCE_STATE_DIR": str(used.parent / "state"), "CLAUDE_FORCE_LATENCY": "fast"}
    code, _, err, modules = run(used.parent.parent, "list", "agents", "--json", env=env)
    assert code == 0, err
    assert "pydantic" in modules
    assert snap(used)["digest"] != before


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.replace('"priority": 1', '"priority": "high"', 1), "priority"),
        (lambda t: t.replace("{", "{,", 1), "invalid JSON"),
        (lambda t: t.replace('"agents"', '"agentz"', 1), "missing the 'agents' section"),
    ],
)
def test_an_invalid_claude_json_fails_as_without_a_snapshot(
    used: Path, edit: Any, message: str
) -> None:
    root = used.parent.parent
    used.write_text(edit(used.read_text()))
    with_snapshot = run(root, "analytics", "summary")
    snapshot_file(used).unlink()
    without = run(root, "analytics", "summary")
    assert with_snapshot[0] == without[0]
    assert with_snapshot[2] == without[2] and message in with_snapshot[2]
    assert "Traceback" not in with_snapshot[2]
    if with_snapshot[0] != 0:  # fatal: one error line, exit 2
        assert with_snapshot[0] == 2 and with_snapshot[2].startswith("error: ")
    else:  # a broken agent is set aside with a warning (and the project is not snapshotted)
        assert with_snapshot[2].startswith("warning: ")
    assert not snapshot_file(used).exists()


def test_a_project_that_warns_gets_no_snapshot_and_keeps_warning(in_project: Path) -> None:
    data = json.loads(in_project.read_text())
    data["cache"] = {"ttl_hourz": 3}  # an unknown key: a warning on every load
    in_project.write_text(json.dumps(data))
    (in_project.parent / "state").mkdir()
    for _ in range(2):
        code, _, err, modules = run(in_project.parent.parent, "memory", "stats")
        assert code == 0 and "unknown key 'cache.ttl_hourz'" in err
        assert "pydantic" in modules
    assert not snapshot_file(in_project).exists()


def test_an_agent_file_gone_since_falls_back_to_the_full_load(used: Path) -> None:
    (used.parent / "agents" / "python-expert.md").unlink()
    code, out, err, modules = run(used.parent.parent, "list", "agents", "--json")
    assert code == 0 and "pydantic" in modules
    assert "python-expert" in err and "python-expert" not in [a["name"] for a in json.loads(out)]


def test_no_snapshot_without_a_state_directory(in_project: Path) -> None:
    assert main(["list", "agents", "--json"]) == 0
    assert not (in_project.parent / "state").exists()  # a read-only command creates nothing


def test_the_python_api_writes_none(in_project: Path) -> None:
    (in_project.parent / "state").mkdir()
    load_project(in_project)
    assert not snapshot_file(in_project).exists()


def test_the_snapshot_holds_no_secret(in_project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secrets = {
        "cache_secret": "c" * 40,
        "redis": "redis://user:hunter2-redis@127.0.0.1:6379/0",
        "db": "postgresql://u:hunter3-db@127.0.0.1:5432/x",
        "key": "sk-ant-not-real-but-secret",
    }
    data = json.loads(in_project.read_text())
    data["cache"] = {"secret": secrets["cache_secret"], "redis_url": secrets["redis"]}
    in_project.write_text(json.dumps(data))
    (in_project.parent / "state").mkdir()
    monkeypatch.setenv("ANTHROPIC_API_KEY", secrets["key"])
    monkeypatch.setenv("CLAUDE_FORCE_DATABASE_URL", secrets["db"])
    with snapshot.writing():
        project = load_project(in_project, check_files="stat")
        assert snapshot.record(project, files_checked=True) or snapshot_file(in_project).exists()
    text = snapshot_file(in_project).read_text()
    for secret in secrets.values():
        assert secret not in text
    for part in ("hunter2", "hunter3", "sk-ant"):
        assert part not in text
    doc = snap(in_project)
    assert doc["cache"]["secret_set"] is True and doc["clustered"] is True
    # whether a password-holding variable is set counts, not its value
    key = doc["digest"]
    monkeypatch.setenv("CLAUDE_FORCE_DATABASE_URL", "postgresql://u:other@127.0.0.1:5432/x")
    view = snapshot.read(in_project)
    assert view is not None and view.clustered  # (the clustered commands do not use it)
    monkeypatch.delenv("CLAUDE_FORCE_DATABASE_URL")
    assert snapshot.read(in_project) is None and key


def test_cache_stats_with_a_configured_secret_uses_the_store(in_project: Path) -> None:
    data = json.loads(in_project.read_text())
    data["cache"] = {"secret": "s" * 40}
    in_project.write_text(json.dumps(data))
    assert main(["--simulate", "execute", "python-expert", "hello", "--json"]) == 0
    assert main(["list", "agents", "--json"]) == 0  # (the state directory exists now)
    assert snap(in_project)["cache"]["secret_set"] is True
    code, _, err, modules = run(in_project.parent.parent, "cache", "stats", "--json")
    assert code == 0, err
    assert "asyncio" in modules  # the store checks the secret as it opens


def test_the_views_have_every_field_of_the_settings() -> None:
    from claude_force.memory.settings import MemorySettings
    from claude_force.metrics.settings import MetricsSettings

    assert set(MetricsView.__dataclass_fields__) == set(MetricsSettings.model_fields)
    assert set(MemoryView.__dataclass_fields__) == set(MemorySettings.model_fields)


def test_a_damaged_snapshot_is_ignored_and_rewritten(used: Path) -> None:
    for junk in ("{", "[]", json.dumps({"format": 1, "digest": "x"})):
        snapshot_file(used).write_text(junk)
        assert snapshot.read(used) is None
    assert main(["list", "agents", "--json"]) == 0
    assert snapshot.read(used) is not None


def test_a_tampered_field_type_is_not_used(used: Path) -> None:
    head, body = snapshot_file(used).read_text().split("\n", 1)
    doc = json.loads(body)
    doc["agents"][0]["priority"] = "1"
    snapshot_file(used).write_text(head + "\n" + json.dumps(doc))
    assert snapshot.read(used) is None


def _record(config: Path) -> bool:
    """Load (writing nothing: the Python API) and record explicitly."""
    return snapshot.record(load_project(config, check_files="stat"), files_checked=True)


def test_record_and_read_in_this_process(in_project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = json.loads(in_project.read_text())
    data["models"] = {"prompt_cache_ttl": "1h"}
    data["agents"]["python-expert"].pop("contract")
    in_project.write_text(json.dumps(data))
    (in_project.parent / "state").mkdir()
    assert _record(in_project)
    assert not _record(in_project)  # there already
    view = snapshot.read(in_project.parent)
    assert view is not None and view.prompt_cache_ttl == "1h" and view.agents_usable()
    (in_project.parent / "agents" / "python-expert.md").write_text("")
    assert not view.agents_usable()  # emptied since: list agents loads the project again
    # the state directory from the environment, as the loader reads it
    monkeypatch.setenv("CLAUDE_FORCE_STATE_DIR", f" {in_project.parent / 'elsewhere'} ")
    (in_project.parent / "elsewhere").mkdir()
    assert snapshot.read(in_project) is None
    (in_project.parent / "agents" / "python-expert.md").write_text("# back\n")
    assert _record(in_project)
    view = snapshot.read(in_project)
    assert view is not None and view.state_dir == in_project.parent / "elsewhere"


def test_what_is_not_recorded(in_project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (in_project.parent / "state").mkdir()
    project = load_project(in_project, check_files="stat")
    in_project.write_text(in_project.read_text() + "\n")  # edited after it was validated
    assert not snapshot.record(project, files_checked=True)
    data = json.loads(in_project.read_text())
    data["agents"]["python-expert"]["model"] = "claude-unheard-of-1"
    in_project.write_text(json.dumps(data))
    with pytest.warns(UserWarning, match="claude-unheard-of-1"):
        project = load_project(in_project, check_files="stat")
    assert not snapshot.record(project, files_checked=True)  # it warned: no snapshot

    def fail(*args: object) -> None:
        raise OSError("disk full")

    data["agents"]["python-expert"].pop("model")
    in_project.write_text(json.dumps(data))
    monkeypatch.setattr(os, "replace", fail)
    assert not _record(in_project)  # a write that fails is no error
    assert [p.name for p in (in_project.parent / "state").iterdir()] == []  # nor leaves a file


def test_a_state_path_that_is_not_text_has_no_snapshot(in_project: Path) -> None:
    data = json.loads(in_project.read_text())
    data["paths"] = {"state": 5}
    in_project.write_text(json.dumps(data))
    assert snapshot.read(in_project) is None


def test_a_snapshot_for_another_state_directory_or_without_a_body_is_not_used(used: Path) -> None:
    head, body = snapshot_file(used).read_text().split("\n", 1)
    moved = {**json.loads(head), "state_dir": "/elsewhere"}
    snapshot_file(used).write_text(json.dumps(moved) + "\n" + body)
    assert snapshot.read(used) is None
    snapshot_file(used).write_text(head + "\n[]\n")
    assert snapshot.read(used) is None
    doc = json.loads(body)
    doc["models"] = []
    snapshot_file(used).write_text(head + "\n" + json.dumps(doc))
    assert snapshot.read(used) is None


def test_cache_stats_on_the_snapshot_reports_damage_as_the_store_does(used: Path) -> None:
    root, state = used.parent.parent, used.parent / "state"
    key = state / "cache.key"
    good_key = key.read_bytes()
    key.write_text("not hex\n")
    code, _, err, modules = run(root, "cache", "stats")
    assert code == 1 and "cache key file" in err and "damaged" in err
    assert "asyncio" not in modules and "pydantic" not in modules
    key.write_bytes(good_key)
    (state / "cache.db").write_bytes(b"this is not a database at all" * 10)
    code, _, err, modules = run(root, "cache", "stats")
    assert code == 1 and "damaged" in err and "left as it is" in err
    assert "pydantic" not in modules
    assert (state / "cache.db").read_bytes().startswith(b"this is not")  # left where it is


def test_cache_stats_without_a_cache_yet(used: Path) -> None:
    for name in ("cache.db", "cache.db-wal", "cache.db-shm"):
        (used.parent / "state" / name).unlink(missing_ok=True)
    code, out, err, modules = run(used.parent.parent, "cache", "stats", "--json")
    assert code == 0, err
    assert json.loads(out)["entries"] == 0 and "pydantic" not in modules
    assert not (used.parent / "state" / "cache.db").exists()  # nothing created


# --- review of issue #10's snapshot: inputs a full load reads that the snapshot must not miss ----


def test_a_claude_json_that_is_not_utf8_fails_as_without_a_snapshot(used: Path) -> None:
    root = used.parent.parent
    used.write_bytes(used.read_bytes().replace(b'"agents"', b'"agents", "x": "caf\xe9"', 1))
    with_snapshot = run(root, "list", "agents")
    snapshot_file(used).unlink()
    without = run(root, "list", "agents")
    assert with_snapshot[:3] == without[:3]
    assert without[0] == 2 and "is not UTF-8 text" in without[2]


@pytest.mark.parametrize("args", [["list", "agents", "--json"], ["cache", "stats", "--json"]])
def test_a_database_url_that_the_loader_refuses_is_not_answered_from_the_snapshot(
    in_project: Path, args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    (in_project.parent / "state").mkdir()
    env = {"CLAUDE_FORCE_DATABASE_URL": "postgresql://u:pw@127.0.0.1:5432/x"}
    with pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            mp.setenv(k, v)
        assert _record(in_project) and snap(in_project)["clustered"] is True
        # the same variable, now a URL the cluster settings refuse: a full load exits 2
        mp.setenv("CLAUDE_FORCE_DATABASE_URL", "mysql://u:pw@127.0.0.1:3306/x")
        assert snapshot.read(in_project) is None
        assert main(args) == 2
    assert "must be a PostgreSQL URL" in capsys.readouterr().err


def test_a_fifo_in_place_of_the_snapshot_does_not_block(in_project: Path) -> None:
    import threading

    state = in_project.parent / "state"
    state.mkdir()
    os.mkfifo(state / SNAPSHOT_FILE)
    done: list[object] = []
    worker = threading.Thread(
        target=lambda: done.extend([snapshot.read(in_project), _record(in_project)]), daemon=True
    )
    worker.start()
    worker.join(10)
    if worker.is_alive():  # unblock the reader before failing
        fd = os.open(state / SNAPSHOT_FILE, os.O_WRONLY | os.O_NONBLOCK)
        os.close(fd)
        worker.join(10)
    assert done[:1] == [None] and not worker.is_alive()


# modules a full load imports that decide nothing the snapshot holds: messages, helpers, the
# version (in the digest itself), and the path code that the reader runs again
_NOT_DEFINITIONS = {
    "__init__.py",
    "_lazy.py",
    "_once.py",
    "_version.py",
    "clock.py",
    "errors.py",
    "config/_jsonpos.py",
    "config/_locate.py",
    "config/_paths.py",
}


def test_every_module_of_a_full_load_is_in_the_digest() -> None:
    """A checkout edited in place (limits, validators) makes the snapshot stale: every module the
    loader imports is one of the definitions the digest stats, or decides nothing in it."""
    code = (
        "import json, sys\n"
        "import claude_force.config.project, claude_force.catalog\n"
        "print(json.dumps(sorted({m.__file__ for n, m in list(sys.modules.items())"
        " if n.startswith('claude_force') and getattr(m, '__file__', None)})))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    package = Path(snapshot.__file__).resolve().parent.parent
    loaded = {Path(f).resolve().relative_to(package).as_posix() for f in json.loads(done.stdout)}
    loaded = {f for f in loaded if not f.endswith("/__init__.py")}
    assert loaded - set(snapshot._DEFINITIONS) - _NOT_DEFINITIONS == set()


def test_a_claude_json_replaced_by_non_utf8_after_validation_is_no_error(
    in_project: Path,
) -> None:
    (in_project.parent / "state").mkdir()
    project = load_project(in_project, check_files="stat")
    in_project.write_bytes(b'{"agents": {}, "x": "caf\xe9"}')  # another process, meanwhile
    assert snapshot.record(project, files_checked=True) is False
